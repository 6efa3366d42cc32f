"""Aggregation by language, group and spread on hand-computed results; bootstrap CIs: seeded and calibrated."""
import math
import random
import statistics
import time

import numpy as np
import pytest

from mmx.report.aggregate import aggregate_task, higher_is_better, metric_defs
from mmx.schema import Record


def rec(i, lang, **scores):
    return Record(id=i, language=lang, prediction=None, reference=None, scores=scores)


def accs(lang, values):
    return [rec(f"{lang}/{k}", lang, acc=float(v)) for k, v in enumerate(values)]


# en 3/4, de 1/2, fr 1/3, ja 2/2, sw 1/4
HAND = (accs("en", [1, 1, 0, 1]) + accs("de", [1, 0]) + accs("fr", [0, 0, 1]) + accs("ja", [1, 1])
        + accs("sw", [0, 0, 0, 1]))
MEANS = {"en": 0.75, "de": 0.5, "fr": 1 / 3, "ja": 1.0, "sw": 0.25}


def test_per_language_macro_micro_and_gap_by_hand():
    agg = aggregate_task(HAND, ["acc"])
    for lang, v in MEANS.items():
        assert agg["languages"][lang]["metrics"]["acc"] == pytest.approx(v)
        assert agg["gap_to_en"][lang]["acc"] == pytest.approx(v - 0.75)
    assert agg["overall"]["macro"]["acc"] == pytest.approx(sum(MEANS.values()) / 5)
    assert agg["overall"]["micro"]["acc"] == pytest.approx(8 / 15)


def test_groups_by_script_family_and_resource_level():
    g = aggregate_task(HAND, ["acc"])["groups"]
    latn = g["script"]["Latn"]
    assert sorted(latn["languages"]) == ["de", "en", "fr", "sw"] and latn["n_records"] == 13
    assert latn["macro"]["acc"] == pytest.approx((0.75 + 0.5 + 1 / 3 + 0.25) / 4)
    assert latn["micro"]["acc"] == pytest.approx(6 / 13)
    assert g["script"]["Jpan"]["macro"]["acc"] == 1.0
    assert sorted(g["family"]["Indo-European"]["languages"]) == ["de", "en", "fr"]
    assert g["family"]["Indo-European"]["micro"]["acc"] == pytest.approx(5 / 9)
    assert g["family"]["Niger-Congo"]["languages"] == ["sw"]
    assert g["resource_level"]["2"]["languages"] == ["sw"]  # Swahili is class 2 in the table
    assert sorted(g["resource_level"]["5"]["languages"]) == ["de", "en", "fr", "ja"]
    lo, hi = latn["macro_ci"]["acc"]
    assert lo <= latn["macro"]["acc"] <= hi


def test_spread_follows_the_metric_direction():
    sp = aggregate_task(HAND, ["acc"])["spread"]["acc"]
    assert (sp["worst_language"], sp["best_language"]) == ("sw", "ja")
    assert sp["range"] == pytest.approx(0.75)
    assert sp["std"] == pytest.approx(statistics.pstdev(MEANS.values()))
    # Corpus WER: lower is better, so the worst language is the one with the highest WER.
    wer = [rec("1", "en", errors=1.0, words=10.0), rec("2", "de", errors=5.0, words=10.0),
           rec("3", "fr", errors=2.0, words=10.0)]
    agg = aggregate_task(wer, ["wer"], {"wer": ("errors", "words")})
    assert agg["spread"]["wer"]["worst_language"] == "de" and agg["spread"]["wer"]["best_language"] == "en"
    assert agg["metric_defs"]["wer"]["higher_is_better"] is False


def test_metric_directions():
    assert higher_is_better("t2i_r1") and higher_is_better("accuracy") and higher_is_better("pass@1")
    assert not higher_is_better("wer") and not higher_is_better("cer_norm") and not higher_is_better("loss")
    assert higher_is_better("wer", {"wer": True}) and not higher_is_better("acc", {"acc": False})
    assert metric_defs(["acc"], None, {"acc": False}) == {"acc": {
        "type": "mean", "stats": ["acc"], "reducer": "mean", "higher_is_better": False, "scale": 100.0,
        "unit": "points (x100)", "ci": "bootstrap-percentile"}}
    # The old per-kind overrides agree with the table in mmx/metrics/defs.py.
    assert not higher_is_better("err") and higher_is_better("rtfx") and not higher_is_better("skipped")


def test_bootstrap_is_seeded_and_per_language():
    rnd = random.Random(0)
    recs = [rec(f"{lang}/{i}", lang, acc=rnd.random()) for lang in ("en", "de", "fr") for i in range(60)]
    a, b = aggregate_task(recs, ["acc"]), aggregate_task(recs, ["acc"])
    assert a["languages"]["de"]["ci"] == b["languages"]["de"]["ci"]
    assert a["bootstrap"]["method"] == "percentile" and a["bootstrap"]["n_resamples"] == 1000
    assert a["metric_defs"]["acc"]["ci"] == "bootstrap-percentile"  # scores in [0, 1], not all 0 or 1
    other = aggregate_task(recs, ["acc"], seed=1)
    assert other["languages"]["de"]["ci"] != a["languages"]["de"]["ci"]
    # A language's CI does not depend on which other languages are in the run, nor on record order.
    alone = aggregate_task(list(reversed([r for r in recs if r.language == "de"])), ["acc"])
    assert alone["languages"]["de"]["ci"] == a["languages"]["de"]["ci"]
    lo, hi = a["languages"]["de"]["ci"]["acc"]
    assert lo < a["languages"]["de"]["metrics"]["acc"] < hi
    assert a["gap_to_en_ci"]["en"]["acc"] == [0.0, 0.0]
    glo, ghi = a["gap_to_en_ci"]["de"]["acc"]
    assert glo < a["gap_to_en"]["de"]["acc"] < ghi
    mlo, mhi = a["overall"]["macro_ci"]["acc"]
    assert mlo < a["overall"]["macro"]["acc"] < mhi and (mhi - mlo) < (hi - lo)  # 3 languages: narrower


def test_bootstrap_ci_width_matches_the_normal_theory():
    # Bernoulli(0.5), n=400: the 95% CI of the mean is about +-1.96 * sqrt(0.25 / 400) = +-0.049.
    rnd = random.Random(5)
    recs = [rec(str(i), "de", acc=float(rnd.random() < 0.5)) for i in range(400)]
    lo, hi = aggregate_task(recs, ["acc"])["languages"]["de"]["ci"]["acc"]
    assert (hi - lo) / 2 == pytest.approx(1.96 * math.sqrt(0.25 / 400), rel=0.12)


@pytest.mark.parametrize("kind", ["mean", "ratio"])
def test_bootstrap_covers_the_true_value_at_the_nominal_rate(kind):
    """200 synthetic datasets with a known population value: the 95% CI covers it about 95% of the time."""
    rng = np.random.default_rng(42)
    hits = 0
    for k in range(200):
        if kind == "mean":  # skewed scores with mean 0.3
            vals = rng.exponential(0.3, size=80)
            recs = [rec(str(i), "de", score=float(v)) for i, v in enumerate(vals)]
            agg, truth, m = aggregate_task(recs, ["score"], seed=k), 0.3, "score"
        else:  # corpus WER: errors ~ Binomial(words, 0.2), so the population ratio is 0.2
            words = rng.integers(3, 15, size=80)
            errors = rng.binomial(words, 0.2)
            recs = [rec(str(i), "de", errors=float(e), words=float(w)) for i, (e, w) in enumerate(zip(errors, words))]
            agg, truth, m = aggregate_task(recs, ["wer"], {"wer": ("errors", "words")}, seed=k), 0.2, "wer"
        lo, hi = agg["languages"]["de"]["ci"][m]
        hits += lo <= truth <= hi
    assert 0.90 <= hits / 200 <= 0.99


def test_fifteen_languages_by_a_hundred_samples_aggregate_fast():
    rnd = random.Random(1)
    langs = ["ar", "de", "el", "en", "es", "fr", "hi", "ja", "ko", "ru", "sw", "th", "tr", "uk", "zh"]
    recs = [rec(f"{lang}/{i}", lang, **{f"m{k}": float(rnd.random() < 0.6) for k in range(6)},
                errors=float(rnd.randint(0, 4)), words=float(rnd.randint(4, 12)))
            for lang in langs for i in range(100)]
    metrics = [f"m{k}" for k in range(6)] + ["wer"]
    aggregate_task(recs, metrics, {"wer": ("errors", "words")})  # warm-up (imports)
    t0 = time.perf_counter()
    agg = aggregate_task(recs, metrics, {"wer": ("errors", "words")})
    assert time.perf_counter() - t0 < 1.0
    assert all(agg["languages"][lang]["ci"]["wer"] is not None for lang in langs)
