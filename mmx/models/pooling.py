"""Sentence pooling as sentence-transformers does it (``models/Pooling.py``): which pooling a folder declares
(``st_pooling``) and the pooling itself (``pool``). Shared by hf-text, mclip's text tower and hf-causal's
text encoder. torch is imported inside ``pool`` only, so importing this module stays cheap.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mmx.errors import MmxError

POOLINGS = ("mean", "cls", "last", "max")
# sentence-transformers' 1_Pooling/config.json keys -> our names (the first one set wins, in this order)
ST_POOLING = {"pooling_mode_cls_token": "cls", "pooling_mode_lasttoken": "last",
              "pooling_mode_mean_tokens": "mean", "pooling_mode_max_tokens": "max"}


def st_pooling(folder: Path, family: str = "hf-text") -> str | None:
    """The pooling a sentence-transformers folder declares, or None when it has no 1_Pooling config."""
    modules = folder / "modules.json"
    path = "1_Pooling"
    if modules.is_file():
        found = [m.get("path") for m in json.loads(modules.read_text()) if str(m.get("type", "")).endswith("Pooling")]
        path = found[0] if found else path
    p = folder / path / "config.json"
    if not p.is_file():
        return None
    cfg = json.loads(p.read_text())
    on = [k for k, v in cfg.items() if k.startswith("pooling_mode") and v]
    known = [ST_POOLING[k] for k in ST_POOLING if k in on]
    if len(on) != 1 or not known:
        raise MmxError(f"{family}: {p} asks for pooling {', '.join(on) or 'none'}; mmx implements one of "
                       f"{', '.join(ST_POOLING)}. Pass pooling=mean|cls|last|max to choose one")
    return known[0]


def pool(hidden: Any, mask: Any, how: str) -> Any:
    """(B, T, H) hidden states and (B, T) attention mask -> (B, H), as sentence-transformers pools."""
    import torch

    m = mask.to(hidden.dtype).unsqueeze(-1)
    if how == "cls":
        return hidden[:, 0]
    if how == "mean":
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
    if how == "max":
        return hidden.masked_fill(m == 0, float("-inf")).max(1).values
    if how == "last":  # the last real token, whichever side the tokenizer pads
        last = mask.shape[1] - 1 - mask.long().flip(1).argmax(1)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    raise MmxError(f"pooling={how!r}; use one of {', '.join(POOLINGS)}")
