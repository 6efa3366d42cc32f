"""`mmx compare`: paired per-language tests on run directories written by the real writer (RecordStore +
aggregate_task, or `mmx evaluate` itself), a planted drop, noise, and bad inputs."""
import json
import random
import re
import shutil
from pathlib import Path

import pytest

from mmx.errors import MmxError
from mmx.report.aggregate import aggregate_task
from mmx.report.compare import compare_runs
from mmx.report.run import load_run
from mmx.schema import SCHEMA_VERSION, Record, RecordStore, write_json
from cli_runner import cli, run_main

LANGS = ["ar", "de", "el", "en", "es", "fr", "hi", "ja", "ko", "ru", "sw", "th", "tr", "uk", "zh"]




def write_run(out: Path, records: list[Record], task="syn", metrics=("acc",), ratios=None, fingerprint="fp1",
              random_weights=False, spec="fake:model") -> Path:
    """A run directory as the runner writes it: samples through RecordStore, aggregates through aggregate_task."""
    store = RecordStore(out / "samples" / f"{task}.jsonl")
    store.write(records)
    store.close()
    recs = store.sorted_records()
    langs = sorted({r.language for r in recs})
    results = {
        "schema_version": SCHEMA_VERSION,
        "run": {"suite": None, "seed": 1234, "limit": None, "device": "cpu", "code_version": {"mmx": "0.1.0"}},
        "model": {"spec": spec, "random_weights": random_weights},
        "tasks": {task: {"kind": "synthetic", "description": "synthetic scores", "metrics": list(metrics),
                         "primary_metric": metrics[0], "samples_file": f"samples/{task}.jsonl",
                         "dataset": {"loader": "none", "source": "synthetic", "fingerprint": fingerprint,
                                     "languages": langs},
                         "n_records": len(recs), **aggregate_task(recs, list(metrics), ratios)}},
    }
    write_json(out / "results.json", results)
    return out


def base_records(n=150, seed=0, langs=LANGS):
    rnd = random.Random(seed)
    p = {lang: 0.4 + 0.4 * k / len(langs) for k, lang in enumerate(langs)}
    return [Record(f"{lang}/{i}", lang, None, None, {"acc": float(rnd.random() < p[lang])})
            for lang in langs for i in range(n)]


def perturb(records, seed=1, noise=0.2, drop_lang=None, drop=0.4):
    """Noise: in every language a random 20% of the samples are drawn again at the language's accuracy
    (a retrained model, as good as before, right on other samples). Plus a planted drop in one language."""
    rnd = random.Random(seed)
    acc = {lang: sum(r.scores["acc"] for r in records if r.language == lang) / sum(r.language == lang for r in records)
           for lang in {r.language for r in records}}
    out = []
    for r in records:
        v = float(rnd.random() < acc[r.language]) if rnd.random() < noise else r.scores["acc"]
        if r.language == drop_lang and v == 1.0 and rnd.random() < drop:
            v = 0.0
        out.append(Record(r.id, r.language, None, None, {"acc": v}))
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("runs")
    base = base_records()
    return {"base": write_run(d / "base", base), "noise": write_run(d / "noise", perturb(base)),
            "drop": write_run(d / "drop", perturb(base, drop_lang="sw"))}


def test_planted_drop_is_flagged_and_named(runs, capsys):
    res = compare_runs(load_run(runs["base"]), load_run(runs["drop"]))
    assert res["regressions"] == ["syn/sw"]
    sw = next(c for c in res["changes"] if c["language"] == "sw")
    assert sw["delta"] < -0.15 and sw["ci"][1] < 0 and sw["p_adj"] < 0.05 and sw["n"] == 150
    code, out, _ = cli(capsys, "compare", runs["base"], runs["drop"])
    assert code == 1
    last = out.strip().splitlines()[-1]
    assert last.startswith("FAIL") and "syn/sw" in last and "syn/de" not in last
    assert "REGRESSION" in out


def test_noise_is_not_flagged(runs, capsys):
    res = compare_runs(load_run(runs["base"]), load_run(runs["noise"]))
    assert res["regressions"] == []
    assert any(c["delta"] != 0 for c in res["changes"])  # the noise did change the scores
    code, out, _ = cli(capsys, "compare", runs["base"], runs["noise"], "--format", "md")
    assert code == 0 and out.strip().splitlines()[-1].startswith("PASS")
    assert "| syn | sw | acc x100 |" in out


def test_json_format_and_threshold(runs, capsys):
    code, out, err = cli(capsys, "compare", runs["base"], runs["drop"], "--format", "json")
    assert code == 1 and "FAIL" in err
    res = json.loads(out)
    assert res["regressions"] == ["syn/sw"] and len(res["changes"]) == len(LANGS)
    # A drop smaller than the threshold does not fail the gate, significant or not.
    code, out, _ = cli(capsys, "compare", runs["base"], runs["drop"], "--threshold", 0.5)
    assert code == 0 and "PASS" in out.splitlines()[-1]


def test_identical_runs_p_is_one(runs):
    res = compare_runs(load_run(runs["base"]), load_run(runs["base"]))
    assert all(c["delta"] == 0 and c["p"] == 1.0 for c in res["changes"]) and not res["regressions"]


def test_lower_is_better_metric_direction(tmp_path):
    # Corpus WER (a ratio metric): errors going UP in de is the regression; going down in fr is not.
    rnd = random.Random(3)
    base, new = [], []
    for lang in ("de", "en", "fr"):
        for i in range(200):
            words = rnd.randint(5, 15)
            err = sum(rnd.random() < 0.2 for _ in range(words))
            err2 = {"de": min(words, err + rnd.randint(1, 3)), "fr": max(0, err - rnd.randint(1, 2))}.get(lang, err)
            base.append(Record(f"{lang}/{i}", lang, None, None, {"errors": float(err), "words": float(words)}))
            new.append(Record(f"{lang}/{i}", lang, None, None, {"errors": float(err2), "words": float(words)}))
    ratios = {"wer": ("errors", "words")}
    b = write_run(tmp_path / "b", base, metrics=("wer",), ratios=ratios)
    n = write_run(tmp_path / "n", new, metrics=("wer",), ratios=ratios)
    defs = json.loads((b / "results.json").read_text())["tasks"]["syn"]["metric_defs"]
    assert defs["wer"]["higher_is_better"] is False
    res = compare_runs(load_run(b), load_run(n))
    by = {c["language"]: c for c in res["changes"]}
    assert by["de"]["delta"] > 0.05 and by["de"]["regression"]
    assert by["fr"]["delta"] < 0 and not by["fr"]["regression"] and by["fr"]["gain"] > 0
    assert res["regressions"] == ["syn/de"]


def test_bad_inputs(runs, tmp_path, capsys):
    base = base_records(n=40)
    a = write_run(tmp_path / "a", base)
    # A results file from another task.
    other = write_run(tmp_path / "other", base, task="other_task")
    with pytest.raises(MmxError, match="share no task.*syn.*other_task"):
        compare_runs(load_run(a), load_run(other))
    # Different data fingerprints: refused unless told, and the message says what differs and how to proceed.
    fewer = write_run(tmp_path / "fewer", [r for r in base if r.language != "de"], fingerprint="fp2")
    code, _, err = cli(capsys, "compare", a, fewer)
    assert code == 2 and "different data" in err and "--allow-different-data" in err and "fp1 vs fp2" in err
    # A missing language stays an error even when different data is allowed: it would pass the gate unseen.
    code, _, err = cli(capsys, "compare", a, fewer, "--allow-different-data")
    assert code == 2 and "no results for language(s) de" in err
    res = compare_runs(load_run(a), load_run(fewer), allow_different_data=True, languages=["fr", "ja"])
    assert [c["language"] for c in res["changes"]] == ["fr", "ja"]
    # Samples present in only one run: reported, and the comparison uses the shared ones.
    partial = write_run(tmp_path / "partial", [r for r in base if r.id not in ("fr/0", "fr/1")])
    res = compare_runs(load_run(a), load_run(partial))
    assert any("2 sample(s) only in BASELINE" in n and "fr/0" in n for n in res["notes"])
    assert next(c for c in res["changes"] if c["language"] == "fr")["n"] == 38
    # A truncated samples file: named, with the line and the fix.
    trunc = tmp_path / "trunc"
    shutil.copytree(a, trunc)
    p = trunc / "samples" / "syn.jsonl"
    p.write_bytes(p.read_bytes()[:-20])
    code, _, err = cli(capsys, "compare", a, trunc)
    assert code == 2 and "syn.jsonl:600: truncated or unreadable record" in err and "rerun `mmx evaluate`" in err
    # Unknown metric, no results.json.
    code, _, err = cli(capsys, "compare", a, a, "--metric", "bleu")
    assert code == 2 and "no task of the runs has metric 'bleu'" in err and "acc" in err
    code, _, err = cli(capsys, "compare", a, tmp_path / "nowhere")
    assert code == 2 and "no results.json" in err


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory):
    """The real `mmx evaluate` with the tiny random-weight CLIP on the probe set, and a copy whose German
    text->image samples lost every hit at 10."""
    from mmx.models.tiny import build_tiny

    d = tmp_path_factory.mktemp("real")
    spec = build_tiny("hf-clip", d / "tiny", seed=0)
    assert run_main("evaluate", "--suite", "vision", "--model", spec, "--output", d / "base", "--no-progress") == 0
    shutil.copytree(d / "base", d / "new")
    p = d / "new" / "samples" / "probe_retrieval.jsonl"
    rows = [json.loads(x) for x in p.read_text().splitlines()]
    for r in rows:
        if r["language"] == "de" and "t2i_r10" in r["scores"]:
            r["scores"]["t2i_r10"] = 0.0
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return d / "base", d / "new"


def test_real_run_carries_cis_and_gate_catches_planted_drop(real_runs, capsys):
    base, new = real_runs
    task = json.loads((base / "results.json").read_text())["tasks"]["probe_retrieval"]
    assert {k: task["metric_defs"]["t2i_r1"][k] for k in ("type", "higher_is_better", "scale")} == \
        {"type": "mean", "higher_is_better": True, "scale": 100.0}
    de = task["languages"]["de"]
    lo, hi = de["ci"]["t2i_r10"]
    assert lo <= de["metrics"]["t2i_r10"] <= hi and task["bootstrap"]["n_resamples"] == 1000
    assert set(task["groups"]) == {"script", "family", "resource_level"} and "Cyrl" in task["groups"]["script"]
    code, out, _ = cli(capsys, "compare", base, new, "--metric", "t2i_r10")
    assert code == 1 and "probe_retrieval/de" in out.strip().splitlines()[-1]
    code, out, _ = cli(capsys, "compare", base, base)
    assert code == 0 and "PASS" in out.strip().splitlines()[-1]


def points_run(out: Path, points: int, n=8):
    """A ratio metric of exactly points/100 (every sum exact in binary): 8 samples, each points/8 over 12.5."""
    recs = [Record(f"de/{i}", "de", None, None, {"num": points / 8, "den": 12.5}) for i in range(n)]
    return write_run(out, recs, metrics=("score",), ratios={"score": ("num", "den")})


@pytest.mark.parametrize("before, after", [(50, 49), (47, 46)])
def test_a_drop_of_exactly_the_threshold_does_not_fail(tmp_path, capsys, before, after):
    """The issue's two examples: in floats 0.49 - 0.50 is -0.010000000000000009 and 0.46 - 0.47 is
    -0.009999999999999953, so `drop > threshold` failed the first (FAIL, exit 1) and passed the second.
    Both are a drop of exactly the threshold, which passes ("a drop larger than this fails"); all 8 pairs
    dropped, so the change itself is significant (exact p = 2^-7)."""
    b, n = points_run(tmp_path / "b", before), points_run(tmp_path / "n", after)
    res = compare_runs(load_run(b), load_run(n), threshold=0.01)
    (c,) = res["changes"]
    assert c["baseline"] == before / 100 and c["new"] == after / 100
    assert c["delta"] == after / 100 - before / 100 and c["p"] == pytest.approx(2 ** -7)
    assert not c["regression"] and res["regressions"] == []
    code, out, _ = cli(capsys, "compare", b, n, "--threshold", 0.01)
    assert code == 0 and out.strip().splitlines()[-1].startswith("PASS")
    # A drop of twice the threshold still fails.
    n2 = points_run(tmp_path / "n2", before - 2)
    assert compare_runs(load_run(b), load_run(n2), threshold=0.01)["regressions"] == ["syn/de"]


def test_few_samples_say_what_the_gate_can_detect(tmp_path, capsys):
    """15 languages of 8 samples; NEW loses all 8 in sw. With Holm over 15 tests the exact permutation
    test needs 15 * 2^(1-k) < 0.05, k >= 10 changed pairs: sw cannot fail, and the output says so."""
    base = [Record(f"{x}/{i}", x, None, None, {"acc": 1.0}) for x in LANGS for i in range(8)]
    new = [Record(r.id, r.language, None, None, {"acc": 0.0 if r.language == "sw" else 1.0}) for r in base]
    b, n = write_run(tmp_path / "b", base), write_run(tmp_path / "n", new)
    res = compare_runs(load_run(b), load_run(n))
    sw = next(c for c in res["changes"] if c["language"] == "sw")
    assert sw["delta"] == -1.0 and sw["p"] == pytest.approx(2 ** -7) and not sw["regression"]
    assert sw["min_pairs"] == 10 and sw["mde"] == pytest.approx(10 / 8)
    assert any(w.startswith("syn/sw: only 8 paired samples") and "cannot fail here at all" in w
               for w in res["warnings"])
    assert len(res["warnings"]) == len(LANGS)
    code, out, _ = cli(capsys, "compare", b, n, "--format", "md")
    assert code == 0 and "WARNING: syn/sw: only 8 paired samples" in out and "min. detectable" in out
    assert "| syn | sw | acc x100 | 8 | 100.0 | 0.0 | -100.0 |" in out and "| never |" in out
    code, out, _ = cli(capsys, "compare", b, n, "--format", "json")
    assert json.loads(out)["changes"][0]["min_pairs"] == 10
    # One language of 200 samples, one test: k >= 6, so the smallest detectable drop is 6/200 = 3 points,
    # above a 1-point threshold: warned. At a 5-point threshold: no warning.
    big = [Record(f"de/{i}", "de", None, None, {"acc": float(i % 2)}) for i in range(200)]
    b1 = write_run(tmp_path / "b1", big)
    res = compare_runs(load_run(b1), load_run(b1))
    (c,) = res["changes"]
    assert c["min_pairs"] == 6 and c["mde"] == pytest.approx(0.03)
    assert res["warnings"] == ["syn/de: with 200 paired samples the smallest drop the gate can detect is 3.0 "
                               "(6 samples), above the threshold 1.0: a drop of the threshold's size there "
                               "would pass unseen"]
    assert compare_runs(load_run(b1), load_run(b1), threshold=0.05)["warnings"] == []


def test_zero_paired_samples_is_an_error_not_a_pass(tmp_path, capsys):
    base = base_records(n=20, langs=["de", "en"])
    b = write_run(tmp_path / "b", base)
    other = write_run(tmp_path / "o", [Record(r.id.replace("/", "/x"), r.language, None, None, r.scores)
                                       for r in base], fingerprint="fp2")
    code, out, err = cli(capsys, "compare", b, other, "--allow-different-data")
    assert code == 2 and "PASS" not in out and "no paired samples to compare" in err
    with pytest.raises(MmxError, match="no paired samples.*language\\(s\\) de"):
        compare_runs(load_run(b), load_run(other), allow_different_data=True, languages=["de"])


def test_false_alarm_rate_on_noise(tmp_path):
    """20 noisy retrains of an equally good model: the gate (Holm over 15 languages) rarely fires."""
    base = base_records(n=100)
    b = load_run(write_run(tmp_path / "b", base))
    alarms = sum(bool(compare_runs(b, load_run(write_run(tmp_path / f"n{s}", perturb(base, seed=s))))["regressions"])
                 for s in range(20))
    assert alarms <= 2


def test_example_workflow_uses_real_options(capsys):
    import yaml

    wf = yaml.safe_load((Path(__file__).resolve().parents[1] / "examples" / "github-actions-gate.yml").read_text())
    runs = " ".join(step.get("run", "") for step in wf["jobs"]["gate"]["steps"])
    for cmd in ("evaluate", "compare", "report"):
        assert f"mmx {cmd}" in runs
        _, helptext, _ = cli(capsys, cmd, "--help")
        used = re.findall(rf"mmx {cmd}\b[^\n]*(?:\\\n[^\n]*)*", runs)
        for flag in set(re.findall(r"--[a-z][a-z-]+", " ".join(used))):
            assert flag in helptext, f"{flag} of `mmx {cmd}` in the example workflow is not an option"
