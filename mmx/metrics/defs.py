"""What each metric name means for display and comparison: its direction, display scale and unit.

One table for every task kind (a metric name, or a pattern such as ``pass@k`` or ``t2i_r<k>``), and one
formatter (``format_value`` / ``format_ci``) that the terminal table, the Markdown and HTML reports and
`mmx compare` all use, so a number is printed the same way everywhere:

- fractions (accuracies, recalls, pass@k, error rates such as corpus WER) are shown x100 ("points");
- speed factors, ratios and rates (RTFx, duration ratio, characters per second) are shown as they are.

results.json's ``metric_defs`` carries ``scale`` and ``unit`` from here, so reports read the display
scale from the run itself (``scale`` of a def wins over this table). A name not listed falls back to
the old rule: lower is better when its first token is an error/loss/latency word, and it is a fraction.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class MetricDef:
    higher_is_better: bool
    scale: float  # display value = value * scale
    unit: str  # what the displayed number is
    description: str


def _frac(up: bool, what: str) -> MetricDef:
    return MetricDef(up, 100.0, "points (x100)", what)


def _raw(up: bool, unit: str, what: str) -> MetricDef:
    return MetricDef(up, 1.0, unit, what)


# (full-match pattern, definition); first match wins.
TABLE: list[tuple[str, MetricDef]] = [
    (r"(t2i|i2t)_r\d+", _frac(True, "retrieval recall@k (clip_benchmark)")),
    (r"recall@\d+", _frac(True, "retrieval recall@k")),
    (r"pass@\d+", _frac(True, "unbiased pass@k (Chen et al. 2021)")),
    (r"top\d+", _frac(True, "zero-shot top-k accuracy")),
    (r"(mc_)?acc(uracy)?", _frac(True, "accuracy")),
    (r"vqa_acc(uracy)?", _frac(True, "VQA accuracy (official VQA evaluation)")),
    (r"exact_match", _frac(True, "exact match after answer normalisation")),
    (r"(err|wer|cer)", _frac(False, "corpus error rate: all errors / all reference units")),
    (r"skipped", _frac(False, "share of samples skipped (unusable input)")),
    (r"failed", _frac(False, "share of samples that failed")),
    (r"rtfx", _raw(True, "x real time", "inverse real-time factor: audio seconds / compute seconds")),
    (r"rtf", _raw(False, "x real time", "real-time factor: compute seconds / audio seconds")),
    (r"duration_ratio", _raw(True, "ratio", "synthesised / reference duration (1 = same speed)")),
    (r"chars_per_s(econd)?", _raw(True, "characters/s", "characters synthesised per second")),
]

# Fallback for names not in TABLE, by the name's first token ("wer_norm", "loss@eval").
LOWER_IS_BETTER = {"wer", "cer", "ter", "per", "der", "mer", "wil", "error", "loss", "perplexity", "ppl",
                   "latency", "rtf"}


def lookup(metric: str) -> MetricDef:
    for pattern, d in TABLE:
        if re.fullmatch(pattern, metric.lower()):
            return d
    up = re.split(r"[_@.\-]", metric.lower())[0] not in LOWER_IS_BETTER
    return MetricDef(up, 100.0, "points (x100)", "")


def higher_is_better(metric: str, overrides: dict[str, bool] | None = None) -> bool:
    """The metric's direction; a task kind's ``higher_is_better`` override (older kinds set one) wins."""
    if overrides and metric in overrides:
        return bool(overrides[metric])
    return lookup(metric).higher_is_better


def display(metric: str) -> dict:
    """The display part of a metric's def, as results.json's metric_defs stores it."""
    d = asdict(lookup(metric))
    return {"scale": d["scale"], "unit": d["unit"]}


def scale_of(metric: str, defs: dict | None = None) -> float:
    """The display scale: from a run's metric_defs when it has one, else from the table."""
    if defs and metric in defs and defs[metric].get("scale") is not None:
        return float(defs[metric]["scale"])
    return lookup(metric).scale


def format_value(metric: str, value, signed: bool = False, defs: dict | None = None) -> str:
    """A metric value for display: x100 with one decimal for fractions, two decimals otherwise; '-' if None."""
    if value is None or value != value:  # None or NaN
        return "-"
    scale = scale_of(metric, defs)
    digits = 1 if scale == 100 else 2
    return f"{scale * value:{'+' if signed else ''}.{digits}f}"


def format_ci(metric: str, ci, signed: bool = False, defs: dict | None = None) -> str:
    """A confidence interval as '[lo, hi]' on the metric's display scale; '-' if none."""
    if not ci:
        return "-"
    return f"[{format_value(metric, ci[0], signed, defs)}, {format_value(metric, ci[1], signed, defs)}]"


def scale_note(metrics: list[str], defs: dict | None = None) -> str:
    """A title fragment: 'scores x100', 'scores x100 (rtfx as is)' or '' when no metric is scaled."""
    raw = [m for m in metrics if scale_of(m, defs) != 100]
    if len(raw) == len(metrics):
        return "scores as they are"
    return "scores x100" + (f" ({', '.join(raw)} as is)" if raw else "")
