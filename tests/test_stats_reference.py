"""mmx's statistics against the references: scipy's paired permutation test and bootstrap, scipy's Wilson
interval, Holm's step-down procedure (statsmodels too when it is installed); plus what the Wilson and the
paired gap intervals are for: coverage at p near 0 or 1, and a narrower gap on parallel data."""
import numpy as np
import pytest
from scipy import stats as sps

from mmx.report import stats
from mmx.report.aggregate import aggregate_task, item_key
from mmx.report.compare import permutation_p
from mmx.schema import Record


def rec(i, lang, **scores):
    return Record(id=i, language=lang, prediction=None, reference=None, scores=scores)


def scipy_paired_p(base: np.ndarray, new: np.ndarray, kind: str, n_resamples=np.inf, rng=None) -> float:
    """scipy.stats.permutation_test, permutation_type="samples": pairs swapped between the two runs."""
    n = len(base)
    if kind == "mean":
        res = sps.permutation_test((base[:, 0], new[:, 0]), lambda x, y, axis: y.mean(axis) - x.mean(axis),
                                   permutation_type="samples", vectorized=True, n_resamples=n_resamples,
                                   alternative="two-sided", rng=rng)
        return float(res.pvalue)
    stack = np.concatenate([base, new])  # a ratio of sums: permute row indices, swapping i and i + n

    def ratio_gap(xi, yi):
        b, m = stack[np.asarray(xi, dtype=int)], stack[np.asarray(yi, dtype=int)]
        return m[:, 0].sum() / m[:, 1].sum() - b[:, 0].sum() / b[:, 1].sum()

    res = sps.permutation_test((np.arange(n), np.arange(n) + n), ratio_gap, permutation_type="samples",
                               vectorized=False, n_resamples=n_resamples, alternative="two-sided", rng=rng)
    return float(res.pvalue)


def ours(base, new, kind, seed=0):
    n = len(base)
    delta = float(stats.stat_from_sums(new.sum(0), n, kind) - stats.stat_from_sums(base.sum(0), n, kind))
    return permutation_p(base, new, kind, delta, stats.N_RESAMPLES, np.random.default_rng(seed))


def random_case(rng, n, kind):
    if kind == "binary":
        b = (rng.random((n, 1)) < 0.6).astype(float)
        flip = rng.random((n, 1)) < 0.3
        return b, np.where(flip, 1 - b, b), "mean"
    if kind == "continuous":
        b = rng.random((n, 1))
        return b, np.clip(b + rng.normal(-0.1, 0.2, (n, 1)), 0, 1), "mean"
    words = rng.integers(3, 12, n).astype(float)  # corpus WER: (errors, words) per sample
    e1 = rng.binomial(words.astype(int), 0.2).astype(float)
    e2 = np.maximum(0, e1 + rng.integers(-1, 3, n))
    return np.stack([e1, words], 1), np.stack([e2, words], 1), "ratio"


@pytest.mark.parametrize("kind", ["binary", "continuous", "ratio"])
def test_permutation_p_equals_scipy_exact_for_small_n(kind):
    """Up to 16 differing pairs mmx enumerates every swap pattern: the same p as scipy's exact test."""
    rng = np.random.default_rng({"binary": 1, "continuous": 2, "ratio": 3}[kind])
    checked = 0
    for _ in range(40):
        n = int(rng.integers(2, 11))
        base, new, k = random_case(rng, n, kind)
        expected = scipy_paired_p(base, new, k)
        assert ours(base, new, k) == pytest.approx(expected, rel=1e-9, abs=1e-12), (base.ravel(), new.ravel())
        checked += expected < 1
    assert checked >= 5  # not only the trivial p = 1 cases (binary data at small n: 8 of 40)


def test_permutation_p_smallest_value_is_two_to_the_one_minus_n():
    for n in (3, 6, 8, 12):
        base, new = np.ones((n, 1)), np.zeros((n, 1))
        assert ours(base, new, "mean") == pytest.approx(2.0 ** (1 - n))
        assert scipy_paired_p(base, new, "mean") == pytest.approx(2.0 ** (1 - n))


@pytest.mark.parametrize("kind", ["binary", "continuous", "ratio"])
def test_permutation_p_monte_carlo_agrees_with_scipy_for_larger_n(kind):
    rng = np.random.default_rng(7)
    for _ in range(4):
        n = int(rng.integers(30, 60))
        base, new, k = random_case(rng, n, kind)
        ref = scipy_paired_p(base, new, k, n_resamples=20_000 if k == "mean" else 3000, rng=rng)
        got = ours(base, new, k, seed=int(rng.integers(1000)))
        # Monte-Carlo error of two estimates: mmx's 1000+ resamples dominate
        tol = 4 * np.sqrt(max(ref, 1e-3) * (1 - ref) / 1000) + 2e-3
        assert abs(got - ref) <= tol, (got, ref)


def holm_step_down(p: list[float], alpha: float) -> set[int]:
    """Holm (1979) by its definition: reject the k-th smallest p while it is <= alpha / (m - k)."""
    order = sorted(range(len(p)), key=lambda i: p[i])
    rejected = set()
    for k, i in enumerate(order):
        if p[i] > alpha / (len(p) - k):
            break
        rejected.add(i)
    return rejected


def test_holm_matches_the_step_down_definition_and_statsmodels():
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    rng = np.random.default_rng(0)
    for _ in range(200):
        m = int(rng.integers(1, 20))
        p = list(np.where(rng.random(m) < 0.5, rng.random(m) * 0.02, rng.random(m)))
        adj = stats.holm(p)
        for alpha in (0.001, 0.01, 0.05, 0.1, 0.2):
            assert {i for i, a in enumerate(adj) if a <= alpha} == holm_step_down(p, alpha)
        try:  # the reference implementation, when installed (not a CI dependency)
            from statsmodels.stats.multitest import multipletests
        except ImportError:
            continue
        assert adj == pytest.approx(list(multipletests(p, method="holm")[1]))


@pytest.mark.parametrize("kind", ["mean", "ratio"])
def test_bootstrap_percentile_ci_agrees_with_scipy(kind):
    """A non-proportion metric's CI is the percentile bootstrap: scipy.stats.bootstrap(method='percentile')
    gives the same interval up to Monte-Carlo error (a few % of the standard error)."""
    rng = np.random.default_rng(11)
    for k in range(3):
        if kind == "mean":
            vals = rng.exponential(0.3, 80)
            recs = [rec(f"de/{i}", "de", score=float(v)) for i, v in enumerate(vals)]
            agg = aggregate_task(recs, ["score"], n_resamples=5000, seed=k)
            ours_ci = agg["languages"]["de"]["ci"]["score"]
            ref = sps.bootstrap((vals,), np.mean, method="percentile", n_resamples=20_000, rng=rng)
            se = vals.std() / np.sqrt(len(vals))
        else:
            words = rng.integers(3, 15, 80).astype(float)
            errors = rng.binomial(words.astype(int), 0.2).astype(float)
            recs = [rec(f"de/{i}", "de", errors=e, words=w) for i, (e, w) in enumerate(zip(errors, words))]
            agg = aggregate_task(recs, ["wer"], {"wer": ("errors", "words")}, n_resamples=5000, seed=k)
            ours_ci = agg["languages"]["de"]["ci"]["wer"]
            ref = sps.bootstrap((errors, words), lambda e, w: e.sum() / w.sum(), paired=True, vectorized=False,
                                method="percentile", n_resamples=5000, rng=rng)
            se = (ref.confidence_interval.high - ref.confidence_interval.low) / 3.92
        assert agg["metric_defs"]["score" if kind == "mean" else "wer"]["ci"] == "bootstrap-percentile"
        assert ours_ci[0] == pytest.approx(ref.confidence_interval.low, abs=0.2 * se)
        assert ours_ci[1] == pytest.approx(ref.confidence_interval.high, abs=0.2 * se)


def test_wilson_interval_equals_scipy():
    for n in (1, 2, 5, 8, 20, 100, 1000):
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            ref = sps.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
            assert stats.wilson_ci(k, n) == pytest.approx([ref.low, ref.high], abs=1e-12)


@pytest.mark.parametrize("p", [0.01, 0.02, 0.98, 0.99])
def test_proportion_ci_covers_the_truth_near_zero_and_one(p):
    """Accuracy of a language with p near 0 or 1 and 20 samples: most draws have every sample 0 (or 1), where
    the bootstrap interval was [0, 0] (coverage about 1/3). The interval mmx reports covers the true p in
    >= 90% of 200 draws (Wilson's exact coverage here: 0.94 to 0.98)."""
    rng = np.random.default_rng(int(p * 1000))
    hits = 0
    for k in range(200):
        vals = (rng.random(20) < p).astype(float)
        agg = aggregate_task([rec(f"sw/{i}", "sw", acc=float(v)) for i, v in enumerate(vals)], ["acc"],
                             n_resamples=100, seed=k)
        lo, hi = agg["languages"]["sw"]["ci"]["acc"]
        hits += lo <= p <= hi
    assert hits / 200 >= 0.90
    assert agg["metric_defs"]["acc"]["ci"] == "wilson"


def test_all_zero_language_gets_an_interval_of_nonzero_width():
    agg = aggregate_task([rec(f"sw/{i}", "sw", acc=0.0) for i in range(8)], ["acc"])
    lo, hi = agg["languages"]["sw"]["ci"]["acc"]
    assert lo == 0.0 and hi == pytest.approx(0.3244, abs=1e-4)  # Wilson, 0 of 8


def test_item_keys_strip_the_language():
    cases = {("de/python/0", "de"): "python/0", ("t2i/de/img1/0", "de"): "t2i/img1/0", ("de/img3", "de"): "img3",
             ("zh/clip.wav", "zh"): "clip.wav", ("x/17", "de"): "x/17"}
    for (i, lang), want in cases.items():
        assert item_key(rec(i, lang)) == want
    assert item_key(Record("de/q9", "de", None, None, {}, {"item": "q-9"})) == "q-9"


def test_paired_gap_ci_is_narrower_on_parallel_data():
    """Items of varying difficulty scored in en and de: the gap's paired interval (items resampled together)
    is much narrower than resampling each language on its own, and still holds the observed gap."""
    rng = np.random.default_rng(5)
    n = 150
    difficulty = rng.random(n)
    en = np.clip(difficulty + rng.normal(0, 0.05, n), 0, 1)
    de = np.clip(difficulty - 0.1 + rng.normal(0, 0.05, n), 0, 1)
    parallel = ([rec(f"en/{i}", "en", score=float(v)) for i, v in enumerate(en)]
                + [rec(f"de/{i}", "de", score=float(v)) for i, v in enumerate(de)])
    unshared = ([rec(f"en/a{i}", "en", score=float(v)) for i, v in enumerate(en)]
                + [rec(f"de/b{i}", "de", score=float(v)) for i, v in enumerate(de)])
    p, u = aggregate_task(parallel, ["score"]), aggregate_task(unshared, ["score"])
    assert p["gap_to_en_pairing"]["de"]["score"] == {"paired": True, "shared_items": n}
    assert u["gap_to_en_pairing"]["de"]["score"] == {"paired": False, "shared_items": 0}
    plo, phi = p["gap_to_en_ci"]["de"]["score"]
    ulo, uhi = u["gap_to_en_ci"]["de"]["score"]
    assert p["gap_to_en"]["de"]["score"] == pytest.approx(u["gap_to_en"]["de"]["score"])
    assert (phi - plo) < 0.4 * (uhi - ulo)
    assert plo < p["gap_to_en"]["de"]["score"] < phi < 0


@pytest.mark.parametrize("k", [1, 2, 3, 5, 9])
def test_bootstrap_sums_gathered_and_counted_agree_on_the_same_draws(k, monkeypatch):
    """Few statistics are summed from the drawn rows, many through a count matrix: the same resamples either way
    (sums of 0/1 or integer statistics exactly, of real-valued ones up to rounding)."""
    rng = np.random.default_rng(7)
    for values in (rng.integers(0, 2, size=(37, k)).astype(float), rng.random((37, k))):
        got = stats.bootstrap_sums(values, 300, np.random.default_rng(3))
        monkeypatch.setattr(stats, "GATHER_MAX_K", 0)
        counted = stats.bootstrap_sums(values, 300, np.random.default_rng(3))
        monkeypatch.setattr(stats, "GATHER_MAX_K", 2)
        idx = np.random.default_rng(3).integers(0, 37, size=(300, 37))  # the draws, by hand
        np.testing.assert_allclose(got, values[idx].sum(axis=1), rtol=1e-12)
        np.testing.assert_allclose(counted, got, rtol=1e-12)
        if values.max() == 1 and values.min() == 0:
            assert np.array_equal(counted, got)
