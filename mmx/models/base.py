"""What every adapter shares: dtype choice, loading pretrained weights with clear errors, random-weight
markers, and hub offline detection. The capability interfaces and the Adapter base are in mmx/capabilities.py.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, TypeVar

import torch

# The capabilities, the Adapter base, ModelSpec and pick_device live in mmx/capabilities.py (task kinds
# import them from there); re-exported here so ``from mmx.models.base import ...`` keeps working.
from mmx.capabilities import (RANDOM_WEIGHTS_MARKER, Adapter, ImageTextEncoder, ModelSpec,  # noqa: F401
                              is_random_weights, parse_kv, pick_device)
from mmx.errors import MmxError

T = TypeVar("T")


def pick_dtype(device: str, dtype: str | None) -> torch.dtype:
    """float32 on CPU; bf16 on CUDA where supported, else fp16 (override with dtype=...)."""
    names = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16,
             "fp16": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
    if dtype:
        if dtype not in names:
            raise MmxError(f"unknown dtype {dtype!r}; use one of {', '.join(names)}")
        return names[dtype]
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def mark_random_weights(path: str | os.PathLike, how: str) -> None:
    Path(path, RANDOM_WEIGHTS_MARKER).write_text(
        json.dumps({"random_weights": True, "built_by": how}, indent=1) + "\n"
    )


def load_pretrained(loader: Callable[..., T], name: str, family: str, **kwargs: Any) -> T:
    """Call a real ``from_pretrained``-style loader; turn "not on disk and no hub" into a clear error."""
    try:
        return loader(name, **kwargs)
    except (OSError, ValueError, RuntimeError) as e:
        if Path(name).exists():
            raise MmxError(f"could not load {family} model from local folder {name}: {e}") from e
        raise MmxError(
            f"could not load {family} model {name!r}: it is not a local folder and the hub could not "
            f"provide it (offline, or no such id). Download it on a machine with internet "
            f"(e.g. `huggingface-cli download {name} --local-dir DIR`) and pass "
            f"--model {family}:DIR. Underlying error: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
        ) from e


def model_folder(name: str, family: str) -> Path:
    """A model's files on disk: a local folder itself, or the hub snapshot of the id (without the weights of
    other frameworks), so that layouts beside the weights (sentence-transformers' pooling, M-CLIP's projection)
    are read from files."""
    p = Path(name).expanduser()
    if p.is_dir():
        return p
    from huggingface_hub import snapshot_download

    ignore = ["*.h5", "*.msgpack", "*.onnx", "*.ot", "*.tflite", "onnx/*", "openvino/*", "tf_model*"]
    return Path(load_pretrained(snapshot_download, name, family, ignore_patterns=ignore))


from mmx.data.hub import hub_offline_if_unreachable  # noqa: E402,F401  (one definition, shared with data loading)
