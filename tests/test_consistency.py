"""Cross-lingual consistency (mmx/report/consistency.py): hand-worked 2x2 tables, degenerate cases, and a
HumanEval-XL run through the CLI whose fake server solves known items in each language."""
import json
import math

import pytest
from scipy.stats import binomtest

from mmx.report.aggregate import aggregate_task
from mmx.report.consistency import MAX_LISTED, consistency, kappa
from mmx.schema import Record

from cli_runner import cli
from code_server import CompletionServer


# --- the oracle: one pair of languages at a time, by the formulas (consistency_of does all pairs at once) ---

def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided p-value of McNemar's exact test on the discordant counts b and c: with p = 1/2 the binomial
    is symmetric, so scipy.stats.binomtest(b, b + c).pvalue is twice the smaller tail, capped at 1."""
    if b + c == 0:
        return 1.0
    from scipy.stats import binom

    return float(min(1.0, 2.0 * binom.cdf(min(b, c), b + c, 0.5)))


def pair(a: dict[str, bool], b: dict[str, bool], max_listed: int = MAX_LISTED) -> dict:
    """The comparison of two languages' outcomes over the items both have."""
    shared = sorted(a.keys() & b.keys())
    n11 = sum(a[i] and b[i] for i in shared)
    only_a = [i for i in shared if a[i] and not b[i]]
    only_b = [i for i in shared if b[i] and not a[i]]
    n00 = len(shared) - n11 - len(only_a) - len(only_b)
    return {"shared": len(shared), "only_a": len(only_a), "only_b": len(only_b),
            "agreement": (n11 + n00) / len(shared) if shared else None,
            "kappa": kappa(n11, len(only_a), len(only_b), n00),
            "p": mcnemar_exact(len(only_a), len(only_b)) if shared else None,
            "listed_a": only_a[:max_listed], "listed_b": only_b[:max_listed]}


def _recs(solved: dict[str, set[int]], n_items: int, metric: str = "acc") -> list[Record]:
    return [Record(id=f"{lang}/q{i}", language=lang, prediction="", reference="",
                   scores={metric: 1.0 if i in s else 0.0}, extra={})
            for lang, s in solved.items() for i in range(n_items)]


def test_kappa_and_mcnemar_by_hand():
    # Wikipedia's Cohen's kappa example: 50 items, yes/yes 20, A only 5, B only 10, no/no 15.
    # p_o = 35/50 = 0.7; p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5; kappa = (0.7 - 0.5) / 0.5 = 0.4.
    assert kappa(20, 5, 10, 15) == pytest.approx(0.4)
    # McNemar exact: 5 of 15 discordant one way: 2 * P(X <= 5 | 15, 1/2) = 2 * 4944 / 32768
    assert mcnemar_exact(5, 10) == pytest.approx(2 * 4944 / 32768) == pytest.approx(binomtest(5, 15).pvalue)
    assert mcnemar_exact(10, 5) == pytest.approx(2 * 4944 / 32768)  # symmetric
    # n11=4, n10=3, n01=1, n00=2: p_o = 0.6, p_e = 0.7*0.5 + 0.3*0.5 = 0.5, kappa = 0.2; p = 2 * 5/16
    assert kappa(4, 3, 1, 2) == pytest.approx(0.2)
    assert mcnemar_exact(3, 1) == pytest.approx(0.625) == pytest.approx(binomtest(3, 4).pvalue)
    # the closed form (twice the smaller tail) is binomtest's two-sided p-value for every small table
    assert all(mcnemar_exact(b, c) == pytest.approx(binomtest(b, b + c).pvalue, abs=1e-12)
               for b in range(25) for c in range(25) if b + c)
    # perfect agreement with variation: kappa 1; no discordant pair: p = 1
    assert kappa(3, 0, 0, 2) == pytest.approx(1.0) and mcnemar_exact(0, 0) == 1.0


def test_degenerate_tables():
    assert kappa(5, 0, 0, 0) is None  # both all solved: no variation, kappa undefined
    assert kappa(0, 0, 0, 5) is None  # both all failed
    assert kappa(0, 4, 0, 0) is None  # A all solved, B all failed: both constant
    assert kappa(0, 0, 0, 0) is None  # no item
    assert kappa(0, 5, 0, 5) == pytest.approx(0.0)  # one constant: p_o = p_e = 0.5
    assert mcnemar_exact(4, 0) == pytest.approx(2 / 16)
    d = pair({"x": True, "y": True}, {"x": False, "y": False})
    assert (d["agreement"], d["kappa"], d["only_a"], d["only_b"]) == (0.0, None, 2, 0)
    none = pair({"x": True}, {"z": True})
    assert none["shared"] == 0 and none["agreement"] is None and none["p"] is None


def test_matrices_from_records():
    # q0..q9 in three languages; en solves 0-6, de 0-3 and 7, sw nothing.
    recs = _recs({"en": set(range(7)), "de": {0, 1, 2, 3, 7}, "sw": set()}, 10)
    c = consistency(recs, ["acc"])["acc"]
    assert c["languages"] == ["de", "en", "sw"] and c["items"] == {"de": 10, "en": 10, "sw": 10}
    # en vs de: n11 = 4 (0-3), en only = 3 (4-6), de only = 1 (7), n00 = 2 (8, 9): the 0.2 / 0.625 table above
    assert (c["solved_only"]["en"]["de"], c["solved_only"]["de"]["en"]) == (3, 1)
    assert c["kappa"]["en"]["de"] == c["kappa"]["de"]["en"] == pytest.approx(0.2)
    assert c["mcnemar_p"]["en"]["de"] == pytest.approx(0.625)
    assert c["agreement"]["en"]["de"] == pytest.approx(0.6)
    assert c["differing_items"]["en"]["de"] == ["q4", "q5", "q6"] and c["differing_items"]["de"]["en"] == ["q7"]
    # sw is constant (all failed), en is not: kappa 0; 7 discordant one way: p = 2 / 128
    assert c["kappa"]["en"]["sw"] == pytest.approx(0.0) and c["mcnemar_p"]["en"]["sw"] == pytest.approx(2 / 128)
    assert c["shared_items"]["sw"]["sw"] == 10 and c["kappa"]["sw"]["sw"] is None  # constant against itself
    assert c["kappa"]["en"]["en"] == pytest.approx(1.0) and c["mcnemar_p"]["en"]["en"] == 1.0
    assert c["max_listed"] == 20 and c["ambiguous"] == {}
    assert len(consistency(recs, ["acc"], max_listed=2)["acc"]["differing_items"]["en"]["de"]) == 2


def test_all_pairs_at_once_equal_each_pair_alone():
    import random

    from mmx.report.consistency import consistency_of

    rnd = random.Random(3)  # 5 languages, 40 items, some missing in some languages
    by_lang = {lang: {f"i{k}": rnd.random() < 0.5 for k in range(40) if rnd.random() < 0.85}
               for lang in ("ar", "de", "en", "sw", "zh")}
    c = consistency_of(by_lang, max_listed=100)
    for a in by_lang:
        for b in by_lang:
            d = pair(by_lang[a], by_lang[b], max_listed=100)
            assert (c["shared_items"][a][b], c["solved_only"][a][b], c["solved_only"][b][a]) == \
                (d["shared"], d["only_a"], d["only_b"])
            assert c["kappa"][a][b] == pytest.approx(d["kappa"]) and c["mcnemar_p"][a][b] == pytest.approx(d["p"])
            assert c["agreement"][a][b] == pytest.approx(d["agreement"])
            if a != b:
                assert sorted(c["differing_items"][a][b]) == sorted(d["listed_a"])


def test_which_metrics_and_items():
    recs = _recs({"en": {0, 1}, "de": {0}}, 3)
    soft = [Record(id=r.id, language=r.language, prediction="", reference="", scores={"vqa_acc": 0.3}, extra={})
            for r in recs]
    assert consistency(soft, ["vqa_acc"]) == {}  # soft scores are not thresholded
    assert consistency(_recs({"en": {0}}, 3), ["acc"]) == {}  # one language: nothing to compare
    # not parallel: no item in two languages
    assert consistency([Record(id="en/a", language="en", prediction="", reference="", scores={"acc": 1.0}, extra={}),
                        Record(id="de/b", language="de", prediction="", reference="", scores={"acc": 0.0}, extra={})],
                       ["acc"]) == {}
    # two samples of one item in a language (extra["item"]): left out there, counted
    dup = recs + [Record(id="de/q0b", language="de", prediction="", reference="", scores={"acc": 0.0},
                         extra={"item": "q0"})]
    c = consistency(dup, ["acc"])["acc"]
    assert c["ambiguous"] == {"de": 1} and c["shared_items"]["en"]["de"] == 2
    # NaN scores are left out; the section appears in aggregate_task and matches its type
    nan = recs + [Record(id="de/q9", language="de", prediction="", reference="", scores={"acc": math.nan}, extra={})]
    agg = aggregate_task(nan, ["acc"])
    assert agg["consistency"]["acc"]["items"] == {"de": 3, "en": 3}
    assert "consistency" not in aggregate_task(_recs({"en": {0}}, 3), ["acc"])


def test_section_validates_against_the_types():
    from pydantic import TypeAdapter, ValidationError

    from mmx.results import Consistency

    c = consistency(_recs({"en": {0, 1}, "de": {0}, "fr": set()}, 3), ["acc"])
    TypeAdapter(dict[str, Consistency]).validate_json(json.dumps(c), strict=True)
    c["acc"]["kappa_typo"] = {}
    with pytest.raises(ValidationError):
        TypeAdapter(dict[str, Consistency]).validate_json(json.dumps(c), strict=True)


# --- end to end: HumanEval-XL through the CLI, a server that solves known problems per language -------

SOLVED = {"English": {0, 1, 2, 3, 4, 5}, "German": {0, 1, 2, 6, 7}, "French": {6, 7}}


def test_humaneval_xl_consistency_end_to_end(shared_data, tmp_path, capsys):
    table = {}  # prompt -> (canonical solution, solved?)
    for lang, solved in SOLVED.items():
        for line in (shared_data / "humaneval-xl" / "python" / f"{lang}.jsonl").read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            table[r["prompt"]] = (r["canonical_solution"], int(r["task_id"].split("/")[1]) in solved)

    def answer(prompt, j):
        canon, solved = table[prompt]
        return canon if solved else "    return None\n"

    run = tmp_path / "run"
    with CompletionServer(answer) as srv:
        code, out, err = cli(capsys, "evaluate", "--model", "openai:mixed-bot", "--model-args", f"base_url={srv.url}",
                             "--tasks", "humaneval_xl_python", "--languages", "en,de,fr", "--limit", "8",
                             "--data-args", f"root={shared_data / 'humaneval-xl'}", "--output", run,
                             "--no-progress", "--no-cache")
    assert code == 0, err
    res = json.loads((run / "results.json").read_text())["tasks"]["humaneval_xl_python"]
    assert res["languages"]["en"]["metrics"]["pass@1"] == pytest.approx(6 / 8)
    assert list(res["consistency"]) == ["pass@1"]  # the primary metric; pass@1 with n=1: 0/1 per problem
    c = res["consistency"]["pass@1"]
    assert c["languages"] == ["de", "en", "fr"] and c["shared_items"]["en"]["de"] == 8
    # en {0-5} vs de {0,1,2,6,7}: en only 3, de only 2, n11 3, n00 0: p_o 3/8, p_e 36/64, kappa -3/7; p = 1
    assert (c["solved_only"]["en"]["de"], c["solved_only"]["de"]["en"]) == (3, 2)
    assert c["kappa"]["en"]["de"] == pytest.approx(-3 / 7) and c["mcnemar_p"]["en"]["de"] == pytest.approx(1.0)
    # en vs fr {6,7}: en only 6, fr only 2, no agreement: p_e 0.375, kappa -0.6; p = 2 * 37 / 256
    assert (c["solved_only"]["en"]["fr"], c["solved_only"]["fr"]["en"]) == (6, 2)
    assert c["kappa"]["en"]["fr"] == pytest.approx(-0.6) and c["mcnemar_p"]["fr"]["en"] == pytest.approx(74 / 256)
    assert c["agreement"]["en"]["fr"] == 0.0
    assert c["differing_items"]["en"]["fr"] == [f"python/{i}" for i in range(6)]
    # de vs fr: de only 3 (0-2), fr none, n11 2, n00 3: kappa 1/3, p = 2/8
    assert c["kappa"]["de"]["fr"] == pytest.approx(1 / 3) and c["mcnemar_p"]["de"]["fr"] == pytest.approx(0.25)
    assert c["differing_items"]["de"]["fr"] == ["python/0", "python/1", "python/2"]
    assert c["differing_items"]["fr"]["de"] == []

    code, md, err = cli(capsys, "report", run, "--format", "md")
    assert code == 0, err
    assert "Cross-lingual consistency of pass@1" in md
    rows = {line.split(" | ")[0].strip("| "): line for line in md.splitlines() if line.startswith("| de |")
            or line.startswith("| fr |")}
    assert "| de | 8 | 2 | 3 | 37.5 | -0.43 | 1.000 |" in rows["de"]
    # Holm over the two comparisons with English: 0.289 * 2 = 0.578, then max(0.578, 1.0)
    assert "| fr | 8 | 2 | 6 | 0.0 | -0.60 | 0.289 | 0.578 | python/6, python/7 / python/0, python/1 |" \
        in rows["fr"]
    code, _, err = cli(capsys, "report", run, "--format", "html", "--output", tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert code == 0 and "Cross-lingual consistency of pass@1" in html and "<td>-0.60</td>" in html
