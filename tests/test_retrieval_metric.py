"""Recall@K against hand-computed cases: plain ranks, several captions per image, ties."""
import math

import pytest
import torch

from mmx.capabilities import ImageTextEncoder
from mmx.metrics.retrieval import recall_at_k, top_k_indices


def test_plain_ranks():
    # 3 texts x 3 images; text i belongs to image i. Correct image ranks 1, 2, 3.
    s = torch.tensor([[0.9, 0.1, 0.0],
                      [0.8, 0.7, 0.1],
                      [0.9, 0.8, 0.1]])
    rel = torch.eye(3, dtype=torch.bool)
    r = recall_at_k(s, rel, (1, 2, 3))
    assert r[1].tolist() == [1.0, 0.0, 0.0]
    assert r[2].tolist() == [1.0, 1.0, 0.0]
    assert r[3].tolist() == [1.0, 1.0, 1.0]


def test_image_to_text_with_several_captions_counts_any_caption():
    # 2 images, 4 captions: captions 0,1 -> image 0; captions 2,3 -> image 1 (CLIP_benchmark's rule:
    # an image query is a hit at K when ANY of its captions is in the top K).
    owner = torch.tensor([0, 0, 1, 1])
    rel_t2i = owner[:, None] == torch.arange(2)[None, :]
    s_t2i = torch.tensor([[0.1, 0.9],   # caption 0 prefers the wrong image
                          [0.8, 0.2],   # caption 1 right
                          [0.3, 0.4],   # caption 2 right
                          [0.6, 0.5]])  # caption 3 wrong
    t2i = recall_at_k(s_t2i, rel_t2i, (1,))
    assert t2i[1].tolist() == [0.0, 1.0, 1.0, 0.0]
    i2t = recall_at_k(s_t2i.T, rel_t2i.T, (1, 2))
    # image 0: captions scored [.1,.8,.3,.6] -> best is caption 1 (its own) -> hit@1
    # image 1: captions scored [.9,.2,.4,.5] -> caption 0 (wrong) first, then caption 3 (own) -> hit@2 only
    assert i2t[1].tolist() == [1.0, 0.0]
    assert i2t[2].tolist() == [1.0, 1.0]


def test_ties_count_as_random_order():
    # Correct item tied with one wrong item above none: P(hit@1) = 1/2.
    s = torch.tensor([[0.5, 0.5, 0.1]])
    rel = torch.tensor([[True, False, False]])
    assert recall_at_k(s, rel, (1,))[1].item() == pytest.approx(0.5)
    # One wrong item strictly above, correct tied with two wrong: hit@2 = 1/3, hit@3 = 2/3, hit@4 = 1.
    s = torch.tensor([[0.9, 0.5, 0.5, 0.5]])
    rel = torch.tensor([[False, True, False, False]])
    r = recall_at_k(s, rel, (1, 2, 3, 4))
    assert [round(r[k].item(), 6) for k in (1, 2, 3, 4)] == [0.0, round(1 / 3, 6), round(2 / 3, 6), 1.0]


def test_ties_with_two_relevant_items():
    # All four candidates tied, two relevant: hit@1 = 2/4; hit@2 = 1 - P(both first two wrong) = 1 - (2/4)(1/3) = 5/6.
    s = torch.zeros(1, 4)
    rel = torch.tensor([[True, True, False, False]])
    r = recall_at_k(s, rel, (1, 2, 3))
    assert r[1].item() == pytest.approx(0.5)
    assert r[2].item() == pytest.approx(5 / 6)
    assert r[3].item() == pytest.approx(1.0)


def test_ties_agree_with_brute_force_permutations():
    import itertools
    s = torch.tensor([[0.7, 0.5, 0.5, 0.5, 0.5, 0.2]])
    rel = torch.tensor([[False, True, False, True, False, False]])
    tied = [1, 2, 3, 4]
    for k in (1, 2, 3, 4, 5):
        hits = total = 0
        for perm in itertools.permutations(tied):
            order = [0, *perm, 5]
            hits += any(rel[0, g] for g in order[:k])
            total += 1
        assert recall_at_k(s, rel, (k,))[k].item() == pytest.approx(hits / total), k


def test_query_without_relevant_items_is_nan():
    r = recall_at_k(torch.tensor([[0.1, 0.2]]), torch.tensor([[False, False]]), (1,))
    assert math.isnan(r[1].item())


def test_top_k_best_first():
    s = torch.tensor([[0.5, 0.9, 0.7, 0.1], [0.0, 0.1, 0.3, 0.2]])
    assert top_k_indices(s, 3).tolist() == [[1, 2, 0], [2, 3, 1]]
    assert top_k_indices(s, 10).shape == (2, 4)  # k larger than the gallery


# --- non-finite scores and embeddings (issue 10, point 5) ----------------------------------------------------

def test_nan_score_of_the_right_item_is_never_a_hit():
    # Before: a NaN relevant score made the best score NaN, nothing compared above it, and the query
    # counted as a sure hit at every K.
    s = torch.tensor([[float("nan"), 0.9, 0.8], [0.1, float("nan"), 0.3], [0.2, 0.1, float("nan")]])
    rel = torch.eye(3, dtype=torch.bool)
    r = recall_at_k(s, rel, (1, 2, 3))
    assert r[1].tolist() == [0.0, 0.0, 0.0]
    assert r[2].tolist() == [0.0, 0.0, 0.0]
    assert r[3].tolist() == [1.0, 1.0, 1.0]  # last of three: found only when everything is taken


def test_nan_score_of_a_wrong_item_never_ranks_first():
    s = torch.tensor([[0.5, float("nan"), 0.1], [float("nan"), float("nan"), 0.2]])
    rel = torch.tensor([[True, False, False], [False, False, True]])
    assert recall_at_k(s, rel, (1,))[1].tolist() == [1.0, 1.0]
    assert top_k_indices(s, 3)[:, 0].tolist() == [0, 2]  # torch.topk alone would put the NaN first


def test_infinite_scores_rank_by_their_sign():
    inf = float("inf")
    s = torch.tensor([[-inf, 0.0, 0.5], [inf, 0.9, 0.8]])
    rel = torch.tensor([[True, False, False], [True, False, False]])
    r = recall_at_k(s, rel, (1, 2, 3))
    assert [r[k][0].item() for k in (1, 2, 3)] == [0.0, 0.0, 1.0]
    assert [r[k][1].item() for k in (1, 2, 3)] == [1.0, 1.0, 1.0]


def _images(tmp_path, n):
    from PIL import Image

    paths = []
    for i in range(n):  # the red channel tells the fake model which image it got
        p = tmp_path / f"img{i}.png"
        Image.new("RGB", (4, 4), (i, 0, 0)).save(p)
        paths.append(p)
    return paths


class _FakeEncoder(ImageTextEncoder):
    """Embeddings chosen by the test: images by their red channel, texts by their string (prepare_image:
    the capability's default, the image itself)."""

    def __init__(self, images: torch.Tensor, texts: dict[str, torch.Tensor]):
        self.images, self.texts = images, texts

    def encode_images(self, batch):
        return torch.stack([self.images[im.getpixel((0, 0))[0]] for im in batch])

    def encode_texts(self, batch):
        return torch.stack([self.texts[t] for t in batch])

    def info(self):
        return {"family": "fake", "name": "nan-model"}


class _Store:
    def __init__(self):
        self.records = {}

    def has(self, sid):
        return sid in self.records

    def write(self, records):
        self.records.update({r.id: r for r in records})


def _ctx():
    from mmx.cache import OutputCache
    from mmx.tasks.base import RunContext

    return RunContext(batch_size=2, seed=0, progress=False, model_key="fake", cache=OutputCache(enabled=False))


def _spec(tmp_path, kind):
    from mmx.tasks.base import TaskSpec

    return TaskSpec(name="nan_task", kind=kind, path=tmp_path / "t.yaml", dataset={}, languages=None, metrics=[],
                    primary_metric="t2i_r1")


def _retrieval(tmp_path, img, txt):
    from mmx.data.retrieval import RetrievalData
    from mmx.tasks.retrieval import Retrieval

    caps = {"en": [["a cat", "the cat"], ["a dog"], ["a bird"]], "de": [["eine Katze"], ["ein Hund"], ["ein Vogel"]]}
    data = RetrievalData(name="t", image_ids=["c", "d", "b"], image_paths=_images(tmp_path, 3), captions=caps)
    store = _Store()
    Retrieval(_spec(tmp_path, "retrieval")).run(_FakeEncoder(img, txt), data, store, _ctx())
    return store


def _text_table(nan_text=None, value=float("nan")):
    words = ["a cat", "the cat", "a dog", "a bird", "eine Katze", "ein Hund", "ein Vogel"]
    owner = [0, 0, 1, 2, 0, 1, 2]
    t = {w: torch.nn.functional.one_hot(torch.tensor(o), 3).float() for w, o in zip(words, owner)}
    if nan_text:
        t[nan_text] = torch.tensor([value, 0.0, 0.0])
    return t


def test_retrieval_runs_and_scores_with_finite_embeddings(tmp_path):
    store = _retrieval(tmp_path, torch.eye(3), _text_table())
    assert all(r.scores.get("t2i_r1", 1.0) == 1.0 and r.scores.get("i2t_r1", 1.0) == 1.0
               for r in store.records.values())
    assert len(store.records) == 4 + 3 + 3 + 3


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_retrieval_refuses_a_non_finite_caption_embedding_naming_it(tmp_path, value):
    from mmx.errors import MmxError

    with pytest.raises(MmxError) as e:
        _retrieval(tmp_path, torch.eye(3), _text_table("ein Hund", value))
    msg = str(e.value)
    assert "t2i/de/d/0" in msg and "language de" in msg and "fake:nan-model" in msg and "NaN or infinite" in msg


def test_retrieval_refuses_a_non_finite_image_embedding_naming_it(tmp_path):
    from mmx.errors import MmxError

    img = torch.eye(3)
    img[2, 1] = float("nan")
    with pytest.raises(MmxError, match=r"image embeddings are NaN or infinite from model fake:nan-model \(image b\)"):
        _retrieval(tmp_path, img, _text_table())


def test_retrieval_refuses_scores_that_overflow(tmp_path):
    from mmx.errors import MmxError

    img = torch.eye(3) * 3e38  # finite float32, but their products are not
    with pytest.raises(MmxError, match="score rows"):
        _retrieval(tmp_path, img, {k: v * 3e38 for k, v in _text_table().items()})


def _zeroshot(tmp_path, img, txt):
    from mmx.data.classification import ClassificationData
    from mmx.tasks.zeroshot import ZeroShotClassification

    data = ClassificationData(name="z", image_ids=["i0", "i1", "i2"], image_paths=_images(tmp_path, 3),
                              labels=[0, 1, 2], class_names={"en": {0: "cat", 1: "dog", 2: "bird"}})
    store = _Store()
    ZeroShotClassification(_spec(tmp_path, "zeroshot_classification")).run(_FakeEncoder(img, txt), data, store, _ctx())
    return store


def test_zeroshot_refuses_non_finite_embeddings_never_counts_a_hit(tmp_path):
    from mmx.errors import MmxError

    txt = {w: torch.nn.functional.one_hot(torch.tensor(i), 3).float() for i, w in enumerate(["cat", "dog", "bird"])}
    ok = _zeroshot(tmp_path, torch.eye(3), txt)
    assert [r.scores["top1"] for r in ok.records.values()] == [1.0, 1.0, 1.0]
    img = -torch.eye(3)  # every image is closest to the wrong classes ...
    img[1] = float("nan")  # ... and image i1's embedding is NaN
    with pytest.raises(MmxError) as e:
        _zeroshot(tmp_path, img, txt)
    assert "image i1" in str(e.value) and "fake:nan-model" in str(e.value)
    txt["dog"] = torch.tensor([float("inf"), 0.0, 0.0])
    with pytest.raises(MmxError, match="1 of 3 class prompt embeddings of language en .*'dog'"):
        _zeroshot(tmp_path, torch.eye(3), txt)


def test_top_k_orders_equal_scores_by_index_and_nan_last():
    s = torch.tensor([[0.5, 0.9, 0.5, float("nan"), 0.5],
                      [float("nan"), 0.1, 0.2, 0.3, 0.4]])
    assert top_k_indices(s, 4).tolist() == [[1, 0, 2, 4], [4, 3, 2, 1]]
    assert top_k_indices(s, 9).tolist() == [[1, 0, 2, 4, 3], [4, 3, 2, 1, 0]]  # k above the gallery: all of it


def test_numpy_and_half_precision_inputs_give_the_same_recall():
    g = torch.Generator().manual_seed(3)
    s = torch.randn(40, 30, generator=g)
    s[5, :] = s[5, 0]  # a query whose every score ties
    rel = torch.rand(40, 30, generator=g) < 0.1
    ref = recall_at_k(s, rel)
    for scores, relevant in ((s.numpy(), rel.numpy()), (s.T.numpy().T, rel)):  # a transposed view too
        got = recall_at_k(scores, relevant)
        assert all(torch.equal(torch.nan_to_num(got[k], -1.0), torch.nan_to_num(ref[k], -1.0)) for k in ref)
    half = recall_at_k(s.to(torch.bfloat16), rel)  # compared in float32 after the cast
    assert half[1].shape == (40,)
    assert top_k_indices(s.numpy(), 5).tolist() == top_k_indices(s, 5).tolist()
