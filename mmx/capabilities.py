"""What a model can do: the Adapter base and one small interface (a capability) per kind of model.

A task kind names the capability it needs (``TaskKind.capability``, one of the classes below); any
registered model family that subclasses it can be evaluated by that task kind. ``capability`` always
means such a class; its ``capability_name`` (e.g. "speech-recognizer") is what `mmx models` prints.
Task kinds import this module, never an adapter module (mmx.models.*), and adapters import their
capability from here (see docs/design: "Layers").

Also here, because task kinds and the runner need them without loading any model code: ``ModelSpec``
(``FAMILY:ID`` plus ``k=v`` args, how a model is named) and ``pick_device``. Nothing here imports torch
at import time: ``mmx tasks`` and ``mmx models`` must answer without it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmx.errors import MmxError
from mmx.schema import redact_args

if TYPE_CHECKING:  # type hints only
    import numpy as np
    import torch

# A folder holding this file was built by mmx from a config with random weights
# (tests, offline demo). Every report of such a model says "random weights".
RANDOM_WEIGHTS_MARKER = "mmx_random_weights.json"


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
    d = str(device or "").strip().lower()
    if d not in ("", "auto") and not _DEVICE.fullmatch(d):
        raise MmxError(f"--device {device!r}: use cpu, cuda, cuda:N (the GPU's index) or mps")
    if d == "cpu":
        return d  # no torch needed (espeak-ng, HTTP adapters)
    import torch

    if d in ("", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if d.startswith("cuda"):
        if not torch.cuda.is_available():
            raise MmxError(f"--device {device} was asked for but torch sees no CUDA device; use --device cpu")
        n = torch.cuda.device_count()
        if ":" in d and int(d.split(":")[1]) >= n:
            raise MmxError(f"--device {device}: torch sees {n} CUDA device(s), cuda:0 to cuda:{n - 1}")
    if d == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise MmxError(f"--device {device} was asked for but torch sees no Apple GPU (MPS); use --device cpu")
    return d


def is_random_weights(path) -> bool:
    return Path(path, RANDOM_WEIGHTS_MARKER).is_file()


class Adapter:
    """Base of every model adapter. Subclasses register with ``@register_model`` and subclass a capability."""

    registry_name: str = ""
    capability_name: str = ""  # set by the capability class

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


def capability_names(family: type) -> list[str]:
    """The names of every capability a family (or capability) implements, e.g. ["speech-recognizer",
    "speech-translator"] for Whisper: what error messages say a family is."""
    names = [c.__dict__["capability_name"] for c in family.__mro__ if c.__dict__.get("capability_name")]
    return list(dict.fromkeys(names))


# --- the capabilities ----------------------------------------------------------------------------------------

class TextEncoder(Adapter):
    """Sentence embeddings: ``encode_texts(texts)`` returns L2-normalised float32 CPU tensors (N, D)
    (mmx/models/text_encoder.py; the bitext task kind needs only this)."""

    capability_name = "text-encoder"

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        raise NotImplementedError


class ImageTextEncoder(TextEncoder):
    """CLIP-style dual encoder: encode_images and encode_texts (TextEncoder's) both return L2-normalised
    float32 CPU tensors (N, D), in one shared space. A text encoder too: its text tower runs the bitext kind."""

    capability_name = "image-text-encoder"

    def prepare_image(self, image: Any) -> Any:
        """One decoded PIL image made ready for encode_images, in the loader threads ahead of the model
        (mmx/cache.py cached_map): an adapter whose preprocessing runs per image on the CPU does it here, so
        it runs in parallel and overlaps the model. Default: the image itself."""
        return image

    def encode_images(self, images: list) -> torch.Tensor:  # PIL images, or what prepare_image returned
        raise NotImplementedError


class SpeechRecognizer(Adapter):
    """ASR: ``transcribe(waveforms, sample_rate, language) -> texts`` (float32 mono waveforms)."""

    capability_name = "speech-recognizer"

    def transcribe(self, waveforms: list[np.ndarray], sample_rate: int, language: str) -> list[str]:
        raise NotImplementedError


class SpeechTranslator(Adapter):
    """Speech translation into English: ``translate(waveforms, sample_rate, language) -> English texts``, where
    ``language`` is the language spoken (Whisper's ``translate`` task, OpenAI's /v1/audio/translations)."""

    capability_name = "speech-translator"

    def translate(self, waveforms: list[np.ndarray], sample_rate: int, language: str) -> list[str]:
        raise NotImplementedError


class SpeechSynthesizer(Adapter):
    """TTS: ``synthesize(texts, language) -> (float32 mono waveforms, sample_rate)``."""

    capability_name = "speech-synthesizer"

    def synthesize(self, texts: list[str], language: str) -> tuple[list[np.ndarray], int]:
        raise NotImplementedError


class PromptTooLong(MmxError):
    """A prompt (with its image tokens) longer than the model takes; ``index`` is its place in the batch.
    Raised by VisionLanguageModel adapters; the VQA task kind records such a sample as skipped."""

    def __init__(self, index: int, n_tokens: int, limit: int):
        self.index, self.n_tokens, self.limit = index, n_tokens, limit
        what = (f"{n_tokens} tokens (images included); the model takes at most {limit}" if n_tokens >= 0
                else "longer than the server's model takes (it refused it)")
        super().__init__(f"prompt {index} of the batch is {what}")


class VisionLanguageModel(Adapter):
    """``generate(batch, max_new_tokens)``: items ``(images, prompt)``, one greedy answer each.
    ``score_options(batch)``: items ``(images, prompt, options)``, the log-likelihood of each option as the
    reply. Either may raise PromptTooLong."""

    capability_name = "vision-language-model"

    def generate(self, batch: list[tuple[list, str]], max_new_tokens: int = 16) -> list[str]:
        raise NotImplementedError

    def score_options(self, batch: list[tuple[list, str, list[str]]]) -> list[list[float]]:
        raise NotImplementedError


class CodeGenerator(Adapter):
    """``complete(prompts, n, temperature, max_new_tokens, stop, seed)``: per prompt, ``n`` completions (the
    text after the prompt, cut at the first stop sequence); temperature 0 is greedy."""

    capability_name = "code-generator"

    def complete(self, prompts: list[str], n: int = 1, temperature: float = 0.0, max_new_tokens: int = 512,
                 stop: list[str] | None = None, seed: int = 1234) -> list[list[str]]:
        raise NotImplementedError
