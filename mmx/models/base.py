"""Adapter base classes: one small capability interface per kind of model.

A task kind asks for a capability (e.g. ``ImageTextEncoder``); any registered
family that implements it can be evaluated by that task kind.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

import torch

from mmx.errors import MmxError
from mmx.schema import redact_args

# A folder holding this file was built by mmx from a config with random weights
# (tests, offline demo). Every report of such a model says "random weights".
RANDOM_WEIGHTS_MARKER = "mmx_random_weights.json"

T = TypeVar("T")


@dataclass
class ModelSpec:
    """``family:name`` plus ``k=v`` args, as given on the command line."""

    family: str
    name: str
    args: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str, args: str | dict | None = None) -> "ModelSpec":
        if ":" not in spec:
            raise MmxError(
                f"model spec {spec!r} has no family: write FAMILY:ID_OR_PATH, e.g. "
                "hf-clip:openai/clip-vit-base-patch32 (see `mmx models`)"
            )
        family, name = spec.split(":", 1)
        return cls(family.strip(), name.strip(), parse_kv(args))

    def __str__(self) -> str:
        return f"{self.family}:{self.name}"


def parse_kv(args: str | dict | None) -> dict[str, str]:
    """Parse ``k=v,k2=v2`` (the ``--model-args`` syntax)."""
    if not args:
        return {}
    if isinstance(args, dict):
        return {str(k): str(v) for k, v in args.items()}
    out: dict[str, str] = {}
    for part in args.split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise MmxError(f"bad argument {part!r} in {args!r}: expected key=value pairs separated by commas")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


_DEVICE = re.compile(r"(cpu|mps|cuda(:\d+)?)")


def pick_device(device: str | None) -> str:
    """The torch device to use: a bad name or a GPU that is not there is an MmxError, not a torch traceback."""
    if device in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    d = str(device).strip().lower()
    if not _DEVICE.fullmatch(d):
        raise MmxError(f"--device {device!r}: use cpu, cuda, cuda:N (the GPU's index) or mps")
    if d.startswith("cuda"):
        if not torch.cuda.is_available():
            raise MmxError(f"--device {device} was asked for but torch sees no CUDA device; use --device cpu")
        n = torch.cuda.device_count()
        if ":" in d and int(d.split(":")[1]) >= n:
            raise MmxError(f"--device {device}: torch sees {n} CUDA device(s), cuda:0 to cuda:{n - 1}")
    if d == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise MmxError(f"--device {device} was asked for but torch sees no Apple GPU (MPS); use --device cpu")
    return d


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


def is_random_weights(path: str | os.PathLike) -> bool:
    return Path(path, RANDOM_WEIGHTS_MARKER).is_file()


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


def hub_offline_if_unreachable(timeout: float = 3.0) -> bool:
    """If the hub cannot be reached, switch huggingface_hub to offline (cache-only) mode for this process.

    Without this, every from_pretrained on an uncached hub id retries for about a minute before failing.
    Returns True when offline mode is (now) on.
    """
    import socket
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return True
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return False
    except OSError:
        os.environ["HF_HUB_OFFLINE"] = "1"
        try:
            import huggingface_hub.constants as hc

            hc.HF_HUB_OFFLINE = True  # read once at import time, so set the module constant as well
        except ImportError:
            pass
        return True


class Adapter:
    """Base of every model adapter. Subclasses register with ``@register_model``."""

    registry_name: str = ""
    capability: str = ""  # set by the capability base class

    def __init__(self, name: str, device: str = "cpu", **kwargs: Any) -> None:
        self.name = name
        self.device = pick_device(device)
        self.kwargs = kwargs

    def info(self) -> dict[str, Any]:
        """What the result schema records about the model."""
        local = Path(self.name).exists()
        return {
            "family": self.registry_name,
            "name": self.name,
            "local_path": str(Path(self.name).resolve()) if local else None,
            "random_weights": bool(local and is_random_weights(self.name)),
            "device": self.device,
            "dtype": str(getattr(self, "dtype", "")).replace("torch.", ""),
            "args": redact_args({k: str(v) for k, v in self.kwargs.items()}),  # no api_key in results.json
        }


class ImageTextEncoder(Adapter):
    """CLIP-style dual encoder. Both methods return L2-normalised float32 CPU tensors (N, D)."""

    capability = "image-text-encoder"

    def encode_images(self, images: list) -> torch.Tensor:  # list of PIL.Image
        raise NotImplementedError

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        raise NotImplementedError
