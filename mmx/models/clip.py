"""CLIP-style dual encoders: ``hf-clip``, ``open_clip`` and ``mclip``.

Model specs (``--model FAMILY:NAME``):

``hf-clip:ID_OR_DIR``
    Any transformers dual encoder with ``get_image_features``/``get_text_features``:
    CLIP, SigLIP, SigLIP2, AltCLIP, ChineseCLIP. ``ID_OR_DIR`` is a hub id or a folder
    written by ``save_pretrained`` (model + tokenizer + image processor).
    Args: ``max_length=N`` (text truncation; default: the model's limit).

``open_clip:ARCH@PRETRAINED``   e.g. ``ViT-B-32@openai``, ``xlm-roberta-base-ViT-B-32@laion5b_s13b_b90k``
``open_clip:ARCH@/path/to/checkpoint.pt|.bin|.safetensors``   local weights for a known ARCH
    (an ``ARCH.json`` model config next to the checkpoint registers a custom ARCH)
``open_clip:hf-hub:ORG/REPO``
``open_clip:/path/to/folder``   with ``open_clip_config.json`` + ``open_clip_model.safetensors``
    (or ``open_clip_pytorch_model.bin``): the layout open_clip pushes to the hub.

``mclip:TEXT+IMAGE``
    A multilingual text tower aligned to a separate image tower. ``IMAGE`` is anything
    ``hf-clip`` loads, or ``open_clip:SPEC`` for an open_clip image tower (M-CLIP's towers
    are OpenAI/open_clip ViTs). ``TEXT`` is a hub id or folder in one of these layouts:

    * our own: a transformers text model folder (``save_pretrained``: config, weights,
      tokenizer) plus ``projection.safetensors`` with keys ``weight`` (out, in) and
      optional ``bias`` (out,) mapping the pooled text embedding to the image space;
    * sentence-transformers (e.g. ``sentence-transformers/clip-ViT-B-32-multilingual-v1``):
      the transformer at the root, ``1_Pooling/config.json`` (pooling mode), and
      ``2_Dense/config.json`` + ``2_Dense/model.safetensors`` or ``pytorch_model.bin``;
    * M-CLIP (``M-CLIP/XLM-Roberta-Large-Vit-B-32``): ``config.json`` with ``model_type
      "M-CLIP"``, ``modelBase``, ``transformerDimensions``, ``numDims``, and weights
      ``transformer.*`` + ``LinearTransformation.{weight,bias}``. The base architecture is
      read from ``modelBase`` (a hub id); offline, pass ``text_base=/path/to/its/config/folder``.
    * no projection at all, when the text hidden size already equals the image dim.

    Args: ``pooling=mean|cls`` (default: mean, or what ``1_Pooling`` says), ``max_length=N``,
    ``text_base=ID_OR_DIR`` (M-CLIP layout only).

Heavy libraries (transformers, open_clip) are imported inside the constructors so that
``import mmx.models`` stays fast for ``mmx --help`` / ``mmx models``.
"""
from __future__ import annotations

import contextlib
import difflib
import inspect
import json
from pathlib import Path
from typing import Any

import torch

from mmx.errors import MmxError
from mmx.capabilities import ImageTextEncoder
from mmx.models.base import is_random_weights, load_pretrained, model_folder, pick_dtype
from mmx.models.pooling import pool, st_pooling
from mmx.registry import register_model

# Roberta-style models count positions from padding_idx + 1, so two position slots are unusable.
_ROBERTA_LIKE = ("roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "altclip_text_model")


# ---------------------------------------------------------------- shared helpers

def _check_args(kwargs: dict, allowed: set[str], family: str) -> None:
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        known = ", ".join(sorted(allowed)) or "none"
        raise MmxError(f"{family}: unknown model argument(s) {', '.join(unknown)}; known: {known}")


def _looks_like_path(name: str) -> bool:
    # Hub ids are "repo" or "org/repo"; anything else with path syntax is meant as a folder.
    return name.startswith(("/", ".", "~")) or "\\" in name or name.count("/") > 1


def _check_local(name: str, family: str) -> None:
    if _looks_like_path(name) and not Path(name).expanduser().exists():
        raise MmxError(
            f"{family} model {name!r}: no such local folder. Pass --model {family}:/path/to/folder "
            f"(a folder written by save_pretrained, or downloaded with `huggingface-cli download ID --local-dir DIR`)"
        )


def _normalise(x: torch.Tensor) -> torch.Tensor:
    # Normalise in float32 even when the model ran in half precision.
    return torch.nn.functional.normalize(x.float(), dim=-1).cpu()


def _features(out: Any) -> torch.Tensor:
    """transformers <5 returns a tensor; 5.x a BaseModelOutputWithPooling holding the projection."""
    if isinstance(out, torch.Tensor):
        return out
    for attr in ("pooler_output", "image_embeds", "text_embeds"):
        if getattr(out, attr, None) is not None:
            return getattr(out, attr)
    raise MmxError(f"unexpected feature output type {type(out).__name__} from the model")


def _accepted(fn: Any, batch: Any) -> dict:
    """Keep only the inputs fn names (e.g. CLIP takes no token_type_ids)."""
    names = set(inspect.signature(fn).parameters)
    return {k: v for k, v in batch.items() if k in names}


def _to(batch: dict, device: str, dtype: torch.dtype) -> dict:
    if device.startswith("cuda"):  # pinned host memory lets the copy overlap with the GPU's work
        batch = {k: v.pin_memory() for k, v in batch.items()}
        return {k: v.to(device, dtype, non_blocking=True) if v.is_floating_point() else v.to(device, non_blocking=True)
                for k, v in batch.items()}
    return {k: v.to(device, dtype) if v.is_floating_point() else v.to(device) for k, v in batch.items()}


def _fast_layout(model: Any, device: str) -> Any:
    """channels-last memory for convolutional image towers on CUDA (ConvNeXt, ResNet CLIPs): faster convs."""
    if device.startswith("cuda") and any(isinstance(m, torch.nn.Conv2d) and m.kernel_size != m.stride
                                         for m in model.modules()):
        model = model.to(memory_format=torch.channels_last)
    return model


def _autocast(device: str, dtype: torch.dtype):
    if device.startswith("cuda") and dtype != torch.float32:
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()


def _text_max_len(tokenizer: Any, text_cfg: Any) -> int:
    limit = getattr(text_cfg, "max_position_embeddings", None) or 512
    if getattr(text_cfg, "model_type", "") in _ROBERTA_LIKE:
        limit -= 2
    from mmx.metrics.tokenizers import configured_limit

    tok_limit = configured_limit(getattr(tokenizer, "model_max_length", None))
    if tok_limit:
        limit = min(limit, tok_limit)
    return int(limit)


def _dtype_kw(dtype: torch.dtype) -> dict:
    # transformers renamed from_pretrained's torch_dtype= to dtype= in 4.56.
    import transformers

    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    return {"dtype" if (major, minor) >= (4, 56) else "torch_dtype": dtype}


def _rgb(images: list) -> list:
    return [im if im.mode == "RGB" else im.convert("RGB") for im in images]


def _tokenizer_and_config(name: str, family: str) -> tuple[Any, Any]:
    """A transformers folder's (or hub id's) tokenizer and config, no weights: what load_tokenizer reads the
    text limit from (_text_max_len)."""
    from transformers import AutoConfig, AutoTokenizer

    return (load_pretrained(AutoTokenizer.from_pretrained, name, family),
            load_pretrained(AutoConfig.from_pretrained, name, family))


class _DualEncoder(ImageTextEncoder):
    """Shared bits: dtype, empty-batch handling."""

    _dim: int | None = None

    def embed_dim(self) -> int:
        # Found by encoding one blank image once: robust across every architecture.
        if self._dim is None:
            from PIL import Image

            self._dim = int(self.encode_images([Image.new("RGB", (64, 64))]).shape[1])
        return self._dim

    def _empty(self) -> torch.Tensor:
        return torch.zeros((0, self.embed_dim()), dtype=torch.float32)

    def truncated(self, texts: list[str]) -> list[bool]:
        """Per text: longer than max_length tokens, so encode_texts cuts it (reported per sample by the tasks)."""
        return [len(ids) > self.max_length for ids in self.tokenizer(list(texts), verbose=False)["input_ids"]]


# ---------------------------------------------------------------- hf-clip

def _load_hf_processor(name: str) -> tuple[Any, Any]:
    from transformers import AutoImageProcessor, AutoProcessor, AutoTokenizer

    try:
        proc = AutoProcessor.from_pretrained(name)
        tok, ip = getattr(proc, "tokenizer", None), getattr(proc, "image_processor", None)
        if tok is not None and ip is not None:
            return tok, ip
    except Exception:  # no processor config (or an odd one): load the two halves on their own
        pass
    tok = load_pretrained(AutoTokenizer.from_pretrained, name, "hf-clip")
    ip = load_pretrained(AutoImageProcessor.from_pretrained, name, "hf-clip")
    return tok, ip


@register_model("hf-clip")
class HFClip(_DualEncoder):
    """transformers CLIP / SigLIP / SigLIP2 / AltCLIP / ChineseCLIP."""

    cache_version = 1  # bump when mmx changes what this adapter outputs (see mmx/cache.py model_key)
    cache_libraries = ("torch", "transformers", "tokenizers", "pillow")

    def __init__(self, name: str, device: str = "cpu", dtype: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, device, **kwargs)
        _check_args(kwargs, {"max_length"}, "hf-clip")
        self.dtype = pick_dtype(self.device, dtype)
        _check_local(name, "hf-clip")
        from transformers import AutoModel

        model = load_pretrained(AutoModel.from_pretrained, name, "hf-clip", **_dtype_kw(self.dtype))
        if not (hasattr(model, "get_image_features") and hasattr(model, "get_text_features")):
            raise MmxError(
                f"hf-clip model {name!r} is a {type(model).__name__}, not an image-text dual encoder "
                "(needs get_image_features and get_text_features)"
            )
        self.model = _fast_layout(model.to(self.device), self.device).eval()
        self.tokenizer, self.image_processor = _load_hf_processor(name)
        cfg = model.config
        # SigLIP/SigLIP2 were trained on max_length-padded text and pool the last token,
        # so their processors pad to max_length; CLIP-likes pad to the longest text.
        self.pad_to_max = cfg.model_type in ("siglip", "siglip2")
        text_cfg = getattr(cfg, "text_config", cfg)
        self.max_length = int(kwargs.get("max_length") or _text_max_len(self.tokenizer, text_cfg))

    @staticmethod
    def load_tokenizer(name: str, max_length: str | int | None = None, **_: Any):
        """The tokenizer and the text limit alone, from the folder's configs (no weights): `mmx tokenizers`."""
        from mmx.metrics.tokenizers import from_hf

        _check_local(name, "hf-clip")
        tok, cfg = _tokenizer_and_config(name, "hf-clip")
        limit = int(max_length or _text_max_len(tok, getattr(cfg, "text_config", cfg)))
        return from_hf(tok, f"hf-clip:{name}", limit)

    def encode_images(self, images: list) -> torch.Tensor:
        if not images:
            return self._empty()
        batch = self.image_processor(_rgb(images), return_tensors="pt")
        inputs = _to(_accepted(self.model.get_image_features, batch), self.device, self.dtype)
        with torch.inference_mode(), _autocast(self.device, self.dtype):
            out = self.model.get_image_features(**inputs)
        return _normalise(_features(out))

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        if not texts:
            return self._empty()
        batch = self.tokenizer(
            list(texts), padding="max_length" if self.pad_to_max else True, truncation=True,
            max_length=self.max_length, return_tensors="pt",
        )
        inputs = _to(_accepted(self.model.get_text_features, batch), self.device, self.dtype)
        with torch.inference_mode(), _autocast(self.device, self.dtype):
            out = self.model.get_text_features(**inputs)
        return _normalise(_features(out))


# ---------------------------------------------------------------- open_clip

_OPEN_CLIP_HELP = (
    "Pass weights on disk as --model open_clip:ARCH@/path/to/open_clip_pytorch_model.bin "
    "(or .safetensors/.pt), or --model open_clip:/path/to/folder holding open_clip_config.json "
    "+ open_clip_model.safetensors (e.g. from `huggingface-cli download ORG/REPO --local-dir DIR`)."
)
_CKPT_NAMES = ("open_clip_model.safetensors", "open_clip_pytorch_model.safetensors",
               "open_clip_pytorch_model.bin", "open_clip_pytorch_model.pth")


def _known_arch(open_clip: Any, arch: str, name: str) -> None:
    if arch not in open_clip.list_models():
        close = difflib.get_close_matches(arch, open_clip.list_models(), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise MmxError(f"open_clip model {name!r}: unknown architecture {arch!r}.{hint} "
                       "See open_clip.list_models().")


def _open_clip_source(open_clip: Any, name: str) -> tuple[str, str | None, Path | None]:
    """Turn our spec into (model_name, pretrained, local folder) for open_clip."""
    if name.startswith("hf-hub:"):
        repo = name[len("hf-hub:"):]
        # open_clip only *warns* when hub weights are missing and then returns random
        # weights; fetch them first so a missing model is an error.
        try:
            open_clip.pretrained.download_pretrained_from_hf(repo)
        except Exception as e:
            raise MmxError(f"could not load open_clip model {name!r}: the hub could not provide its "
                           f"weights (offline, or no such repo: {type(e).__name__}). {_OPEN_CLIP_HELP}") from e
        return name, None, None
    path = Path(name).expanduser()
    if _looks_like_path(name) and "@" not in name and not path.exists():
        raise MmxError(f"open_clip model {name!r}: no such local folder. {_OPEN_CLIP_HELP}")
    if path.is_dir():
        if not (path / "open_clip_config.json").is_file():
            raise MmxError(f"open_clip folder {name} has no open_clip_config.json. {_OPEN_CLIP_HELP}")
        if not any((path / c).is_file() for c in _CKPT_NAMES):
            # Same reason as above: open_clip would silently build random weights.
            raise MmxError(f"open_clip folder {name} has no weights ({' / '.join(_CKPT_NAMES)}). {_OPEN_CLIP_HELP}")
        return f"local-dir:{path}", None, path
    if "@" not in name:
        raise MmxError(f"open_clip model {name!r}: write ARCH@PRETRAINED (e.g. ViT-B-32@openai), "
                       f"ARCH@/path/to/checkpoint, hf-hub:ORG/REPO or an existing folder "
                       f"(a bare ARCH would have random weights). {_OPEN_CLIP_HELP}")
    arch, pretrained = name.split("@", 1)
    if _looks_like_path(pretrained) or Path(pretrained).suffix in (".pt", ".pth", ".bin", ".safetensors"):
        ckpt = Path(pretrained).expanduser()
        if not ckpt.is_file():
            raise MmxError(f"open_clip model {name!r}: checkpoint file {pretrained} does not exist. {_OPEN_CLIP_HELP}")
        sidecar = ckpt.parent / f"{arch}.json"
        if arch not in open_clip.list_models() and sidecar.is_file():
            open_clip.add_model_config(sidecar)  # custom architecture shipped next to its weights
        _known_arch(open_clip, arch, name)
        return arch, str(ckpt), ckpt.parent
    _known_arch(open_clip, arch, name)
    tags = open_clip.list_pretrained_tags_by_model(arch)
    if pretrained not in tags:
        raise MmxError(f"open_clip model {name!r}: {arch} has no pretrained tag {pretrained!r}; "
                       f"known: {', '.join(tags) or 'none'}")
    return arch, pretrained, None


def _simple_context(tokenizer: Any) -> int | None:
    """The context length of open_clip's CLIP BPE tokenizer (SimpleTokenizer: zero padding, cut at the
    context length with <end> kept last), None for any other tokenizer (HF-wrapped, or a reduction mode)."""
    try:
        from open_clip.tokenizer import SimpleTokenizer
    except ImportError:
        return None
    if type(tokenizer) is not SimpleTokenizer or getattr(tokenizer, "reduction_fn", None) is not None:
        return None
    n = getattr(tokenizer, "context_length", None)
    return int(n) if n and getattr(tokenizer, "eot_token_id", None) is not None else None


def _uint8_split(preprocess: Any) -> tuple[Any, torch.Tensor, torch.Tensor] | None:
    """open_clip's image transform is Compose([PIL steps..., ToTensor(), Normalize(mean, std)]). Split off
    the last two, to run once per batch on the model's device by the same operations in the same order
    (ToTensor: .float().div(255); Normalize: .sub(mean).div(std)), so the result is bit-identical. Why: per
    image, ToTensor and Normalize hold the GIL for ~0.3 ms (of ~0.5 ms with the PNG decode), so the loader
    threads could not run them in parallel; per batch they are one vectorised pass. On CUDA the images also
    travel as uint8, a quarter of float32's bytes (for ViT-B/32 the copy outweighs the model).
    None for any other transform (it then runs whole, in the loader threads)."""
    from torchvision.transforms import Compose, Normalize, ToTensor

    steps = getattr(preprocess, "transforms", None)
    if not isinstance(preprocess, Compose) or len(steps) < 2 or not isinstance(steps[-2], ToTensor) \
            or not isinstance(steps[-1], Normalize) or steps[-1].inplace:
        return None
    norm = steps[-1]
    return Compose(steps[:-2]), torch.as_tensor(norm.mean).view(-1, 1, 1), torch.as_tensor(norm.std).view(-1, 1, 1)


def _encode_trimmed(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    """open_clip CLIP's encode_text over the columns up to the batch's longest text only.

    The CLIP text tower is causal: a position sees only the ones before it, and the pooled position (the
    <end> token, or the first) comes before the padding, so the padding columns after the longest text change
    nothing but cost most of the compute (probe captions are 10-20 of CLIP's 77 tokens). Same steps as
    open_clip.model.CLIP.encode_text, with the positional embedding and the causal mask cut to that length.
    """
    from open_clip.transformer import text_global_pool

    used = (tokens != 0).any(0).nonzero()
    n = int(used[-1]) + 1 if len(used) else 1
    tokens = tokens[:, :n]
    cast = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast) + model.positional_embedding[:n].to(cast)
    x = model.ln_final(model.transformer(x, attn_mask=model.attn_mask[:n, :n]))
    x = text_global_pool(x, tokens, model.text_pool_type, eos_token_id=getattr(model, "text_eos_id", None))
    if model.text_projection is not None:
        x = model.text_projection(x) if isinstance(model.text_projection, torch.nn.Linear) else x @ model.text_projection
    return x


def _can_trim(model: Any, tokenizer: Any, context: int | None, device: str) -> bool:
    """Whether _encode_trimmed may replace encode_text for this model: a plain open_clip CLIP with a causal
    text mask, zero padding and a pooling that never reads past <end>; checked once against encode_text.
    ``context``: _simple_context(tokenizer), as the adapter already holds it."""
    try:
        from open_clip.model import CLIP
    except ImportError:
        return False
    if (type(model) is not CLIP or getattr(model, "attn_mask", None) is None or context is None
            or getattr(model, "text_pool_type", None) not in ("argmax", "eos", "first")):
        return False
    probe = tokenizer(["a", "two blue triangles on the left of a red circle"]).to(device)
    try:
        with torch.inference_mode():
            return bool(torch.allclose(_encode_trimmed(model, probe), model.encode_text(probe), rtol=1e-3, atol=1e-5))
    except Exception:  # noqa: BLE001  (an open_clip whose CLIP differs from what this mirrors: use encode_text)
        return False


@register_model("open_clip")
class OpenClip(_DualEncoder):
    """open_clip models, including the multilingual xlm-roberta ones."""

    cache_version = 1  # bump when mmx changes what this adapter outputs (see mmx/cache.py model_key)
    cache_libraries = ("torch", "open_clip_torch", "timm", "torchvision", "pillow")

    def __init__(self, name: str, device: str = "cpu", dtype: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, device, **kwargs)
        _check_args(kwargs, set(), "open_clip")
        self.dtype = pick_dtype(self.device, dtype)
        import open_clip

        model_name, pretrained, self.local_dir = _open_clip_source(open_clip, name)
        try:
            # Weights stay float32; half precision comes from autocast on CUDA.
            model, _, self.preprocess = open_clip.create_model_and_transforms(
                model_name, pretrained=pretrained, device=self.device)
            self.tokenizer = open_clip.get_tokenizer(model_name)
        except (OSError, RuntimeError, ValueError) as e:
            first = str(e).splitlines()[0].rstrip(".") if str(e) else type(e).__name__
            raise MmxError(f"could not load open_clip model {name!r} (offline, or not cached?): {first}. "
                           f"{_OPEN_CLIP_HELP}") from e
        self.model = _fast_layout(model, self.device).eval()
        # CLIP's own BPE tokenizer, cutting at context_length: one pass gives both the model's tokens and
        # the truncation flags (_tokens), so truncated() needs no second tokenisation of the same captions.
        self._context = _simple_context(self.tokenizer)
        self._cut: dict[str, bool] = {}  # text -> cut, from the last encode_texts calls; read by truncated()
        self._trim = _can_trim(self.model, self.tokenizer, self._context, self.device)
        split = _uint8_split(self.preprocess)
        if split is not None:
            self._pil_steps, mean, std = split
            self._mean, self._std = mean.to(self.device), std.to(self.device)
        else:
            self._pil_steps = None

    @staticmethod
    def load_tokenizer(name: str, **_: Any):
        """open_clip.get_tokenizer for the spec's architecture (no weights; a hub spec fetches its config only)."""
        import open_clip

        from mmx.metrics.tokenizers import from_open_clip

        model_name = name if name.startswith("hf-hub:") else _open_clip_source(open_clip, name)[0]
        return from_open_clip(open_clip.get_tokenizer(model_name), f"open_clip:{name}")

    def truncated(self, texts: list[str]) -> list[bool]:
        """Per text: longer than the context length (77 for CLIP), so the tokenizer cuts it. Texts that
        encode_texts has just tokenised are answered from that pass."""
        if texts and all(t in self._cut for t in texts):
            flags = [self._cut[t] for t in texts]
            for t in texts:  # read once: the memo holds only what is still to be asked for
                self._cut.pop(t, None)
            return flags
        from mmx.metrics.tokenizers import from_open_clip

        tok = from_open_clip(self.tokenizer, self.name)
        return [tok.truncated(t) for t in texts]

    def _tokens(self, texts: list[str]) -> torch.Tensor:
        """The model's (texts, context_length) token ids, as self.tokenizer(texts) gives them; with CLIP's BPE
        tokenizer also the truncation flag of each text, from the same pass (kept for truncated())."""
        if self._context is None:
            return self.tokenizer(list(texts))
        n = self._context
        # One column more than the model reads: a text is cut iff its tokens (with <start>/<end>) fill it.
        wide = self.tokenizer(list(texts), context_length=n + 1)
        cut = wide[:, n] != 0
        tokens = wide[:, :n].clone()
        tokens[cut, n - 1] = self.tokenizer.eot_token_id  # what cutting at n does: <end> stays last
        if len(self._cut) > 1_000_000:  # never read back (a caller that does not ask): do not grow forever
            self._cut.clear()
        self._cut.update(zip(texts, cut.tolist()))
        return tokens

    def info(self) -> dict[str, Any]:
        d = super().info()
        if self.local_dir is not None:
            d["local_path"] = str(self.local_dir.resolve())
            d["random_weights"] = is_random_weights(self.local_dir)
        return d

    def prepare_image(self, image: Any) -> torch.Tensor:
        """The image transform's PIL steps, run in the loader threads: a uint8 tensor, scaled and normalised
        per batch on the model's device by encode_images (_uint8_split); or the whole transform's float32
        tensor when it does not split."""
        if isinstance(image, torch.Tensor):
            return image
        image = _rgb([image])[0]
        if self._pil_steps is not None:
            from torchvision.transforms.functional import pil_to_tensor

            return pil_to_tensor(self._pil_steps(image))
        return self.preprocess(image)

    def encode_images(self, images: list) -> torch.Tensor:
        if not images:
            return self._empty()
        x = torch.stack([self.prepare_image(im) for im in images]).to(self.device)
        if x.dtype == torch.uint8:
            x = x.float().div(255).sub(self._mean).div(self._std)
        with torch.inference_mode(), _autocast(self.device, self.dtype):
            return _normalise(self.model.encode_image(x))

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        if not texts:
            return self._empty()
        tokens = self._tokens(texts).to(self.device)  # truncates to the context length
        with torch.inference_mode(), _autocast(self.device, self.dtype):
            return _normalise(_encode_trimmed(self.model, tokens) if self._trim else self.model.encode_text(tokens))


# ---------------------------------------------------------------- mclip

def _load_weights(folder: Path, names: tuple[str, ...]) -> dict[str, torch.Tensor]:
    for n in names:
        p = folder / n
        if p.is_file():
            if p.suffix == ".safetensors":
                from safetensors.torch import load_file

                return load_file(str(p))
            return torch.load(p, map_location="cpu", weights_only=True)
    raise MmxError(f"mclip: no weights file ({' or '.join(names)}) in {folder}")


def _linear(w: torch.Tensor, b: torch.Tensor | None) -> torch.nn.Linear:
    lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=b is not None)
    with torch.no_grad():
        lin.weight.copy_(w)
        if b is not None:
            lin.bias.copy_(b)
    return lin.eval()


def _st_dense(folder: Path) -> tuple[torch.nn.Linear, torch.nn.Module]:
    """sentence-transformers 2_Dense: config.json + linear.{weight,bias}."""
    cfg = json.loads((folder / "config.json").read_text())
    act_name = cfg.get("activation_function", "torch.nn.modules.linear.Identity")
    acts = {"Identity": torch.nn.Identity(), "Tanh": torch.nn.Tanh()}
    act = acts.get(act_name.rsplit(".", 1)[-1])
    if act is None:
        raise MmxError(f"mclip: unsupported 2_Dense activation {act_name} in {folder}")
    sd = _load_weights(folder, ("model.safetensors", "pytorch_model.bin"))
    return _linear(sd["linear.weight"], sd.get("linear.bias")), act


def _config_json(name: str) -> dict:
    """A text tower's config.json as a dict ({} without one): a folder's, or for a hub id that file alone."""
    folder = Path(name).expanduser()
    if folder.is_dir():
        p = folder / "config.json"
        return json.loads(p.read_text()) if p.is_file() else {}
    from huggingface_hub import hf_hub_download

    return json.loads(Path(load_pretrained(hf_hub_download, name, "mclip", filename="config.json")).read_text())


def _mclip_base(name: str, cfg: dict, text_base: str | None) -> str:
    base = text_base or cfg.get("modelBase")
    if not base:
        raise MmxError(f"mclip: {name}/config.json has no modelBase; pass text_base=ID_OR_DIR")
    return base


def _text_tokenizer(name: str, cfg: dict, text_base: str | None) -> tuple[Any, Any]:
    """A text tower's tokenizer and the transformers config of its model (what the text limit is read from),
    in every mclip layout. ``cfg``: its config.json (_config_json). An M-CLIP config.json is no transformers
    config (model_type "M-CLIP"): the architecture is its modelBase's (or text_base's)."""
    from transformers import AutoConfig, AutoTokenizer

    if cfg.get("model_type") != "M-CLIP":
        return _tokenizer_and_config(name, "mclip")
    base = _mclip_base(name, cfg, text_base)
    base_cfg = load_pretrained(AutoConfig.from_pretrained, base, "mclip")
    try:
        tok = AutoTokenizer.from_pretrained(name)
    except Exception:  # tokenizer_config without tokenizer_class: AutoTokenizer can't read "M-CLIP"
        tok = load_pretrained(AutoTokenizer.from_pretrained, base, "mclip")
    return tok, base_cfg


def _load_mclip_layout(folder: Path, base_cfg: Any, base: str) -> tuple[Any, torch.nn.Linear]:
    """M-CLIP (FreddeFrallan/Multilingual-CLIP): transformer.* + LinearTransformation.*, on the architecture
    of ``base_cfg`` (the config of ``base``, its modelBase: _text_tokenizer)."""
    from transformers import AutoModel

    model = AutoModel.from_config(base_cfg)
    sd = _load_weights(folder, ("model.safetensors", "pytorch_model.bin"))
    tsd = {k[len("transformer."):]: v for k, v in sd.items() if k.startswith("transformer.")}
    missing, unexpected = model.load_state_dict(tsd, strict=False)
    # position_ids is a buffer that older checkpoints store and newer models don't (or vice versa).
    missing = [k for k in missing if not k.endswith("position_ids")]
    unexpected = [k for k in unexpected if not k.endswith("position_ids")]
    if missing or unexpected:
        raise MmxError(f"mclip: M-CLIP weights in {folder} do not fit {base}: missing {missing[:5]}, "
                       f"unexpected {unexpected[:5]}")
    return model, _linear(sd["LinearTransformation.weight"], sd.get("LinearTransformation.bias"))


@register_model("mclip")
class MClip(_DualEncoder):
    """Multilingual text tower + projection, aligned with a separate image tower."""

    cache_version = 1  # bump when mmx changes what this adapter outputs (see mmx/cache.py model_key)
    cache_libraries = ("torch", "transformers", "tokenizers", "open_clip_torch", "pillow")

    def __init__(self, name: str, device: str = "cpu", dtype: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, device, **kwargs)
        _check_args(kwargs, {"pooling", "max_length", "text_base"}, "mclip")
        self.dtype = pick_dtype(self.device, dtype)
        if "+" not in name:
            raise MmxError(f"mclip model {name!r}: write TEXT_ID_OR_DIR+IMAGE_ID_OR_DIR, e.g. "
                           "mclip:M-CLIP/XLM-Roberta-Large-Vit-B-32+openai/clip-vit-base-patch32")
        text_name, image_name = (s.strip() for s in name.split("+", 1))
        self.text_name = text_name
        if _looks_like_path(text_name) and not Path(text_name).expanduser().exists():
            raise MmxError(f"mclip {name!r}: text tower folder {text_name} does not exist. "
                           f"Write --model mclip:/path/to/text_folder+{image_name}")
        # Image tower first: its dimension checks the text projection below.
        try:
            if image_name.startswith("open_clip:"):
                self.image_tower: _DualEncoder = OpenClip(image_name[len("open_clip:"):], device, dtype)
            else:
                self.image_tower = HFClip(image_name.removeprefix("hf-clip:"), device, dtype)
        except MmxError as e:
            raise MmxError(f"mclip {name!r}: the image tower did not load: {str(e).rstrip('.')}. "
                           f"In mclip, the image tower goes after the '+': "
                           f"--model mclip:{text_name}+/path/to/image_folder") from e
        try:
            self._load_text(text_name, kwargs)
        except MmxError as e:
            raise MmxError(f"mclip {name!r}: the text tower did not load: {str(e).rstrip('.')}. "
                           f"In mclip, the text tower goes before the '+': "
                           f"--model mclip:/path/to/text_folder+{image_name}") from e
        text_dim = self.proj.out_features if self.proj is not None else self.text_model.config.hidden_size
        image_dim = self.image_tower.embed_dim()
        if text_dim != image_dim:
            raise MmxError(f"mclip {name!r}: text embeddings have {text_dim} dims but the image tower gives "
                           f"{image_dim}; the text tower needs a projection (projection.safetensors, "
                           "2_Dense/ or M-CLIP LinearTransformation) into this image tower's space")
        self._dim = image_dim

    def _load_text(self, text_name: str, kwargs: dict) -> None:
        folder = model_folder(text_name, "mclip")
        cfg = _config_json(str(folder))
        self.tokenizer, text_cfg = _text_tokenizer(str(folder), cfg, kwargs.get("text_base"))
        self.act: torch.nn.Module = torch.nn.Identity()
        self.proj: torch.nn.Linear | None = None
        if cfg.get("model_type") == "M-CLIP":
            base = _mclip_base(str(folder), cfg, kwargs.get("text_base"))
            model, self.proj = _load_mclip_layout(folder, text_cfg, base)
        else:
            from transformers import AutoModel

            model = load_pretrained(AutoModel.from_pretrained, str(folder), "mclip")
            if (folder / "projection.safetensors").is_file():
                sd = _load_weights(folder, ("projection.safetensors",))
                self.proj = _linear(sd["weight"], sd.get("bias"))
            elif (folder / "2_Dense" / "config.json").is_file():
                self.proj, self.act = _st_dense(folder / "2_Dense")
        self.text_model = model.to(self.device, self.dtype).eval()
        if self.proj is not None:
            self.proj = self.proj.to(self.device)  # kept float32: it runs after pooling
        self.pooling = kwargs.get("pooling") or st_pooling(folder, "mclip") or "mean"
        if self.pooling not in ("mean", "cls"):
            raise MmxError(f"mclip: pooling={self.pooling!r}; use mean or cls")
        self.max_length = int(kwargs.get("max_length") or _text_max_len(self.tokenizer, text_cfg))

    @staticmethod
    def load_tokenizer(name: str, max_length: str | int | None = None, text_base: str | None = None, **_: Any):
        """The text tower's tokenizer (no weights); the limit from its config, as _load_text sets it."""
        from mmx.metrics.tokenizers import from_hf

        text = name.split("+", 1)[0].strip()
        _check_local(text, "mclip")
        tok, text_cfg = _text_tokenizer(text, _config_json(text), text_base)
        return from_hf(tok, f"mclip:{text}", int(max_length or _text_max_len(tok, text_cfg)))

    def info(self) -> dict[str, Any]:
        d = super().info()
        local = Path(self.text_name).expanduser()
        d["local_path"] = str(local.resolve()) if local.exists() else None
        image = self.image_tower.info()
        d["image_tower"] = image
        d["random_weights"] = bool((local.exists() and is_random_weights(local)) or image["random_weights"])
        return d

    def encode_images(self, images: list) -> torch.Tensor:
        return self.image_tower.encode_images(images)

    def prepare_image(self, image: Any) -> Any:
        return self.image_tower.prepare_image(image)

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        if not texts:
            return self._empty()
        batch = self.tokenizer(list(texts), padding=True, truncation=True,
                               max_length=self.max_length, return_tensors="pt")
        inputs = _to(_accepted(self.text_model.forward, batch), self.device, self.dtype)
        with torch.inference_mode():
            with _autocast(self.device, self.dtype):
                hidden = self.text_model(**inputs)[0].float()
            pooled = pool(hidden, batch["attention_mask"].to(self.device), self.pooling)
            if self.proj is not None:
                pooled = self.act(self.proj(pooled))
        return _normalise(pooled)
