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

import torch

from mmx.errors import MmxError


def recall_at_k(scores: torch.Tensor, relevant: torch.Tensor, ks: tuple[int, ...] = (1, 5, 10)) -> dict[int, torch.Tensor]:
    """scores, relevant: (Q, G). Returns {k: (Q,) float64 hit probabilities}; NaN where a query has no relevant item."""
    scores = scores.double()
    scores = torch.where(torch.isnan(scores), torch.full_like(scores, float("-inf")), scores)  # NaN ranks last
    relevant = relevant.bool()
    has_pos = relevant.any(dim=1)
    best = torch.where(relevant, scores, torch.full_like(scores, float("-inf"))).max(dim=1).values
    above = ((scores > best[:, None]) & ~relevant).sum(1).double()
    tied = scores == best[:, None]
    t = (tied & ~relevant).sum(1).double()
    p = (tied & relevant).sum(1).double()
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


def top_k_indices(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the k best candidates per query, best first (stored as predictions; recall never reads them)."""
    k = min(k, scores.shape[1])
    # torch.topk puts NaN first; rank it last instead, like recall_at_k.
    scores = torch.where(torch.isnan(scores), torch.full_like(scores, float("-inf")), scores)
    return torch.topk(scores, k, dim=1, largest=True, sorted=True).indices


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
    if x.numel() == 0:
        return
    bad = (~torch.isfinite(x.reshape(len(x), -1))).any(dim=1).nonzero().flatten().tolist()
    if not bad:
        return
    shown = ", ".join(names[i] for i in bad[:show]) + (f" and {len(bad) - show} more" if len(bad) > show else "")
    by = f" from model {model_label(model)}" if model is not None else ""
    raise MmxError(
        f"{where}: {len(bad)} of {len(x)} {what} are NaN or infinite{by} ({shown}); no recall or accuracy can "
        "be computed from them. Check the model's weights and dtype (float16 overflows are a common cause), "
        "then run again with --no-cache (the cache holds these embeddings).")
