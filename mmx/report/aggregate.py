"""Per-language and overall aggregates from per-sample records; the same code for every task kind.

A metric's value over some records is its definition's reducer (mmx/metrics/defs.py) applied to its
per-sample statistics summed over the records that carry all of them (NaN scores, e.g. a query with
nothing relevant, are left out): a mean of one score, a ratio of two sums (corpus WER), corpus BLEU /
chrF from summed n-gram counts, or any registered reducer. The ``ratios`` arguments below are a
metric -> Spec map (results.json's metric_defs read back, or a task kind's legacy ``ratio_metrics``
pairs); a metric they do not name is looked up in the registry.

Also here: aggregates per script, family and resource level (from mmx/languages.py), the spread
across languages, and confidence intervals:

- a language's CI: the Wilson score interval (Wilson 1927) for a *proportion* metric (a mean metric
  whose per-sample scores are all 0 or 1), which stays honest when every sample is 0 or every one is 1
  (a bootstrap interval is then [0, 0]); a seeded percentile bootstrap (samples resampled within the
  language; mmx/report/stats.py) for every other metric. metric_defs[m]["ci"] says which.
- the gap to English: a paired bootstrap over *items* (the same source item in each language of
  parallel data: XTD10 images, HumanEval-XL problems, the probe's captions), so what the languages share
  cancels; languages that share no item are resampled independently. ``gap_to_en_pairing`` says which.
- macro averages: the mean of the languages' bootstrap distributions.

Directions, display scales and units come from mmx/metrics/defs.py.
"""
from __future__ import annotations

import math
import statistics
from collections import defaultdict
from typing import Iterable

import numpy as np

from mmx.metrics import defs
from mmx.report import stats
from mmx.schema import Record

REFERENCE_LANGUAGE = "en"


def metric_value(records: Iterable[Record], metric: str, ratios: dict | None = None):
    """(value, n) of one metric over some records: the reducer of the summed per-sample statistics."""
    spec = defs.spec_of(metric, ratios)
    _, vals = score_matrix(records, metric, ratios)
    if not len(vals):
        return None, 0
    v = float(defs.reduce(vals.sum(0), len(vals), spec.reducer))
    return (None if math.isnan(v) else v), len(vals)


def per_language(records: Iterable[Record], metrics: list[str],
                 ratios: dict[str, tuple[str, str]] | None = None) -> dict[str, dict]:
    by_lang: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        by_lang[r.language].append(r)
    out = {}
    for lang in sorted(by_lang):
        vals = {m: metric_value(by_lang[lang], m, ratios) for m in metrics}
        out[lang] = {"n_records": len(by_lang[lang]), "n": {m: v[1] for m, v in vals.items()},
                     "metrics": {m: v[0] for m, v in vals.items()}}
    return out


def overall(langs: dict[str, dict], records: list[Record], metrics: list[str],
            ratios: dict[str, tuple[str, str]] | None = None) -> dict:
    """macro: mean over languages (each language weighs the same); micro: over all samples pooled."""
    macro, micro = {}, {}
    for m in metrics:
        vals = [d["metrics"][m] for d in langs.values() if d["metrics"][m] is not None]
        macro[m] = sum(vals) / len(vals) if vals else None
        micro[m] = metric_value(records, m, ratios)[0]
    return {"macro": macro, "micro": micro}


def gap_to_reference(langs: dict[str, dict], metrics: list[str], ref: str = REFERENCE_LANGUAGE) -> dict:
    """Each language's score minus the reference language's (English): negative means worse than English."""
    if ref not in langs:
        return {}
    base = langs[ref]["metrics"]
    return {lang: {m: (d["metrics"][m] - base[m]) if d["metrics"][m] is not None and base[m] is not None else None
                   for m in metrics}
            for lang, d in langs.items()}


GROUPINGS = ("script", "family", "resource_level")
LOWER_IS_BETTER = defs.LOWER_IS_BETTER  # kept for old imports; the table lives in mmx/metrics/defs.py
higher_is_better = defs.higher_is_better


def is_proportion(records: Iterable[Record], metric: str, ratios: dict[str, tuple[str, str]] | None = None) -> bool:
    """A mean metric whose per-sample scores are all 0 or 1 (a share of samples): gets Wilson intervals."""
    spec = defs.spec_of(metric, ratios)
    if spec.reducer != "mean" or defs.get_metric(metric).interval != "auto":
        return False
    vals = [v for r in records if (v := r.scores.get(spec.stats[0])) is not None and not math.isnan(v)]
    return bool(vals) and all(v in (0.0, 1.0) for v in vals)


def metric_defs(metrics: list[str], ratios: dict[str, tuple[str, str]] | None = None,
                directions: dict[str, bool] | None = None, proportions: Iterable[str] = ()) -> dict[str, dict]:
    """results.json's metric_defs: how the metric aggregates (the per-sample ``stats`` keys summed and the
    ``reducer`` name; ``type`` repeats the reducer, with num/den for a ratio, for older readers), its
    direction, display scale and unit (mmx/metrics/defs.py), and the interval its per-language CI uses."""
    props = set(proportions)
    out = {}
    for m in metrics:
        spec = defs.spec_of(m, ratios)
        old = {"num": spec.stats[0], "den": spec.stats[1]} if spec.reducer == "ratio" else {}
        out[m] = {"type": spec.reducer, **old, "stats": list(spec.stats), "reducer": spec.reducer,
                  "higher_is_better": higher_is_better(m, directions), **defs.display(m),
                  "ci": "wilson" if m in props else "bootstrap-percentile"}
    return out


def ratios_of(mdefs: dict[str, dict]) -> dict[str, defs.Spec]:
    """metric -> Spec back from results.json's metric_defs (new stats/reducer, or old type/num/den)."""
    return {m: defs.spec_of_def(m, d) for m, d in mdefs.items()}


def score_matrix(records: Iterable[Record], metric: str, ratios: dict[str, tuple[str, str]] | None = None):
    """(ids, values (n, 1) for a mean metric or (n, 2) numerator/denominator for a ratio) of the records
    carrying the metric; NaN or missing scores are left out, as in metric_value."""
    keys = defs.spec_of(metric, ratios).stats
    ids, rows = [], []
    if len(keys) == 1:  # a mean metric, the common case: this loop runs over every record many times per task
        key = keys[0]
        for r in records:
            v = r.scores.get(key)
            if v is not None and not math.isnan(v):
                ids.append(r.id)
                rows.append(v)
        return ids, np.asarray(rows, dtype=np.float64).reshape(len(rows), 1)
    for r in records:
        row = [r.scores.get(k) for k in keys]
        if all(v is not None and not math.isnan(v) for v in row):
            ids.append(r.id)
            rows.append(row)
    return ids, np.asarray(rows, dtype=np.float64).reshape(len(rows), len(keys))


def bootstrap_languages(records: Iterable[Record], metrics: list[str],
                        ratios: dict[str, tuple[str, str]] | None = None, n_resamples: int = stats.N_RESAMPLES,
                        seed: int = stats.SEED) -> dict[str, dict[str, np.ndarray]]:
    """language -> metric -> bootstrap distribution of the metric (n_resamples values), samples resampled
    within the language. Metrics carried by the same samples share one set of resamples."""
    by_lang: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        by_lang[r.language].append(r)
    out: dict[str, dict[str, np.ndarray]] = {}
    for lang in sorted(by_lang):
        shared: dict[tuple, list[tuple[str, np.ndarray]]] = defaultdict(list)
        recs = sorted(by_lang[lang], key=lambda r: r.id)  # the CI must not depend on the order of records
        for m in metrics:
            ids, vals = score_matrix(recs, m, ratios)
            shared[tuple(ids)].append((m, vals))
        out[lang] = {}
        for ids, group in shared.items():
            widths = [v.shape[1] for _, v in group]
            sums = stats.bootstrap_sums(np.concatenate([v for _, v in group], axis=1), n_resamples,
                                        stats.rng_for(seed, lang, group[0][0]))
            col = 0
            for (m, _), w in zip(group, widths):
                out[lang][m] = stats.stat_from_sums(sums[:, col:col + w], len(ids), defs.spec_of(m, ratios).reducer)
                col += w
    return out


def _mean_boot(boots: list[np.ndarray]) -> np.ndarray | None:
    return np.mean(np.stack(boots), axis=0) if boots else None


def group_of(code: str, grouping: str) -> str:
    from mmx.languages import UnknownLanguageError, get_language

    try:
        return str(getattr(get_language(code), grouping))
    except UnknownLanguageError:
        return "unknown"


def groups(langs: dict[str, dict], records: list[Record], metrics: list[str],
           ratios: dict[str, tuple[str, str]] | None = None,
           boots: dict[str, dict[str, np.ndarray]] | None = None, level: float = stats.LEVEL,
           provenance: dict[str, str] | None = None) -> dict:
    """Per script, family and resource level (and, given each language's data provenance from the data
    catalogue, per provenance): macro (mean over the group's languages) and micro (pooled)."""
    by_lang: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        by_lang[r.language].append(r)
    out: dict[str, dict] = {}
    for grouping in GROUPINGS + (("provenance",) if provenance else ()):
        members: dict[str, list[str]] = defaultdict(list)
        for code in langs:
            members[provenance.get(code, "unknown") if grouping == "provenance" else group_of(code, grouping)].append(code)
        table = {}
        for name in sorted(members):
            codes = members[name]
            recs = [r for c in codes for r in by_lang[c]]
            entry = {"languages": codes, "n_records": len(recs), "macro": {}, "micro": {}, "macro_ci": {}}
            for m in metrics:
                have = [c for c in codes if langs[c]["metrics"][m] is not None]
                entry["macro"][m] = sum(langs[c]["metrics"][m] for c in have) / len(have) if have else None
                entry["micro"][m] = metric_value(recs, m, ratios)[0]
                b = _mean_boot([boots[c][m] for c in have]) if boots else None
                entry["macro_ci"][m] = stats.percentile_ci(b, level) if b is not None else None
            table[name] = entry
        out[grouping] = table
    return out


PROVENANCE_ORDER = ("native", "human-translated", "machine-translated", "mixed", "unknown")


def provenance_differences(langs: dict[str, dict], boots: dict[str, dict[str, np.ndarray]], metrics: list[str],
                           provenance: dict[str, str], level: float = stats.LEVEL) -> dict:
    """For each pair of provenance groups a task has ("native - human-translated", ...): the difference of
    their macro averages per metric, with the percentile interval of the difference of the groups' macro
    bootstrap distributions (the languages' resamples are independent, so the difference's distribution
    is the difference of the two). Translated test sets can tell another story than native ones: this is
    where it shows."""
    present = [p for p in PROVENANCE_ORDER if any(provenance.get(c, "unknown") == p for c in langs)]
    present = [p for p in present if p != "unknown"]
    out = {}
    for i, a in enumerate(present):
        for b in present[i + 1:]:
            entry = {}
            for m in metrics:
                side = []
                for p in (a, b):
                    have = [c for c in langs if provenance.get(c) == p and langs[c]["metrics"][m] is not None]
                    side.append(have)
                if not side[0] or not side[1]:
                    entry[m] = {"value": None, "ci": None}
                    continue
                va, vb = (sum(langs[c]["metrics"][m] for c in cs) / len(cs) for cs in side)
                ba, bb = (_mean_boot([boots[c][m] for c in cs]) for cs in side)
                ci = stats.percentile_ci(ba - bb, level) if ba is not None and bb is not None else None
                entry[m] = {"value": va - vb, "ci": ci}
            out[f"{a} - {b}"] = entry
    return out


def spread(langs: dict[str, dict], metrics: list[str], defs: dict[str, dict]) -> dict:
    """Per metric: the worst and best language (by the metric's direction), the range and the population
    standard deviation of the per-language scores."""
    out = {}
    for m in metrics:
        vals = {c: d["metrics"][m] for c, d in langs.items() if d["metrics"][m] is not None}
        if not vals:
            out[m] = None
            continue
        up = defs[m].get("higher_is_better", True)
        worst = (min if up else max)(vals, key=vals.get)
        best = (max if up else min)(vals, key=vals.get)
        out[m] = {"worst_language": worst, "worst": vals[worst], "best_language": best, "best": vals[best],
                  "range": abs(vals[best] - vals[worst]), "std": statistics.pstdev(vals.values())}
    return out


def item_key(record: Record) -> str:
    """The source item a sample belongs to, the same in every language of parallel data: ``extra["item"]``
    when the task kind sets one, else the id without its language segment ("de/python/0" -> "python/0",
    "t2i/de/img1/0" -> "t2i/img1/0", "de/img3" -> "img3")."""
    item = record.extra.get("item") if record.extra else None
    if item is not None:
        return str(item)
    parts = record.id.split("/")
    if record.language in parts:
        parts.remove(record.language)
    return "/".join(parts)


def gap_bootstraps(recs: list[Record], ref_recs: list[Record], metrics: list[str],
                   ratios: dict[str, tuple[str, str]] | None, n_resamples: int, rng: np.random.Generator) -> dict:
    """metric -> (bootstrap distribution of the gap language - reference, shared items), *items* resampled:
    an item drawn brings its samples in both languages (or in the one that has it), so what an item both
    share does to both scores cancels in the gap. (None, 0) when the languages share no item."""
    item_of = {r.id: item_key(r) for r in (*recs, *ref_recs)}
    cols: dict[str, list] = {}
    groups_: dict[tuple, list] = defaultdict(list)
    for m in metrics:  # metrics carried by the same samples share one set of resamples
        sides = [score_matrix(rs, m, ratios) for rs in (recs, ref_recs)]
        cols[m] = sides
        groups_[tuple(tuple(ids) for ids, _ in sides)].append(m)
    out = {}
    for (ids_c, ids_r), ms in groups_.items():
        shared = len({item_of[i] for i in ids_c} & {item_of[i] for i in ids_r})
        if not shared:
            out.update({m: (None, 0) for m in ms})
            continue
        units = {u: j for j, u in enumerate(sorted({item_of[i] for i in (*ids_c, *ids_r)}))}
        # Per item and metric: [statistics..., count] for the language, then the same for the reference; the
        # metric is its reducer of the drawn statistic sums and the count drawn.
        blocks = []
        for m in ms:
            for ids, vals in cols[m]:
                rows = np.array([units[item_of[i]] for i in ids], dtype=np.intp)
                # per item sums (bincount adds in row order, as np.add.at does, 10x faster)
                block = np.stack([np.bincount(rows, weights=vals[:, j], minlength=len(units))
                                  for j in range(vals.shape[1])]
                                 + [np.bincount(rows, minlength=len(units)).astype(np.float64)], axis=1)
                blocks.append(block)
        sums = stats.bootstrap_sums(np.concatenate(blocks, axis=1), n_resamples, rng)
        starts = np.cumsum([0] + [b.shape[1] for b in blocks])
        for j, m in enumerate(ms):
            red = defs.spec_of(m, ratios).reducer
            lang, ref = (sums[:, starts[2 * j + s]:starts[2 * j + s + 1]] for s in (0, 1))
            with np.errstate(divide="ignore", invalid="ignore"):
                gap = (defs.reduce(lang[:, :-1], lang[:, -1], red) - defs.reduce(ref[:, :-1], ref[:, -1], red))
            out[m] = (np.where(np.isfinite(gap), gap, np.nan), shared)
    return out


def language_ci(records: list[Record], metric: str, ratios, boot: np.ndarray, proportion: bool,
                level: float = stats.LEVEL) -> list[float] | None:
    """Wilson for a proportion metric, the bootstrap percentile interval otherwise."""
    if proportion:
        key = defs.spec_of(metric, ratios).stats[0]
        vals = [v for r in records if (v := r.scores.get(key)) is not None and not math.isnan(v)]
        return stats.wilson_ci(sum(vals), len(vals), level)
    return stats.percentile_ci(boot, level)


def confidence(langs: dict[str, dict], boots: dict[str, dict[str, np.ndarray]], metrics: list[str],
               ref: str = REFERENCE_LANGUAGE, level: float = stats.LEVEL, records: list[Record] | None = None,
               ratios: dict[str, tuple[str, str]] | None = None, proportions: Iterable[str] = (),
               n_resamples: int = stats.N_RESAMPLES, seed: int = stats.SEED) -> dict:
    """CIs of each language's metrics, of the macro average and of the gap to English."""
    by_lang: dict[str, list[Record]] = defaultdict(list)
    for r in records or []:
        by_lang[r.language].append(r)
    for c in by_lang:
        by_lang[c].sort(key=lambda r: r.id)  # the CI must not depend on the order of records
    props = set(proportions)
    lang_ci = {c: {m: language_ci(by_lang[c], m, ratios, boots[c][m], m in props, level) for m in metrics}
               for c in langs}
    macro_ci, gap_ci, pairing = {}, {}, {}
    for m in metrics:
        have = [boots[c][m] for c, d in langs.items() if d["metrics"][m] is not None]
        b = _mean_boot(have)
        macro_ci[m] = stats.percentile_ci(b, level) if b is not None else None
    if ref in langs:
        for c in langs:
            gap_ci[c], pairing[c] = {}, {}
            gb = {} if c == ref or not records else gap_bootstraps(by_lang[c], by_lang[ref], metrics, ratios,
                                                                   n_resamples, stats.rng_for(seed, "gap", c))
            for m in metrics:
                paired, shared = gb.get(m, (None, 0))
                if paired is None:  # no shared items: independent resamples, the gap's is the difference
                    paired = boots[c][m] - boots[ref][m]
                gap_ci[c][m] = stats.percentile_ci(paired, level)
                pairing[c][m] = {"paired": bool(shared), "shared_items": shared}
    return {"languages": lang_ci, "macro": macro_ci, "gap_to_en": gap_ci, "gap_pairing": pairing}


def aggregate_task(records: list[Record], metrics: list[str],
                   ratios: dict[str, tuple[str, str]] | None = None, directions: dict[str, bool] | None = None,
                   *, n_resamples: int = stats.N_RESAMPLES, seed: int = stats.SEED, level: float = stats.LEVEL,
                   provenance: dict | None = None, primary: str | None = None) -> dict:
    """Everything results.json says about a task's scores. ``provenance``: {"benchmark": name, "languages":
    {code: native | human-translated | machine-translated | ...}} from the data catalogue, when it has the set.
    ``primary``: the task's primary metric, the one cross-lingual consistency is computed for (None: every
    metric scored 0/1 per sample)."""
    from mmx.report.consistency import answer_grid, consistency  # (it imports this module)

    langs = per_language(records, metrics, ratios)
    props = [m for m in metrics if is_proportion(records, m, ratios)]
    mdefs = metric_defs(metrics, ratios, directions, props)
    boots = bootstrap_languages(records, metrics, ratios, n_resamples, seed)
    ci = confidence(langs, boots, metrics, level=level, records=records, ratios=ratios, proportions=props,
                    n_resamples=n_resamples, seed=seed)
    for code, d in langs.items():
        d["ci"] = ci["languages"][code]
    return {"languages": langs, "overall": {**overall(langs, records, metrics, ratios), "macro_ci": ci["macro"]},
            "gap_to_en": gap_to_reference(langs, metrics), "gap_to_en_ci": ci["gap_to_en"],
            "gap_to_en_pairing": ci["gap_pairing"],
            "groups": groups(langs, records, metrics, ratios, boots, level,
                             provenance=(provenance or {}).get("languages")),
            "spread": spread(langs, metrics, mdefs),
            "metric_defs": mdefs,
            "bootstrap": {"method": "percentile", "level": level, "n_resamples": n_resamples, "seed": seed,
                          "unit": "samples resampled within each language; gap to English: items shared "
                                  "across languages resampled together (see gap_to_en_pairing)",
                          "proportions": "Wilson score interval per language (metric_defs[m]['ci'])"},
            **({"provenance": {**provenance, "differences": provenance_differences(
                langs, boots, metrics, provenance["languages"], level)}} if provenance else {}),
            **({"consistency": cons} if (cons := consistency(records, [primary] if primary in metrics else metrics,
                                                            ratios)) else {}),
            **({"answer_grid": grid} if (grid := answer_grid(records, metrics, ratios)) else {})}
