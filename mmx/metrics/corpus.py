"""Corpus BLEU and chrF from per-sample sufficient statistics, with sacrebleu's own code (Post 2018).

A sample's statistics are sacrebleu's: BLEU's [hyp length, closest ref length, matches 1..4, totals
1..4] (10 numbers) and chrF's per-order character n-gram [hyp count, ref count, matches] (18 numbers for
chrF2: char order 6, word order 0). Summed over any set of samples they give exactly that set's corpus
score (``sacrebleu.corpus_bleu`` / ``corpus_chrf``; tests/test_corpus_metrics.py checks it), so the
bootstrap and the paired permutation test resample rows of statistics, sum and reduce like any metric.
Tokenisation is sacrebleu's default ``13a`` for every language (a language-specific tokenizer such as
``flores200`` or ``zh`` would be a separate metric with its own name).
Scores are returned as fractions (BLEU / 100) so they display x100 like every other score.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

BLEU_KEYS = tuple(f"bleu_stat_{i}" for i in range(10))
CHRF_KEYS = tuple(f"chrf_stat_{i}" for i in range(18))


@lru_cache(maxsize=None)
def _bleu():
    from sacrebleu.metrics import BLEU
    return BLEU()  # corpus_bleu's defaults: 13a, exp smoothing, 4-grams, no effective order


@lru_cache(maxsize=None)
def _chrf():
    from sacrebleu.metrics import CHRF
    return CHRF()  # corpus_chrf's defaults: chrF2, char order 6


def _stats(metric, hyp: str, refs: list[str] | str) -> list[float]:
    refs = [refs] if isinstance(refs, str) else list(refs)
    return [float(x) for x in metric._extract_corpus_statistics([hyp], [[r] for r in refs])[0]]


def bleu_stats(hyp: str, refs: list[str] | str) -> dict[str, float]:
    """A sample's BLEU statistics as record score keys (bleu_stat_0..9); refs: one or more references."""
    return dict(zip(BLEU_KEYS, _stats(_bleu(), hyp, refs)))


def chrf_stats(hyp: str, refs: list[str] | str) -> dict[str, float]:
    """A sample's chrF statistics as record score keys (chrf_stat_0..17)."""
    return dict(zip(CHRF_KEYS, _stats(_chrf(), hyp, refs)))


SMALL = 64  # rows reduced with sacrebleu itself; beyond, the same formulas vectorised (resampling, permutations)


def _per_row(metric, flat: np.ndarray) -> np.ndarray:
    # sacrebleu's corpus score from the summed statistics (ints, as sacrebleu sums them)
    return np.array([metric._compute_score_from_stats([int(round(v)) for v in row]).score / 100.0
                     for row in flat])


def bleu_vectorised(s: np.ndarray) -> np.ndarray:
    """sacrebleu.BLEU.compute_bleu (exp smoothing, 4-grams, no effective order) on rows of summed stats:
    a bootstrap or a permutation test reduces 10^5 rows, 20 us each through sacrebleu."""
    sys_len, ref_len, correct, total = s[:, 0], s[:, 1], s[:, 2:6], s[:, 6:10]
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = np.where(sys_len >= ref_len, 1.0, np.where(sys_len > 0, np.exp(1 - ref_len / sys_len), 0.0))
        smooth = np.cumprod(np.where(correct == 0, 2.0, 1.0), axis=1)  # doubles at each zero-match order
        prec = np.where(correct > 0, 100.0 * correct / total, 100.0 / (smooth * total))
        # an order with no n-gram at all stops the loop: it and the later ones keep precision 0
        alive = np.cumprod(total > 0, axis=1).astype(bool)
        prec = np.where(alive, prec, 0.0)
        logs = np.where(prec > 0, np.log(np.where(prec > 0, prec, 1.0)), -9999999999.0)  # sacrebleu's my_log
        score = bp * np.exp(logs.sum(1) / 4)
    return np.where(correct.sum(1) == 0, 0.0, score) / 100.0


def chrf_vectorised(s: np.ndarray, beta: float = 2.0) -> np.ndarray:
    """sacrebleu.CHRF._compute_f_score (chrF2, no eps smoothing) on rows of summed stats."""
    eps, factor = 1e-16, beta ** 2
    h, r, m = s[:, 0::3], s[:, 1::3], s[:, 2::3]
    with np.errstate(divide="ignore", invalid="ignore"):
        prec = np.where(h > 0, m / np.where(h > 0, h, 1), eps)
        rec = np.where(r > 0, m / np.where(r > 0, r, 1), eps)
        eff = (h > 0) & (r > 0)
        k = eff.sum(1)
        ap = np.where(k > 0, (prec * eff).sum(1) / np.maximum(k, 1), 0.0)
        ar = np.where(k > 0, (rec * eff).sum(1) / np.maximum(k, 1), 0.0)
        f = np.where(ap + ar > 0, (1 + factor) * ap * ar / (factor * ap + ar), 0.0)
    return f


def _apply(metric, fast, sums) -> np.ndarray:
    sums = np.asarray(sums, dtype=np.float64)
    flat = np.rint(sums.reshape(-1, sums.shape[-1]))
    bad = np.isnan(flat).any(1)
    out = np.full(len(flat), np.nan)
    good = flat[~bad]
    out[~bad] = _per_row(metric, good) if len(good) <= SMALL else fast(good)
    return out.reshape(sums.shape[:-1])


def reduce_bleu(sums, n=None) -> np.ndarray:
    return _apply(_bleu(), bleu_vectorised, sums)


def reduce_chrf(sums, n=None) -> np.ndarray:
    return _apply(_chrf(), chrf_vectorised, sums)


REDUCERS = {"bleu": reduce_bleu, "chrf": reduce_chrf}
