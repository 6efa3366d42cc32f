"""Recall@K for retrieval with several relevant items per query (as in CLIP_benchmark), tie-aware.

A query counts as a hit at K when any relevant item ranks in the top K. Exact score ties are
not broken by array order (which would make the number depend on data order): a tie counts
as a uniformly random order, and the per-query value is the probability of a hit at K.
With m irrelevant items strictly above the best relevant score, and t irrelevant / p relevant
items tied at it, the hit probability at K is 0 if K <= m, 1 if K - m > t, else
1 - C(t, j) / C(t + p, j) with j = K - m.

Non-finite scores: NaN ranks below every number (as -inf does), so a NaN can never rank first or count
as a hit; +inf is an ordinary top score. The task kinds refuse non-finite embeddings and scores before
they get here (``require_finite``), naming the samples, since such a run has no meaningful number.

Agreement with CLIP_benchmark (``clip_benchmark.metrics.zeroshot_retrieval.recall_at_k`` > 0, the
per-query hit it averages) is tested on random score matrices in tests/test_metric_references.py. Without
ties the two are equal. With ties CLIP_benchmark takes whatever order ``torch.topk`` returns (in practice
the lower index first, so it depends on data order); mmx follows the expected value over tie orders, so a
constant model scores chance rather than 1 or 0.
"""
from __future__ import annotations

import numpy as np
import torch

from mmx.errors import MmxError


def _np(x) -> np.ndarray:
    """A CPU numpy view of a tensor (or an array as it is)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        return (x.float() if x.dtype in (torch.float16, torch.bfloat16) else x).numpy()
    return np.asarray(x)


def _nan_last(s: np.ndarray) -> np.ndarray:
    nan = np.isnan(s)
    return np.where(nan, -np.inf, s) if nan.any() else s


def recall_at_k(scores, relevant, ks: tuple[int, ...] = (1, 5, 10)) -> dict[int, torch.Tensor]:
    """scores, relevant: (Q, G) tensors or arrays. Returns {k: (Q,) float64 hit probabilities}; NaN where a
    query has no relevant item.

    The (Q, G) passes run in numpy: single-threaded, they cost a fraction of a millisecond per 1000 x 1000
    scores, where torch's threaded elementwise kernels stall on a loaded machine (every op waits for its
    slowest thread). Comparisons are exact in the scores' own dtype, so no float64 copy is needed."""
    s = _nan_last(_np(scores))  # NaN ranks last
    rel = _np(relevant).astype(bool, copy=False)
    has_pos = torch.from_numpy(rel.any(axis=1))
    best = np.where(rel, s, -np.inf).max(axis=1, initial=-np.inf)[:, None]
    # No relevant score is above the best relevant one: every item above it is irrelevant.
    above = torch.from_numpy((s > best).sum(axis=1).astype(np.float64))
    tied = s == best
    p_np = (tied & rel).sum(axis=1)
    t = torch.from_numpy((tied.sum(axis=1) - p_np).astype(np.float64))
    p = torch.from_numpy(p_np.astype(np.float64))
    out = {}
    for k in ks:
        j = k - above
        jj = j.clamp(min=0)
        # C(t, j) / C(t+p, j), zero when j > t; computed in log space.
        ratio = torch.exp(torch.lgamma(t + 1) - torch.lgamma((t - jj).clamp(min=0) + 1)
                          - torch.lgamma(t + p + 1) + torch.lgamma(t + p - jj + 1))
        ratio = torch.where(jj > t, torch.zeros_like(ratio), ratio)
        hit = torch.where(j <= 0, torch.zeros_like(ratio), 1 - ratio)
        out[k] = torch.where(has_pos, hit, torch.full_like(hit, float("nan")))
    return out


def top_k_indices(scores, k: int) -> torch.Tensor:
    """Indices of the k best candidates per query, best first, equal scores by index (stored as predictions;
    recall never reads them). NaN ranks last, like recall_at_k."""
    s = _nan_last(_np(scores))
    k = min(k, s.shape[1])
    if k <= 0:
        return torch.zeros((s.shape[0], 0), dtype=torch.long)
    part = np.argpartition(-s, k - 1, axis=1)[:, :k] if k < s.shape[1] else np.broadcast_to(np.arange(k), s.shape)
    order = np.lexsort((part, -np.take_along_axis(s, part, axis=1)), axis=-1)  # score down, then index up
    return torch.from_numpy(np.ascontiguousarray(np.take_along_axis(part, order, axis=1)).astype(np.int64))


def model_label(model) -> str:
    """``family:name`` of a model for error messages (without loading a lazy model just for that)."""
    try:
        info = model.info()
        return f"{info.get('family', '')}:{info.get('name', '')}".strip(":") or type(model).__name__
    except Exception:  # noqa: BLE001  (a message must not fail on the model's bookkeeping)
        return type(model).__name__


def require_finite(x: torch.Tensor, names: list[str], what: str, where: str, model=None, show: int = 5) -> None:
    """Raise MmxError naming the rows of ``x`` (embeddings, or scores per query) with a NaN or infinite value.

    A NaN embedding has no rank: counting it anywhere would put a made-up number in the results.
    """
    a = _np(x)
    if a.size == 0 or np.isfinite(a).all():
        return
    bad = np.flatnonzero(~np.isfinite(a.reshape(len(a), -1)).all(axis=1)).tolist()
    shown = ", ".join(names[i] for i in bad[:show]) + (f" and {len(bad) - show} more" if len(bad) > show else "")
    by = f" from model {model_label(model)}" if model is not None else ""
    raise MmxError(
        f"{where}: {len(bad)} of {len(x)} {what} are NaN or infinite{by} ({shown}); no recall or accuracy can "
        "be computed from them. Check the model's weights and dtype (float16 overflows are a common cause), "
        "then run again with --no-cache (the cache holds these embeddings).")
