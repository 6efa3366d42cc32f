"""`mmx leaderboard` and `mmx correlate` (issue 13, sections 4 and 5): ranks, the models no test separates from
the best, group macros, the refusal of runs on different data, the HTML page in headless Chromium, and
correlations checked by hand and against scipy; on run folders written by the real writer (RecordStore +
aggregate_task) and on real `mmx evaluate` runs of tiny CLIPs on the probe set."""
import json
import re
import shutil

import numpy as np
import pytest
from PIL import Image
from scipy import stats as sps

from mmx.report.correlate import boot_correlations, correlate_runs
from mmx.report.leaderboard import build_leaderboard, unpaired_p
from mmx.report.run import load_run
from mmx.schema import Record, write_json
from cli_runner import cli, run_main
from test_compare import base_records, write_run
from headless import CHROMIUM, embedded_images, rendered_dom, screenshot

LANGS = ["de", "en", "fr", "ja"]
REAL_LANGS = ["ar", "de", "en", "hi", "ja", "ru"]


def worse(records, k=10):
    """The first k right answers of every language turned wrong: a clearly worse model on the same samples."""
    out, left = [], {}
    for r in records:
        v = r.scores["acc"]
        if v == 1.0 and left.setdefault(r.language, k) > 0:
            left[r.language] -= 1
            v = 0.0
        out.append(Record(r.id, r.language, None, None, {"acc": v}))
    return out


def one_flip(records, lang="de"):
    """One right answer in one language turned wrong: a model no test can tell from the original."""
    out, done = [], False
    for r in records:
        v = r.scores["acc"]
        if not done and r.language == lang and v == 1.0:
            v, done = 0.0, True
        out.append(Record(r.id, r.language, None, None, {"acc": v}))
    return out


@pytest.fixture(scope="module")
def syn(tmp_path_factory):
    """A; B identical to A (another spec); D = A with one sample flipped in de; C clearly worse (10 samples per
    language flipped from right to wrong). 60 samples per language."""
    d = tmp_path_factory.mktemp("lb")
    base = base_records(n=60, langs=LANGS)
    return {"base": base, "A": write_run(d / "A", base, spec="fake:A"), "B": write_run(d / "B", base, spec="fake:B"),
            "D": write_run(d / "D", one_flip(base), spec="fake:D"),
            "C": write_run(d / "C", worse(base), spec="fake:C")}


def _acc(records, lang):
    vals = [r.scores["acc"] for r in records if r.language == lang]
    return sum(vals) / len(vals)


def test_ranks_and_the_models_not_different_from_the_best(syn):
    lb = build_leaderboard([load_run(syn[k]) for k in "ABDC"])
    t = lb["tasks"]["syn"]
    assert t["models"] == ["fake:A", "fake:B", "fake:D", "fake:C"] and t["metric"] == "acc"
    de = {e["model"]: e for e in t["languages"]["de"]}
    v = _acc(syn["base"], "de")
    assert de["fake:A"]["value"] == de["fake:B"]["value"] == v
    assert de["fake:D"]["value"] == pytest.approx(v - 1 / 60) and de["fake:C"]["value"] == pytest.approx(v - 10 / 60)
    # Competition ranks: A and B share the first place, D is third, C fourth.
    assert [de[m]["rank"] for m in ("fake:A", "fake:B", "fake:D", "fake:C")] == [1, 1, 3, 4]
    # Against the best (A), exact paired permutation p-values: B equal (1.0), D one differing pair (1.0),
    # C 10 pairs all the same way (2 / 2^10); Holm over the 3 tests multiplies the smallest by 3.
    assert de["fake:B"]["p_vs_best"] == 1.0 and de["fake:D"]["p_vs_best"] == 1.0
    assert de["fake:C"]["p_vs_best"] == pytest.approx(2 ** -9) and de["fake:C"]["p_adj_vs_best"] == pytest.approx(3 * 2 ** -9)
    assert de["fake:B"]["same_as_best"] and de["fake:D"]["same_as_best"] and not de["fake:C"]["same_as_best"]
    assert de["fake:C"]["test"] == "paired (60 samples)"
    # Adjacent ranks: C against D differs in 9 pairs (D's flipped sample is one of C's 10).
    assert de["fake:C"]["p_vs_above"] == pytest.approx(2 ** -8) and not de["fake:C"]["same_as_above"]
    assert de["fake:D"]["same_as_above"]
    for lang in ("en", "fr", "ja"):
        by = {e["model"]: e for e in t["languages"][lang]}
        assert [by[m]["rank"] for m in ("fake:A", "fake:B", "fake:D", "fake:C")] == [1, 1, 1, 4]
        assert not by["fake:C"]["same_as_best"] and by["fake:C"]["value"] == pytest.approx(_acc(syn["base"], lang) - 1 / 6)
    # Overall: the macro average over the 4 languages (hand-computed), its rank, the mean rank, the wins.
    ov = {e["model"]: e for e in t["overall"]}
    macro = sum(_acc(syn["base"], c) for c in LANGS) / 4
    assert ov["fake:A"]["value"] == pytest.approx(macro) and ov["fake:A"]["rank"] == 1
    assert ov["fake:D"]["value"] == pytest.approx(macro - 1 / 240) and ov["fake:D"]["rank"] == 3
    assert ov["fake:C"]["value"] == pytest.approx(macro - 1 / 6) and ov["fake:C"]["rank"] == 4
    assert ov["fake:D"]["mean_rank"] == pytest.approx(1.5) and ov["fake:C"]["mean_rank"] == 4.0
    assert ov["fake:D"]["best_or_tied"] == 4 and ov["fake:C"]["best_or_tied"] == 0
    # Macro by script: Latn = mean of de, en, fr; the CIs are the runs' own (results.json groups).
    latn = {e["model"]: e for e in t["groups"]["script"]["Latn"]["models"]}
    assert t["groups"]["script"]["Latn"]["languages"] == ["de", "en", "fr"]
    assert latn["fake:A"]["value"] == pytest.approx(sum(_acc(syn["base"], c) for c in ("de", "en", "fr")) / 3)
    res = json.loads((syn["C"] / "results.json").read_text())["tasks"]["syn"]["groups"]["script"]["Latn"]
    assert latn["fake:C"]["ci"] == res["macro_ci"]["acc"] and latn["fake:C"]["rank"] == 4
    assert list(t["groups"]) == ["script", "family", "resource_level"]


def test_markdown_cells(syn, capsys):
    code, out, _ = cli(capsys, "leaderboard", syn["A"], syn["D"], syn["C"])
    assert code == 0
    res = {k: json.loads((syn[k] / "results.json").read_text())["tasks"]["syn"]["languages"]["de"] for k in "ADC"}
    cell = lambda k: f"{100 * res[k]['metrics']['acc']:.1f} [{100 * res[k]['ci']['acc'][0]:.1f}, " \
                     f"{100 * res[k]['ci']['acc'][1]:.1f}]"  # noqa: E731
    assert f"| de | German | **{cell('A').split(' ', 1)[0]}** {cell('A').split(' ', 1)[1]} (1) | {cell('D')} (2=) | " \
           f"{cell('C')} (3) |" in out
    assert "| fake:A | fake:D | fake:C |" in out and "| best or = | languages | 4/4 | 4/4 | 0/4 |" in out
    assert "| script | Jpan | ja |" in out


def test_lower_is_better_ranks_the_smaller_error_first(tmp_path):
    def wer_run(name, errors):
        recs = [Record(f"de/{i}", "de", None, None, {"errors": float(e), "words": 10.0}) for i, e in enumerate(errors)]
        return write_run(tmp_path / name, recs, metrics=("wer",), ratios={"wer": ("errors", "words")}, spec=f"f:{name}")
    good, bad = wer_run("good", [1] * 12), wer_run("bad", [3] * 12)
    t = build_leaderboard([load_run(bad), load_run(good)])["tasks"]["syn"]
    assert t["higher_is_better"] is False
    (first, second) = t["languages"]["de"]
    assert (first["model"], first["rank"], first["value"]) == ("f:good", 1, pytest.approx(0.1))
    assert (second["model"], second["rank"], second["value"]) == ("f:bad", 2, pytest.approx(0.3))
    assert second["p_vs_best"] == pytest.approx(2 ** -11)  # 12 pairs, all one way: exact and not second["same_as_best"]


def test_different_data_is_refused_unless_allowed(syn, tmp_path, capsys):
    fewer = write_run(tmp_path / "E", [r for r in syn["base"] if not (r.language == "de" and int(r.id.split("/")[1]) >= 40)],
                      fingerprint="fp2", spec="fake:E")
    code, _, err = cli(capsys, "leaderboard", syn["A"], syn["C"], fewer)
    assert code == 2 and "task syn: the runs were evaluated on different data" in err
    assert "fingerprint fp1:" in err and "fingerprint fp2:" in err and str(fewer) in err and str(syn["C"]) in err
    assert "--allow-different-data" in err
    lb = build_leaderboard([load_run(syn["A"]), load_run(fewer)], allow_different_data=True)
    assert any("different data, ranked anyway" in n for n in lb["notes"])
    de = {e["model"]: e for e in lb["tasks"]["syn"]["languages"]["de"]}
    en = {e["model"]: e for e in lb["tasks"]["syn"]["languages"]["en"]}
    assert de["fake:E"]["test"].startswith("unpaired (") and "40" in de["fake:E"]["test"]
    assert en["fake:E"]["test"] == "paired (60 samples)" and en["fake:E"]["p_vs_best"] == 1.0


def test_the_same_spec_twice_is_said(syn, tmp_path, capsys):
    copy = tmp_path / "again"
    shutil.copytree(syn["A"], copy)
    lb = build_leaderboard([load_run(syn["A"]), load_run(copy)])
    assert lb["tasks"]["syn"]["models"] == ["fake:A (A)", "fake:A (again)"]
    (note,) = lb["notes"]
    assert "the same model spec fake:A is in 2 runs" in note and str(copy) in note
    code, _, err = cli(capsys, "leaderboard", syn["A"], syn["A"])
    assert code == 2 and "given twice" in err
    code, _, err = cli(capsys, "leaderboard", syn["A"], "--task", "nope")
    assert code == 2 and "task(s) nope in none of the runs" in err


def test_unpaired_permutation_p():
    rng = np.random.default_rng(0)
    zeros, ones = np.zeros((20, 1)), np.ones((20, 1))
    # Every random split mixes the groups, so nothing reaches the observed difference of 1: p = 1/(1+B).
    assert unpaired_p(zeros, ones, "mean", 999, rng) == pytest.approx(1 / 1000)
    assert unpaired_p(ones, ones, "mean", 999, rng) == 1.0
    # Against scipy's exact independent-samples permutation test on a small case.
    a = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.5])[:, None]
    b = np.array([0.6, 0.9, 0.7, 0.45, 0.85, 0.3])[:, None]
    exact = sps.permutation_test((a[:, 0], b[:, 0]), lambda x, y: np.mean(y) - np.mean(x), n_resamples=np.inf,
                                 permutation_type="independent").pvalue
    assert unpaired_p(a, b, "mean", 20000, np.random.default_rng(1)) == pytest.approx(exact, abs=0.01)


def _html(syn, tmp_path, capsys):
    out = tmp_path / "lb.html"
    code, _, _ = cli(capsys, "leaderboard", syn["A"], syn["B"], syn["C"], "--format", "html", "--output", out)
    assert code == 0
    return out, out.read_text(encoding="utf-8")


def test_html_is_self_contained(syn, tmp_path, capsys):
    _, html = _html(syn, tmp_path, capsys)
    (img,) = embedded_images(html)  # one heat map for the one task
    assert img.size[0] > 400 and img.size[1] > 150
    assert "<td class=best>" in html and "(3)</td>" in html


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make sysdeps installs it)")
def test_html_renders_in_headless_chromium(syn, capsys, tmp_path):
    path, _ = _html(syn, tmp_path, capsys)
    dom = rendered_dom(path, tmp_path / "profile")
    text = re.sub(r"<[^>]+>", " ", dom)
    for word in ("fake:A", "fake:B", "fake:C", "German", "Japanese", "Macro average by group"):
        assert word in text
    assert dom.count("<img") == 1
    shot = tmp_path / "shot.png"
    screenshot(path, tmp_path / "profile", shot, "1280,1000")
    px = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    # The heat map is drawn: viridis' yellow (A and B, the best) and its dark purple (C, the worst).
    yellow = (px[..., 0] > 220) & (px[..., 1] > 200) & (px[..., 2] < 80)
    purple = (px[..., 0] > 50) & (px[..., 0] < 90) & (px[..., 1] < 20) & (px[..., 2] > 70) & (px[..., 2] < 100)
    assert yellow.sum() > 3000 and purple.sum() > 1500


# --- real runs: tiny random CLIPs on the probe set ------------------------------------------------------

@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """`mmx evaluate` of probe_retrieval (8 items, 6 languages of 5 scripts) with the tiny hf-clip built twice from seed 0 (two folders,
    the same weights), the tiny open_clip, and the first hf-clip on 6 items (other data)."""
    from mmx.models.tiny import build_tiny

    d = tmp_path_factory.mktemp("lb-real")
    specs = {"a": build_tiny("hf-clip", d / "clip_a", seed=0), "b": build_tiny("hf-clip", d / "clip_b", seed=0),
             "o": build_tiny("open_clip", d / "oclip", seed=0)}
    out = {}
    for k, spec in [*specs.items(), ("a6", specs["a"])]:
        assert run_main("evaluate", "--tasks", "probe_retrieval", "--model", spec, "--limit", 6 if k == "a6" else 8,
                        "--languages", ",".join(REAL_LANGS), "--output", d / k, "--no-progress", "--device", "cpu") == 0
        out[k] = d / k
    return out


def test_real_leaderboard(real, capsys, tmp_path):
    code, js, _ = cli(capsys, "leaderboard", real["a"], real["b"], real["o"], "--format", "json")
    assert code == 0
    t = json.loads(js)["tasks"]["probe_retrieval"]
    assert t["models"] == ["hf-clip:clip_a", "hf-clip:clip_b", "open_clip:oclip"] and t["metric"] == "t2i_r1"
    res = {k: json.loads((real[k] / "results.json").read_text())["tasks"]["probe_retrieval"] for k in "abo"}
    assert sorted(t["languages"]) == REAL_LANGS
    for lang, entries in t["languages"].items():
        vals = {lab: res[k]["languages"][lang]["metrics"]["t2i_r1"] for lab, k in zip(t["models"], "abo")}
        by = {e["model"]: e for e in entries}
        for lab, v in vals.items():  # ranks recomputed from results.json: 1 + the number of better models
            assert by[lab]["value"] == v and by[lab]["rank"] == 1 + sum(w > v for w in vals.values())
            assert by[lab]["ci"] == res[dict(zip(t["models"], "abo"))[lab]]["languages"][lang]["ci"]["t2i_r1"]
        # The same weights in two folders: the same scores, never told apart.
        assert by["hf-clip:clip_a"]["rank"] == by["hf-clip:clip_b"]["rank"]
        if by["hf-clip:clip_a"]["rank"] != 1:
            assert by["hf-clip:clip_a"]["same_as_best"] == by["hf-clip:clip_b"]["same_as_best"]
    ov = {e["model"]: e for e in t["overall"]}
    assert ov["open_clip:oclip"]["value"] == res["o"]["overall"]["macro"]["t2i_r1"]
    # The same model on 6 items instead of 8: other data, refused with both fingerprints named.
    code, _, err = cli(capsys, "leaderboard", real["a"], real["a6"])
    assert code == 2 and res["a"]["dataset"]["fingerprint"] in err and str(real["a6"]) in err
    code, out, _ = cli(capsys, "leaderboard", real["a"], real["a6"], "--allow-different-data")
    assert code == 0 and "note: probe_retrieval: runs on different data" in out
    code, out, _ = cli(capsys, "leaderboard", real["a"], real["o"], "--format", "html", "--output", tmp_path / "x.html")
    assert code == 0 and (tmp_path / "x.html").read_text().count("data:image/png;base64,") == 1


def test_real_correlate_matches_scipy(real, capsys):
    code, js, _ = cli(capsys, "correlate", real["a"], real["o"], "--proxy", "probe_retrieval:t2i_r1",
                      "--target", "probe_retrieval:t2i_r5", "--format", "json")
    assert code == 0
    r = json.loads(js)
    x, y = [], []
    for k in "ao":
        langs = json.loads((real[k] / "results.json").read_text())["tasks"]["probe_retrieval"]["languages"]
        for c in sorted(langs):
            x.append(langs[c]["metrics"]["t2i_r1"])
            y.append(langs[c]["metrics"]["t2i_r5"])
    assert [p["proxy"] for p in r["points"]] == x and [p["target"] for p in r["points"]] == y
    assert r["all"]["n"] == 2 * len(REAL_LANGS) and np.ptp(x) > 0 and np.ptp(y) > 0  # (seeded models)
    assert r["all"]["pearson"] == pytest.approx(sps.pearsonr(x, y).statistic)
    assert r["all"]["spearman"] == pytest.approx(sps.spearmanr(x, y).statistic)


# --- correlate on hand-made values --------------------------------------------------------------------------

def _scores_run(path, task, values, spec):
    """One sample per language with the given score: the language's value is exactly that score."""
    return write_run(path, [Record(f"{c}/0", c, None, None, {"acc": v}) for c, v in values.items()], task=task,
                     spec=spec)


@pytest.fixture(scope="module")
def corr_runs(tmp_path_factory):
    """Model A: proxy (0.1, 0.2, 0.3) and target (0.1, 0.3, 0.2) over de, en, fr, in two runs joined by spec.
    Model B: proxy (0.4, 0.5, 0.6), target (0.4, 0.9, 0.5), both tasks in one run. Model C: proxy only."""
    d = tmp_path_factory.mktemp("corr")
    a_p = _scores_run(d / "a_proxy", "align", {"de": 0.1, "en": 0.2, "fr": 0.3}, "m:A")
    a_t = _scores_run(d / "a_target", "ret", {"de": 0.1, "en": 0.3, "fr": 0.2}, "m:A")
    b = _scores_run(d / "b", "align", {"de": 0.4, "en": 0.5, "fr": 0.6}, "m:B")
    b_t = _scores_run(d / "b_t", "ret", {"de": 0.4, "en": 0.9, "fr": 0.5}, "m:B")
    res = json.loads((b / "results.json").read_text())
    res["tasks"]["ret"] = json.loads((b_t / "results.json").read_text())["tasks"]["ret"]
    write_json(b / "results.json", res)
    shutil.copy(b_t / "samples" / "ret.jsonl", b / "samples" / "ret.jsonl")
    c = _scores_run(d / "c", "align", {"de": 0.9, "en": 0.1, "fr": 0.5}, "m:C")
    return [a_p, a_t, b, c]


def test_correlate_hand_checked(corr_runs, capsys):
    r = correlate_runs([load_run(p) for p in corr_runs], "align:acc", "ret")
    assert r["target"]["metric"] == "acc" and len(r["points"]) == 6
    assert r["notes"] == ["model m:C: only the proxy (align) was found, left out"]
    a, b = r["per_model"]["m:A"], r["per_model"]["m:B"]
    # A: deviations (-1, 0, 1) and (-1, 1, 0) tenths: r = 1 / sqrt(2 * 2) = 0.5; the ranks are the values: rho 0.5.
    assert a["pearson"] == pytest.approx(0.5) and a["spearman"] == pytest.approx(0.5) and a["n"] == 3
    # B: target ranks (1, 3, 2) again: rho 0.5; deviations (-1, 0, 1) and (-2, 3, -1) tenths: r = 1 / sqrt(2 * 14).
    assert b["spearman"] == pytest.approx(0.5) and b["pearson"] == pytest.approx(1 / np.sqrt(28))
    # All 6 points: x ranks 1..6, y ranks (1, 3, 2, 4, 6, 5): rho = 1 - 6 * 4 / (6 * 35) = 31/35.
    assert r["all"]["spearman"] == pytest.approx(31 / 35)
    x, y = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0.1, 0.3, 0.2, 0.4, 0.9, 0.5]
    assert r["all"]["pearson"] == pytest.approx(sps.pearsonr(x, y).statistic)
    assert r["all"]["pearson_p"] == pytest.approx(sps.pearsonr(x, y).pvalue)
    lo, hi = r["all"]["pearson_ci"]
    assert lo <= r["all"]["pearson"] <= hi <= 1.0 and lo < hi
    # Seeded: the same CI again; another seed, another CI.
    assert correlate_runs([load_run(p) for p in corr_runs], "align:acc", "ret")["all"]["pearson_ci"] == [lo, hi]
    assert correlate_runs([load_run(p) for p in corr_runs], "align:acc", "ret", seed=5)["all"]["pearson_ci"] != [lo, hi]
    code, out, _ = cli(capsys, "correlate", *corr_runs, "--proxy", "align:acc", "--target", "ret:acc")
    assert code == 0 and "| m:A | 3 | +0.500 [" in out and "| all models | 6 |" in out
    assert "| m:B | en | 50.0 | 90.0 |" in out
    code, out, _ = cli(capsys, "correlate", *corr_runs, "--proxy", "align", "--target", "ret", "--languages", "en,fr")
    assert code == 0 and "| all models | 4 |" in out and "| m:A | 2 | - |" in out  # 2 points: no correlation


def test_bootstrap_resamples_are_scipys_correlations():
    x, y = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]), np.array([0.1, 0.3, 0.2, 0.4, 0.9, 0.5])
    bp, bs = boot_correlations(x, y, 50, np.random.default_rng(7))
    idx = np.random.default_rng(7).integers(0, 6, size=(50, 6))
    for k in range(50):
        xs, ys = x[idx[k]], y[idx[k]]
        if np.ptp(xs) == 0 or np.ptp(ys) == 0:
            assert np.isnan(bp[k])
            continue
        assert bp[k] == pytest.approx(sps.pearsonr(xs, ys).statistic)
        assert bs[k] == pytest.approx(sps.spearmanr(xs, ys).statistic)


def test_correlate_bad_inputs(corr_runs, capsys):
    code, _, err = cli(capsys, "correlate", *corr_runs, "--proxy", "nope:acc", "--target", "ret")
    assert code == 2 and "no run has task nope" in err and "align" in err
    code, _, err = cli(capsys, "correlate", *corr_runs, "--proxy", "align:bleu", "--target", "ret")
    assert code == 2 and "has no metric 'bleu'" in err
    code, _, err = cli(capsys, "correlate", corr_runs[0], corr_runs[0], "--proxy", "align", "--target", "ret")
    assert code == 2 and "two runs of model m:A carry task align" in err
    code, _, err = cli(capsys, "correlate", *corr_runs, "--proxy", "align", "--target", "ret", "--languages", "de")
    assert code == 2 and "only 2 (model, language) point(s)" in err


def test_runs_without_samples_are_ranked_untested(syn, tmp_path):
    bare = tmp_path / "C_bare"
    shutil.copytree(syn["C"], bare)
    shutil.rmtree(bare / "samples")
    lb = build_leaderboard([load_run(syn["A"]), load_run(bare)])
    (note,) = lb["notes"]
    assert note.startswith("syn: no significance tests") and "samples file missing" in note
    first, second = lb["tasks"]["syn"]["languages"]["de"]
    assert (first["model"], first["rank"], second["model"], second["rank"]) == ("fake:A", 1, "fake:C", 2)
    assert "p_vs_best" not in second and "same_as_best" not in second


def test_a_model_whose_tasks_ran_separately_keeps_one_label(syn, tmp_path):
    other = write_run(tmp_path / "A_other", base_records(n=10, langs=["de"]), task="other", spec="fake:A")
    lb = build_leaderboard([load_run(syn["A"]), load_run(other), load_run(syn["C"])])
    assert lb["notes"] == ["other: not in the run(s) of fake:C"]  # fake:A has it, in its other run
    assert lb["tasks"]["syn"]["models"] == ["fake:A", "fake:C"] and lb["tasks"]["other"]["models"] == ["fake:A"]
    assert lb["tasks"]["other"]["languages"]["de"][0]["rank"] == 1
