"""hf-clip, open_clip and mclip adapters, loaded from tiny random-weight folders.

The folders go through the same loading code as a hub id would (from_pretrained / open_clip
with a local path); nothing here fakes model outputs.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import huggingface_hub.constants
import pytest
import torch
from PIL import Image

from mmx.errors import MmxError
from mmx.models.base import RANDOM_WEIGHTS_MARKER, ModelSpec
from mmx.models.tiny import (OPEN_CLIP_ARCH, build_tiny, build_tiny_hf_clip,
                             build_tiny_open_clip)
from mmx.registry import get_model_family

SCRIPTS = ["a photo of a cat", "фотография кошки", "صورة قطة", "बिल्ली की तस्वीर", "一只猫的照片", "고양이 사진"]


def load(spec: str, **args):
    s = ModelSpec.parse(spec, args)
    return get_model_family(s.family)(s.name, device="cpu", **s.args)


def images(n: int = 3) -> list:
    g = torch.Generator().manual_seed(0)
    sizes = [(40, 30), (32, 64), (50, 50), (20, 33)]
    out = []
    for i in range(n):
        w, h = sizes[i % len(sizes)]
        arr = (torch.rand(h, w, 3, generator=g) * 255).to(torch.uint8).numpy()
        out.append(Image.fromarray(arr, "RGB"))
    out[-1] = out[-1].convert("L")  # a grayscale image must work too
    return out


@pytest.fixture
def offline(monkeypatch):
    # huggingface_hub reads HF_HUB_OFFLINE once at import, so patch the constant too.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("tiny")
    specs = {fam: build_tiny(fam, root / fam) for fam in ("hf-clip", "siglip", "open_clip", "mclip")}
    specs["open_clip-ckpt"] = f"open_clip:{OPEN_CLIP_ARCH}@{root / 'open_clip' / 'open_clip_model.safetensors'}"
    specs["mclip-open_clip-image"] = f"mclip:{root / 'mclip' / 'text'}+open_clip:{root / 'open_clip'}"
    return specs


@pytest.fixture(scope="module")
def loaded(tiny) -> dict:
    return {k: load(v) for k, v in tiny.items()}


FAMILIES = ["hf-clip", "siglip", "open_clip", "open_clip-ckpt", "mclip", "mclip-open_clip-image"]


@pytest.mark.parametrize("key", FAMILIES)
def test_shapes_norms_determinism(loaded, key):
    m = loaded[key]
    t, im = m.encode_texts(SCRIPTS), m.encode_images(images(3))
    assert t.dtype == im.dtype == torch.float32 and t.device.type == im.device.type == "cpu"
    assert t.shape[0] == len(SCRIPTS) and im.shape[0] == 3 and t.shape[1] == im.shape[1]
    assert torch.allclose(t.norm(dim=1), torch.ones(len(SCRIPTS)), atol=1e-5)
    assert torch.allclose(im.norm(dim=1), torch.ones(3), atol=1e-5)
    # Same input twice -> same output.
    assert torch.equal(m.encode_texts(SCRIPTS), t)
    assert torch.equal(m.encode_images(images(3)), im)
    # One batch vs one at a time (padding must not leak into the result).
    one_t = torch.cat([m.encode_texts([s]) for s in SCRIPTS[:3]])
    one_i = torch.cat([m.encode_images([x]) for x in images(3)])
    assert torch.allclose(one_t, t[:3], atol=1e-5)
    assert torch.allclose(one_i, im, atol=1e-5)
    assert m.encode_texts([]).shape == (0, t.shape[1])


@pytest.mark.parametrize("key", FAMILIES)
def test_every_script_encodes_distinctly(loaded, key):
    t = loaded[key].encode_texts(SCRIPTS)
    sim = t @ t.T
    off = sim[~torch.eye(len(SCRIPTS), dtype=torch.bool)]
    assert off.max() < 0.99999, f"two scripts collapsed to the same embedding: {sim}"


@pytest.mark.parametrize("key", FAMILIES)
def test_tiny_models_report_random_weights(loaded, key):
    info = loaded[key].info()
    assert info["random_weights"] is True
    assert info["dtype"] == "float32"


def test_saved_folder_without_marker_is_not_random(tiny, tmp_path):
    real = tmp_path / "real"
    shutil.copytree(tiny["hf-clip"].split(":", 1)[1], real)
    (real / RANDOM_WEIGHTS_MARKER).unlink()
    info = load(f"hf-clip:{real}").info()
    assert info["random_weights"] is False and info["local_path"] == str(real.resolve())


def test_same_seed_same_weights(tmp_path):
    from safetensors.torch import load_file

    a = load_file(str(Path(build_tiny_hf_clip(tmp_path / "a", seed=3)) / "model.safetensors"))
    b = load_file(str(Path(build_tiny_hf_clip(tmp_path / "b", seed=3)) / "model.safetensors"))
    c = load_file(str(Path(build_tiny_hf_clip(tmp_path / "c", seed=4)) / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    oa = load_file(str(Path(build_tiny_open_clip(tmp_path / "oa", seed=3)) / "open_clip_model.safetensors"))
    ob = load_file(str(Path(build_tiny_open_clip(tmp_path / "ob", seed=3)) / "open_clip_model.safetensors"))
    assert all(torch.equal(oa[k], ob[k]) for k in oa)


def test_siglip_pads_to_max_length(loaded):
    m = loaded["siglip"]
    assert m.pad_to_max and not loaded["hf-clip"].pad_to_max
    long = "x" * 500  # must be truncated, not crash on position embeddings
    assert m.encode_texts([long]).shape[0] == 1 and loaded["hf-clip"].encode_texts([long]).shape[0] == 1


# ---------------------------------------------------------------- mclip checkpoint layouts

def _text_files(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if f.name.startswith("tokenizer") or f.name == "special_tokens_map.json":
            shutil.copy(f, dst / f.name)


def test_mclip_sentence_transformers_layout(tmp_path, tiny, loaded):
    """0_Transformer at the root, 1_Pooling, 2_Dense (config + pytorch_model.bin): same weights, same output."""
    from safetensors.torch import load_file

    text_dir, image_dir = tiny["mclip"].split(":", 1)[1].split("+")
    src, st = Path(text_dir), tmp_path / "st"
    _text_files(src, st)
    for f in ("config.json", "model.safetensors"):
        shutil.copy(src / f, st / f)
    (st / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}]))
    (st / "1_Pooling").mkdir()
    (st / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": 48, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True}))
    (st / "2_Dense").mkdir()
    (st / "2_Dense" / "config.json").write_text(json.dumps(
        {"in_features": 48, "out_features": 32, "bias": True,
         "activation_function": "torch.nn.modules.linear.Identity"}))
    proj = load_file(str(src / "projection.safetensors"))
    torch.save({"linear.weight": proj["weight"], "linear.bias": proj["bias"]}, st / "2_Dense" / "pytorch_model.bin")

    m = load(f"mclip:{st}+{image_dir}")
    assert torch.allclose(m.encode_texts(SCRIPTS), loaded["mclip"].encode_texts(SCRIPTS), atol=1e-5)
    assert m.info()["random_weights"] is True  # the image tower is random
    cls = load(f"mclip:{st}+{image_dir}", pooling="cls").encode_texts(SCRIPTS)
    assert not torch.allclose(cls, loaded["mclip"].encode_texts(SCRIPTS), atol=1e-3)


def _m_clip_layout(tiny: dict, mc: Path) -> tuple[str, str]:
    """The tiny mclip text tower rewritten in the M-CLIP layout at ``mc``: config.json model_type M-CLIP
    (modelBase a hub id that is not there offline) + transformer.* / LinearTransformation.* weights.
    Returns (the original text folder, the image folder)."""
    from safetensors.torch import load_file, save_file

    text_dir, image_dir = tiny["mclip"].split(":", 1)[1].split("+")
    src = Path(text_dir)
    _text_files(src, mc)
    sd = {f"transformer.{k}": v for k, v in load_file(str(src / "model.safetensors")).items()}
    proj = load_file(str(src / "projection.safetensors"))
    sd["LinearTransformation.weight"], sd["LinearTransformation.bias"] = proj["weight"], proj["bias"]
    save_file(sd, str(mc / "model.safetensors"))
    cfg = {"model_type": "M-CLIP", "modelBase": "xlm-roberta-large", "transformerDimensions": 48, "numDims": 32}
    (mc / "config.json").write_text(json.dumps(cfg))
    return text_dir, image_dir


def test_mclip_m_clip_layout(tmp_path, tiny, loaded, offline):
    """config.json model_type M-CLIP + transformer.* / LinearTransformation.* weights."""
    mc = tmp_path / "mc"
    text_dir, image_dir = _m_clip_layout(tiny, mc)

    # modelBase is a hub id we cannot fetch offline: clear error, then the text_base= way out.
    with pytest.raises(MmxError, match="xlm-roberta-large"):
        load(f"mclip:{mc}+{image_dir}")
    m = load(f"mclip:{mc}+{image_dir}", text_base=text_dir)
    assert torch.allclose(m.encode_texts(SCRIPTS), loaded["mclip"].encode_texts(SCRIPTS), atol=1e-5)


def test_mclip_tokenizer_alone_reads_the_m_clip_layout(tmp_path, tiny, offline):
    """`mmx tokenizers` on an M-CLIP folder: its config.json is no transformers config, so the tokenizer and
    the limit come through text_base, as the adapter loads them (AutoConfig alone cannot read "M-CLIP")."""
    from mmx.metrics.tokenizers import load_tokenizer

    mc = tmp_path / "mc"
    text_dir, image_dir = _m_clip_layout(tiny, mc)
    m = load(f"mclip:{mc}+{image_dir}", text_base=text_dir)
    tok = load_tokenizer(f"mclip:{mc}+{image_dir}", {"text_base": text_dir})
    assert tok.limit == m.max_length
    assert [tok.encode(t) for t in SCRIPTS] == m.tokenizer(SCRIPTS, add_special_tokens=False)["input_ids"]
    with pytest.raises(MmxError, match="xlm-roberta-large"):  # without text_base: the modelBase it names
        load_tokenizer(f"mclip:{mc}+{image_dir}")


def test_mclip_dimension_mismatch(tmp_path, tiny):
    text_dir, image_dir = tiny["mclip"].split(":", 1)[1].split("+")
    bare = tmp_path / "bare"
    shutil.copytree(text_dir, bare)
    (bare / "projection.safetensors").unlink()  # 48-dim text vs 32-dim images
    with pytest.raises(MmxError, match="projection"):
        load(f"mclip:{bare}+{image_dir}")


# ---------------------------------------------------------------- bad names

@pytest.mark.parametrize("spec", [
    "hf-clip:/nonexistent/folder/clip",
    "hf-clip:nobody-xyz/no-such-clip",
    "open_clip:hf-hub:nobody-xyz/no-such-clip",
    "open_clip:ViT-B-32@openai",
    "open_clip:ViT-B-32@/nonexistent/open_clip_pytorch_model.bin",
    "open_clip:/nonexistent/folder/clip",
    "mclip:/nonexistent/text+/nonexistent/image",
    "mclip:nobody-xyz/no-such-text+nobody-xyz/no-such-image",
])
def test_bad_name_offline_gives_clear_error(offline, spec):
    family, name = spec.split(":", 1)
    with pytest.raises(MmxError) as e:
        load(spec)
    msg = str(e.value)
    assert name in msg
    assert f"--model {family}:" in msg, msg


def test_bad_syntax_and_args(tiny, tmp_path):
    with pytest.raises(MmxError, match="ARCH@PRETRAINED"):
        load("open_clip:ViT-B-32")  # bare arch would silently be random weights
    with pytest.raises(MmxError, match="no pretrained tag"):
        load("open_clip:ViT-B-32@no-such-tag")
    with pytest.raises(MmxError, match="TEXT_ID_OR_DIR\\+IMAGE_ID_OR_DIR"):
        load("mclip:only-one-part")
    with pytest.raises(MmxError, match="unknown model argument"):
        load(tiny["hf-clip"], bogus="1")
    empty = tmp_path / "oc"
    shutil.copytree(tiny["open_clip"].split(":", 1)[1], empty)
    (empty / "open_clip_model.safetensors").unlink()
    with pytest.raises(MmxError, match="no weights"):
        load(f"open_clip:{empty}")


def test_open_clip_text_path_matches_open_clip_and_flags_cuts_from_the_same_pass(loaded):
    """encode_texts tokenises once (the truncation flags come from that pass) and runs the causal text tower
    over the batch's longest text only: the same embeddings as open_clip's own encode_text on full padding."""
    from mmx.metrics.tokenizers import from_open_clip

    m = loaded["open_clip"]
    assert m._trim and m._context == 32
    texts = ["a", "two blue triangles", " ".join(["a"] * 30), " ".join(["a"] * 31), " ".join(["b"] * 60), *SCRIPTS]
    ref_tokens = m.tokenizer(texts)
    assert torch.equal(m._tokens(texts), ref_tokens)  # cut texts end in <end>, as open_clip cuts them
    m._cut.clear()
    got = m.encode_texts(texts)
    with torch.inference_mode():
        ref = torch.nn.functional.normalize(m.model.encode_text(ref_tokens), dim=-1)
    assert torch.allclose(got, ref, atol=1e-5)
    short = texts[:2]  # a batch of short texts: most of the 32 columns are cut away
    with torch.inference_mode():
        ref_short = torch.nn.functional.normalize(m.model.encode_text(m.tokenizer(short)), dim=-1)
    assert torch.allclose(m.encode_texts(short), ref_short, atol=1e-5)
    slow = from_open_clip(m.tokenizer, m.name)
    m._cut.clear()
    m.encode_texts(texts)
    flags = m.truncated(texts)  # answered from encode_texts' pass, and forgotten after
    assert flags == [slow.truncated(t) for t in texts] == [False, False, False, True, True] + [False] * len(SCRIPTS)
    assert not m._cut
    assert m.truncated(["never encoded " * 20]) == [True]  # no pass to read: tokenised on its own
    m.encode_texts(["same", "same", "b " * 40])
    assert m.truncated(["same", "same", "b " * 40]) == [False, False, True]  # a text twice in a batch


def _odd_images() -> list:
    """Images the transform must resize, crop and convert: other sizes, aspect ratios and modes."""
    g = torch.Generator().manual_seed(0)
    out = []
    for (w, h), mode in [((224, 224), "RGB"), ((300, 171), "RGB"), ((17, 90), "RGBA"), ((64, 64), "L"),
                         ((500, 499), "P")]:
        px = torch.randint(0, 256, (h, w, 4), generator=g, dtype=torch.uint8).numpy()
        out.append(Image.fromarray(px, "RGBA").convert(mode))
    return out


@pytest.mark.parametrize("arch", [OPEN_CLIP_ARCH, "ViT-B-32"])
def test_open_clip_uint8_split_is_bit_identical_to_its_transform(arch):
    """On CUDA the open_clip adapter sends uint8 images and scales and normalises them on the GPU
    (mmx/models/clip.py _uint8_split): the same operations in the same order as open_clip's own transform,
    so the same bits, whatever the image's size or mode."""
    import open_clip
    from torchvision.transforms.functional import pil_to_tensor

    from mmx.models.clip import _uint8_split

    cfg = open_clip.get_model_config(arch) if arch == "ViT-B-32" else None
    size = cfg["vision_cfg"]["image_size"] if cfg else 32
    for resize_mode in ("shortest", "squash", "longest"):
        pre = open_clip.image_transform(size, is_train=False, resize_mode=resize_mode)
        pil_steps, mean, std = _uint8_split(pre)
        for im in _odd_images():
            x = pil_to_tensor(pil_steps(im)).unsqueeze(0)  # a batch of one, as encode_images stacks them
            assert x.dtype == torch.uint8
            got = x.float().div(255).sub(mean).div(std)[0]
            assert torch.equal(got, pre(im)), (resize_mode, im.size, im.mode)
    from torchvision.transforms import Compose, Normalize, ToTensor

    assert _uint8_split(Compose([ToTensor()])) is None  # no Normalize last: the transform runs whole
    assert _uint8_split(lambda im: im) is None
    assert _uint8_split(Compose([ToTensor(), Normalize([0.5] * 3, [0.5] * 3, inplace=True)])) is None


def test_prepare_image_in_threads_gives_the_same_embeddings(loaded):
    """prepare_image runs in the loader threads (cached_map's pool): what it returns, stacked by encode_images,
    gives the same embeddings as the PIL images themselves; mclip hands it to its image tower."""
    from concurrent.futures import ThreadPoolExecutor

    ims = _odd_images()
    for key in ("open_clip", "mclip-open_clip-image", "hf-clip"):
        m = loaded[key]
        with ThreadPoolExecutor(4) as pool:
            prepared = list(pool.map(m.prepare_image, ims))
        if key != "hf-clip":  # open_clip's PIL steps: uint8, scaled and normalised per batch (_uint8_split)
            assert all(isinstance(p, torch.Tensor) and p.dtype == torch.uint8 for p in prepared)
        else:
            assert prepared == ims  # the capability's default: transformers' processor runs per batch
        assert torch.equal(m.encode_images(prepared), m.encode_images(ims))
    oc = loaded["open_clip"]  # the same bits as open_clip's own transform and encode_image (on RGB, as load_image
    rgb = [im.convert("RGB") for im in ims]  # gives it: converting after the resize differs for RGBA and P)
    with torch.inference_mode():
        ref = torch.nn.functional.normalize(oc.model.encode_image(torch.stack([oc.preprocess(im) for im in rgb])), dim=-1)
    assert torch.equal(oc.encode_images(ims), ref)


def test_a_lazy_model_asked_by_several_threads_loads_once(tmp_path):
    """The loader threads may be first to touch a lazy model (prepare_image): it loads once, and its info goes
    into the output cache from that thread."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from mmx.cache import OutputCache
    from mmx.runner import LazyModel

    built = []

    class Slow:
        def __init__(self):
            time.sleep(0.2)  # long enough for every thread to arrive while the first one loads
            built.append(threading.get_ident())

        def info(self):
            return {"family": "slow"}

        def prepare_image(self, im):
            return im

    cache = OutputCache(tmp_path)
    lazy = LazyModel(Slow, cache, "k")
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(lambda i: lazy.prepare_image(i), range(8))) == list(range(8))
    assert len(built) == 1
    assert cache.get_many("model-info", ["k"]) == {"k": {"family": "slow"}}
    cache.close()
