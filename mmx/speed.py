"""Speed as a result: throughput per task and per language, measured around the model calls only.

Every model call of a task goes through ``mmx.cache.cached_map``, which times the call (not the data
loading, cache look-ups, scoring or record writing around it) and hands the seconds to a ``Timer`` made
here. The first batch of each model operation in a process is warm-up (lazy initialisation, CUDA kernels
being picked, allocator growth) and is left out, the way the Open ASR Leaderboard and CLIP_benchmark-style
timings do; where a language had nothing but warm-up batches its figure includes them and says so.
Items answered from the output cache are not timed at all: they cost no model time. A model is loaded
lazily, inside its first call: the loading time is taken out of that call's seconds.

Each figure is in its modality's own unit:
    images_per_s, texts_per_s     encoders (retrieval, zero-shot, bitext)
    rtfx                          ASR and TTS: seconds of audio per second of compute
    prompt_tokens_per_s           generation: prompt tokens / time to first token (prefill)
    generated_tokens_per_s        generation: generated tokens / generation time
    ttft_s                        generation: time to first token, mean per batch (lower is better)
    programs_per_s                code execution, sandbox included
    samples_per_s                 anything else (VQA option scoring)
A figure is pooled: total work / total seconds (``ttft_s``: total seconds / batches). In a sharded run the
ranks' work and seconds are summed, so a figure is the throughput of one device.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

_LOADING = [0.0]  # seconds this process spent loading models (mmx/runner.py LazyModel): kept out of timings


def loading_took(seconds: float) -> None:
    _LOADING[0] += seconds


def load_seconds() -> float:
    return _LOADING[0]


# figure -> (unit, higher_is_better)
FIGURES: dict[str, tuple[str, bool]] = {
    "images_per_s": ("images/s", True),
    "texts_per_s": ("texts/s", True),
    "rtfx": ("x real time", True),
    "prompt_tokens_per_s": ("tokens/s", True),
    "generated_tokens_per_s": ("tokens/s", True),
    "ttft_s": ("s", False),
    "programs_per_s": ("programs/s", True),
    "samples_per_s": ("samples/s", True),
}
LATENCY = {f for f, (_, up) in FIGURES.items() if not up}  # seconds per batch, not work per second
NOTE = ("measured around the model calls only (data loading, caching, scoring and records excluded); "
        "the first batch of each model operation is warm-up and left out; cached items are not timed")


class Row(NamedTuple):
    """One timed model call's contribution to one figure."""
    figure: str
    language: str | None  # None: the call served every language (a task's images)
    amount: float
    seconds: float
    warmup: bool


@dataclass
class _Tally:
    amount: float = 0.0
    seconds: float = 0.0
    batches: int = 0

    def add(self, amount: float, seconds: float) -> None:
        self.amount += amount
        self.seconds += seconds
        self.batches += 1


@dataclass
class SpeedMeter:
    """One task's measurements. ``warm`` (model operations already run once in this process) is shared
    across the tasks of a run, so only the very first batch of an operation is warm-up."""

    warm: set = field(default_factory=set)
    rows: list[Row] = field(default_factory=list)

    def add(self, figure: str, language: str | None, amount: float, seconds: float, warmup: bool = False) -> None:
        if figure not in FIGURES:
            raise ValueError(f"unknown speed figure {figure!r}: one of {', '.join(FIGURES)}")
        if seconds > 0 and amount >= 0:
            self.rows.append(Row(figure, language, float(amount), float(seconds), warmup))

    def timer(self, operation: str, figure: str | None, language: str | None = None,
              amount: Callable[[list, list], Any] | None = None) -> "Timer":
        """What cached_map calls after each model call. ``amount(inputs, outputs)`` gives the work done: a
        number (in ``figure``'s unit, over the call's seconds; default: the batch size), or a dict
        {figure: (amount, seconds)} when the call measures several things (generation)."""
        return Timer(self, operation, figure, language, amount)

    def section(self, device: str, world_size: int) -> dict | None:
        """results.json's ``speed`` for the task; None when nothing was timed (all from the cache)."""
        if not self.rows:
            return None

        def pooled(rows: list[Row]) -> tuple[_Tally, bool]:
            timed = [r for r in rows if not r.warmup] or rows  # only warm-up batches: use them, and say so
            t = _Tally()
            for r in timed:
                t.add(r.amount, r.seconds)
            return t, timed is rows

        def figures(rows: list[Row]) -> dict:
            out = {}
            for fig in sorted({r.figure for r in rows}):
                t, with_warmup = pooled([r for r in rows if r.figure == fig])
                out[fig] = _figure(fig, t, with_warmup)
            return out

        langs = sorted({r.language for r in self.rows if r.language is not None})
        return {"device": device, "world_size": world_size, "note": NOTE, "overall": figures(self.rows),
                "languages": {lang: figures([r for r in self.rows if r.language == lang]) for lang in langs}}


def _figure(name: str, t: _Tally, includes_warmup: bool) -> dict:
    value = t.seconds / t.amount if name in LATENCY else t.amount / t.seconds
    return {"value": round(value, 6), "unit": FIGURES[name][0], "amount": round(t.amount, 6),
            "seconds": round(t.seconds, 6), "batches": t.batches, "includes_warmup": includes_warmup}


@dataclass
class Timer:
    meter: SpeedMeter
    operation: str
    figure: str | None
    language: str | None
    amount: Callable[[list, list], Any] | None

    def record(self, inputs: list, outputs: list, seconds: float) -> None:
        warmup = self.operation not in self.meter.warm
        self.meter.warm.add(self.operation)
        got = self.amount(inputs, outputs) if self.amount else len(inputs)
        if isinstance(got, dict):
            for fig, (amount, secs) in got.items():  # secs None: the call's own seconds
                self.meter.add(fig, self.language, amount, seconds if secs is None else secs, warmup)
        elif got is not None and self.figure:
            self.meter.add(self.figure, self.language, got, seconds, warmup)


def higher_is_better(figure: str) -> bool:
    return FIGURES.get(figure, ("", True))[1]


def device_name(device: str, host: dict) -> str:
    """The device the figures were measured on, in words: 'cuda:0 (NVIDIA H100 80GB HBM3)', 'cpu (AMD EPYC
    ..., 2 cores, 2 threads)'. compare refuses to gate speed across different ones."""
    if device.startswith("cuda"):
        try:  # this device's own name (host["gpu"] is device 0's; a machine may mix cards)
            import torch

            gpu = torch.cuda.get_device_name(torch.device(device))
        except Exception:  # no CUDA here (a report of a run made elsewhere)
            gpu = host.get("gpu", "unknown GPU")
        return f"{device} ({gpu})"
    import os

    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        import torch

        threads = torch.get_num_threads()
    except Exception:  # noqa: BLE001
        threads = os.cpu_count()
    return f"{device} ({cpu}, {os.cpu_count()} cores, {threads} threads)"


def generation_amount(model) -> Callable[[list, list], Any]:
    """The amount function of a generating model's timer: reads the adapter's ``last_generation``
    (mmx/models/genstats.py GenerationStats) after each call; a model that keeps none counts samples."""
    def amount(inputs: list, outputs: list) -> dict:
        stats = getattr(model, "last_generation", None)
        if stats is None:
            return {"samples_per_s": (len(inputs), None)}
        out = {"generated_tokens_per_s": (stats.generated_tokens, None)}
        if stats.timed_calls:
            out["prompt_tokens_per_s"] = (stats.prompt_tokens, stats.first_token_s)
            out["ttft_s"] = (stats.timed_calls, stats.first_token_s)
        return out
    return amount
