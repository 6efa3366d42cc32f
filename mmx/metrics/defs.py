"""The metric registry: every metric is defined once, here, and everything else reads the definition.

A ``Metric`` says which per-sample *statistics* a record carries for it (score keys, e.g. corpus WER's
``("wer_errors", "wer_words")``), how the statistics *summed* over samples reduce to the number (a
reducer: ``mean`` = s[0] / n, ``ratio`` = s[0] / s[1], corpus ``bleu`` / ``chrf`` with sacrebleu's own
formulas on summed n-gram statistics, mmx/metrics/corpus.py), its direction, display scale and unit,
and its interval (Wilson for a mean of 0/1 scores, else a bootstrap over samples). Aggregation, the
bootstrap CIs, `mmx compare`'s paired tests and the reports all work on "sum per-sample statistic rows,
then reduce", so a new metric is one ``register_metric(Metric(...))`` call and nothing else.

results.json's ``metric_defs`` records each metric's ``stats`` and ``reducer`` name (``spec_of_def``
reads them back, and the older ``type: mean | ratio, num, den`` layout), so `mmx compare` and
`mmx report` need no task code. ``format_value`` / ``format_ci`` print a value the same way everywhere:
fractions (accuracies, recalls, error rates, BLEU / 100) x100 ("points"), speed factors as they are.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np

# reducer(sums (..., k), n (scalar or (...,))) -> values (...); NaN where undefined (a zero denominator)
Reducer = Callable[[np.ndarray, object], np.ndarray]


def _mean(sums, n):
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n != 0, sums[..., 0] / np.where(n != 0, n, 1), np.nan)


def _ratio(sums, n):
    num, den = sums[..., 0], sums[..., 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / np.where(den != 0, den, 1), np.nan)


def _corpus(name: str) -> Reducer:
    def reduce(sums, n):  # imported on use: sacrebleu is only needed where BLEU/chrF are scored
        from mmx.metrics import corpus
        return corpus.REDUCERS[name](sums, n)
    return reduce


REDUCERS: dict[str, Reducer] = {"mean": _mean, "ratio": _ratio, "bleu": _corpus("bleu"), "chrf": _corpus("chrf")}


class Spec(NamedTuple):
    """How a metric aggregates: the per-sample score keys summed, and the reducer's name."""
    stats: tuple[str, ...]
    reducer: str


@dataclass(frozen=True)
class Metric:
    name: str  # a metric name, or a full-match pattern ("pass@\\d+")
    higher_is_better: bool = True
    stats: tuple[str, ...] | None = None  # score keys summed; None: the metric's own name (a mean)
    reducer: str = "mean"
    reduce: Reducer | None = field(default=None, compare=False)  # a new reducer, registered under `reducer`
    scale: float = 100.0  # display value = value * scale
    unit: str = "points (x100)"
    description: str = ""
    interval: str = "auto"  # auto: Wilson for a mean whose scores are all 0/1, bootstrap otherwise; or "bootstrap"
    pattern: bool = False

    def spec(self, name: str) -> Spec:
        return Spec(tuple(self.stats) if self.stats else (name,), self.reducer)


# Kept for old imports: a metric's display/direction part.
MetricDef = Metric
_REGISTRY: list[Metric] = []


def register_metric(defn: Metric) -> Metric:
    """Add (or replace, by name) a metric definition; its ``reduce`` function, if any, is registered too."""
    if defn.reduce is not None:
        REDUCERS[defn.reducer] = defn.reduce
    elif defn.reducer not in REDUCERS:
        raise ValueError(f"metric {defn.name}: unknown reducer {defn.reducer!r}; give reduce=... or one of "
                         f"{', '.join(REDUCERS)}")
    _REGISTRY[:] = [d for d in _REGISTRY if d.name != defn.name]
    _REGISTRY.insert(0, defn)  # a later definition wins over an earlier one of the same names
    return defn


def _find(metric: str) -> Metric | None:
    for d in _REGISTRY:
        if (re.fullmatch(d.name, metric.lower()) if d.pattern else d.name == metric):
            return d
    return None


# Fallback for names not registered, by the name's first token ("wer_norm", "loss@eval").
LOWER_IS_BETTER = {"wer", "cer", "ter", "per", "der", "mer", "wil", "error", "loss", "perplexity", "ppl",
                   "latency", "rtf"}


def get_metric(metric: str) -> Metric:
    """The definition of a metric name; an unregistered name is a mean of its own score, lower-is-better
    when its first token is an error/loss/latency word."""
    d = _find(metric)
    if d is not None:
        return d
    up = re.split(r"[_@.\-]", metric.lower())[0] not in LOWER_IS_BETTER
    return Metric(metric, up)


lookup = get_metric


def get_reducer(name: str) -> Reducer:
    if name not in REDUCERS:
        from mmx.errors import MmxError
        raise MmxError(f"unknown metric reducer {name!r} in results.json metric_defs; known: "
                       f"{', '.join(REDUCERS)} (a plugin's metric must be installed to read its runs)")
    return REDUCERS[name]


def reduce(sums: np.ndarray, n, reducer: str) -> np.ndarray:
    """Summed statistics (..., k) over n samples -> metric values (...)."""
    return get_reducer(reducer)(np.asarray(sums, dtype=np.float64), n)


def spec_of(metric: str, specs: dict | None = None) -> Spec:
    """The metric's Spec: from ``specs`` (a Spec, or a legacy (numerator, denominator) pair of a task kind's
    ``ratio_metrics``) when it names the metric, else from the registry."""
    v = (specs or {}).get(metric)
    if isinstance(v, Spec):
        return v
    if v is not None:
        return Spec(tuple(v), "ratio")
    return get_metric(metric).spec(metric)


def spec_of_def(metric: str, d: dict) -> Spec:
    """A Spec from results.json's metric_defs entry: ``stats``/``reducer``, or the older type/num/den."""
    if d.get("reducer"):
        return Spec(tuple(d.get("stats") or (metric,)), d["reducer"])
    if d.get("type") == "ratio":
        return Spec((d["num"], d["den"]), "ratio")
    if d.get("type") == "mean":
        return Spec((metric,), "mean")
    return spec_of(metric)


def _frac(name: str, up: bool, what: str, **kw) -> Metric:
    return register_metric(Metric(name, up, description=what, pattern=True, **kw))


def _raw(name: str, up: bool, unit: str, what: str, **kw) -> Metric:
    return register_metric(Metric(name, up, scale=1.0, unit=unit, description=what, pattern=True, **kw))


# The built-in metrics. Registered in reverse so the first line here is matched first.
for _line in reversed([
    lambda: _frac(r"(t2i|i2t)_r\d+", True, "retrieval recall@k (clip_benchmark)"),
    lambda: _frac(r"recall@\d+", True, "retrieval recall@k"),
    lambda: _frac(r"pass@\d+", True, "unbiased pass@k (Chen et al. 2021)"),
    lambda: _frac(r"top\d+", True, "zero-shot top-k accuracy"),
    lambda: _frac(r"(mc_)?acc(uracy)?", True, "accuracy"),
    lambda: _frac(r"vqa_acc(uracy)?", True, "VQA accuracy (official VQA evaluation)"),
    lambda: _frac(r"exact_match", True, "exact match after answer normalisation"),
    lambda: _frac(r"wer", False, "corpus WER: all word errors / all reference words",
                  stats=("wer_errors", "wer_words"), reducer="ratio"),
    lambda: _frac(r"cer", False, "corpus CER: all character errors / all reference characters",
                  stats=("cer_errors", "cer_chars"), reducer="ratio"),
    lambda: _frac(r"err", False, "corpus error rate: WER, or CER for languages written without spaces",
                  stats=("err_errors", "err_units"), reducer="ratio"),
    lambda: _frac(r"bleu", True, "corpus BLEU (sacrebleu, 13a tokenizer) / 100, from summed n-gram statistics",
                  stats=tuple(f"bleu_stat_{i}" for i in range(10)), reducer="bleu", interval="bootstrap"),
    lambda: _frac(r"chrf", True, "corpus chrF (sacrebleu, chrF2) / 100, from summed character n-gram statistics",
                  stats=tuple(f"chrf_stat_{i}" for i in range(18)), reducer="chrf", interval="bootstrap"),
    lambda: _frac(r"lang_fidelity", True, "share of identifiable outputs in the expected language (mmx/metrics/lid.py; "
                                          "a sample too short to identify carries no score)"),
    lambda: _frac(r"script_fidelity", True, "share of outputs with letters written in the expected script"),
    lambda: _frac(r"skipped", False, "share of samples skipped (unusable input)"),
    lambda: _frac(r"failed", False, "share of samples that failed"),
    lambda: _frac(r"truncated", False, "share of samples cut at a model limit: input texts longer than the context "
                                       "(encoders, mmx/metrics/tokenizers.py) or outputs that ran to the decoder's "
                                       "length limit (Whisper ASR and speech translation)"),
    lambda: _frac(r"bitext_acc_(to|from)_en", True, "bitext mining top-1 (xsim, cosine): the true translation ranked first"),
    lambda: _frac(r"mexa", True, "MEXA alignment: the true pair more similar than any other in its row and column"),
    lambda: _frac(r"bitext_margin", True, "cosine of the true pair minus the mean cosine to the other items (x100)"),
    lambda: _frac(r"bitext_sim", True, "cosine similarity of the true pair, a sentence and its translation (x100)"),
    lambda: _raw(r"rtfx", True, "x real time", "inverse real-time factor: audio seconds / compute seconds",
                 stats=("audio_s", "compute_s"), reducer="ratio"),
    lambda: _raw(r"rtf", False, "x real time", "real-time factor: compute seconds / audio seconds"),
    lambda: _raw(r"duration_ratio", True, "ratio", "synthesised / reference duration (1 = same speed)"),
    lambda: _raw(r"chars_per_s(econd)?", True, "characters/s", "characters synthesised per second"),
]):
    _line()


def higher_is_better(metric: str, overrides: dict[str, bool] | None = None) -> bool:
    """The metric's direction; a task kind's ``higher_is_better`` override (older kinds set one) wins."""
    if overrides and metric in overrides:
        return bool(overrides[metric])
    return get_metric(metric).higher_is_better


def display(metric: str) -> dict:
    """The display part of a metric's def, as results.json's metric_defs stores it."""
    d = get_metric(metric)
    return {"scale": d.scale, "unit": d.unit}


def scale_of(metric: str, defs: dict | None = None) -> float:
    """The display scale: from a run's metric_defs when it has one, else from the registry."""
    if defs and metric in defs and defs[metric].get("scale") is not None:
        return float(defs[metric]["scale"])
    return get_metric(metric).scale


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
