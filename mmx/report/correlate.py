"""`mmx correlate RUN_DIR... --proxy TASK:METRIC --target TASK:METRIC`: does a cheap per-language score
predict an expensive one, across models and languages?

The proxy is any per-language score (a cross-lingual alignment score such as MEXA's: how well a model's
embeddings of parallel sentences match English, or any metric of any task); the target is a downstream
per-language score. Each run directory is one model's run; the proxy and the target may sit in the same run
or in two runs of the same model spec (joined by spec). A point is one (model, language) with both scores.

Reported: Pearson's r and Spearman's rho (scipy.stats, with their p-values) over all points and per model
(across that model's languages), each with a seeded percentile-bootstrap CI that resamples the points with
replacement (resamples where a side is constant, so the correlation is undefined, are left out). Points of
one model are not independent of each other, so the pooled CI is optimistic when models differ a lot; the
per-model rows show what holds within a model.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import typer

from mmx.errors import MmxError

MIN_POINTS = 3  # a correlation of fewer points says nothing


def parse_ref(ref: str, flag: str) -> tuple[str, str | None]:
    task, _, metric = ref.partition(":")
    if not task.strip():
        raise MmxError(f"{flag} {ref!r}: give TASK:METRIC (or TASK for its primary metric)")
    return task.strip(), metric.strip() or None


def collect(runs: list, task: str, metric: str | None, flag: str) -> tuple[dict[str, dict[str, float]], dict]:
    """model spec -> language -> score of TASK:METRIC, and the metric's def; one run per model spec."""
    values: dict[str, dict[str, float]] = {}
    where: dict[str, Path] = {}
    mdef = None
    for r in runs:
        if task not in r.tasks:
            continue
        t = r.tasks[task]
        m = metric or t["primary_metric"]
        if m not in t["metrics"]:
            raise MmxError(f"{flag}: task {task} of {r.dir} has no metric {m!r}; it has {', '.join(t['metrics'])}")
        spec = r.spec or str(r.dir)
        if spec in values:
            raise MmxError(f"{flag}: two runs of model {spec} carry task {task} ({where[spec]} and {r.dir}); give "
                           "one run per model")
        where[spec] = r.dir
        mdef = mdef or {**r.defs(task)[m], "name": m}
        values[spec] = {c: d["metrics"][m] for c, d in t["languages"].items()
                        if d.get("metrics", {}).get(m) is not None and math.isfinite(d["metrics"][m])}
    if mdef is None:
        raise MmxError(f"{flag}: no run has task {task}; the runs have: "
                       + ", ".join(sorted({t for r in runs for t in r.tasks})))
    return values, mdef


def boot_correlations(x, y, n_resamples: int, rng):
    """Bootstrap distributions (Pearson, Spearman) of the points (x, y) resampled with replacement."""
    import numpy as np
    from scipy.stats import rankdata

    idx = rng.integers(0, len(x), size=(n_resamples, len(x)))

    def rowwise(a, b):
        a = a - a.mean(1, keepdims=True)
        b = b - b.mean(1, keepdims=True)
        den = np.sqrt((a * a).sum(1) * (b * b).sum(1))
        with np.errstate(divide="ignore", invalid="ignore"):
            r = (a * b).sum(1) / den
        return np.where(den > 1e-15, r, np.nan)

    xs, ys = x[idx], y[idx]
    return rowwise(xs, ys), rowwise(rankdata(xs, axis=1), rankdata(ys, axis=1))


def correlation(points: list[dict], n_resamples: int, rng) -> dict:
    """Pearson and Spearman of the points' proxy and target, with p-values and bootstrap CIs."""
    import numpy as np
    from scipy import stats as sps

    from mmx.report import stats

    out = {"n": len(points), "pearson": None, "pearson_p": None, "pearson_ci": None,
           "spearman": None, "spearman_p": None, "spearman_ci": None}
    x = np.array([p["proxy"] for p in points], dtype=float)
    y = np.array([p["target"] for p in points], dtype=float)
    if len(points) < MIN_POINTS or np.ptp(x) == 0 or np.ptp(y) == 0:
        out["note"] = (f"fewer than {MIN_POINTS} points" if len(points) < MIN_POINTS
                       else "one side is constant: no correlation")
        return out
    pr, sr = sps.pearsonr(x, y), sps.spearmanr(x, y)
    bp, bs = boot_correlations(x, y, n_resamples, rng)
    out.update(pearson=float(pr.statistic), pearson_p=float(pr.pvalue), pearson_ci=stats.percentile_ci(bp),
               spearman=float(sr.statistic), spearman_p=float(sr.pvalue), spearman_ci=stats.percentile_ci(bs))
    return out


def correlate_runs(runs: list, proxy: str, target: str, languages: list[str] | None = None,
                   n_resamples: int = 1000, seed: int = 0) -> dict:
    from mmx.report import stats

    (pt, pm), (tt, tm) = parse_ref(proxy, "--proxy"), parse_ref(target, "--target")
    pv, pdef = collect(runs, pt, pm, "--proxy")
    tv, tdef = collect(runs, tt, tm, "--target")
    notes = [f"model {s}: only the {which} ({t}) was found, left out"
             for which, t, a, b in (("proxy", pt, pv, tv), ("target", tt, tv, pv)) for s in a if s not in b]
    want = set(languages) if languages else None
    points = [{"model": s, "language": c, "proxy": pv[s][c], "target": tv[s][c]}
              for s in pv if s in tv for c in sorted(set(pv[s]) & set(tv[s])) if want is None or c in want]
    if len(points) < MIN_POINTS:
        raise MmxError(f"only {len(points)} (model, language) point(s) carry both {pt}:{pdef['name']} and "
                       f"{tt}:{tdef['name']}; a correlation needs at least {MIN_POINTS}: give runs of models "
                       "evaluated on both tasks, on the same languages")
    models = list(dict.fromkeys(p["model"] for p in points))
    return {"proxy": {"task": pt, "metric": pdef["name"], "def": pdef},
            "target": {"task": tt, "metric": tdef["name"], "def": tdef},
            "settings": {"n_resamples": n_resamples, "seed": seed, "ci_level": stats.LEVEL,
                         "ci": "percentile bootstrap over the (model, language) points"},
            "all": correlation(points, n_resamples, stats.rng_for(seed, "all")),
            "per_model": {s: correlation([p for p in points if p["model"] == s], n_resamples,
                                         stats.rng_for(seed, "model", s)) for s in models},
            "points": points, "notes": notes}


def _r(v, ci) -> str:
    if v is None:
        return "-"
    return f"{v:+.3f}" + (f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "")


def to_markdown(res: dict) -> str:
    from mmx.metrics.defs import format_value
    from mmx.report.leaderboard import short_spec

    p, t = res["proxy"], res["target"]
    lines = ["# mmx correlate", "",
             f"- proxy: {p['task']}:{p['metric']}; target: {t['task']}:{t['metric']}",
             "- 95% CI: " + res["settings"]["ci"] + f" ({res['settings']['n_resamples']} resamples)",
             *(f"- note: {n}" for n in res["notes"]), "",
             "| scope | points | Pearson r [95% CI] | p | Spearman rho [95% CI] | p |", "|---|---|---|---|---|---|"]
    for scope, c in [("all models", res["all"]), *((short_spec(s), c) for s, c in res["per_model"].items())]:
        pp = lambda v: "-" if v is None else f"{v:.2g}"  # noqa: E731
        lines.append(f"| {scope} | {c['n']} | {_r(c['pearson'], c['pearson_ci'])} | {pp(c['pearson_p'])} | "
                     f"{_r(c['spearman'], c['spearman_ci'])} | {pp(c['spearman_p'])} |")
    lines += ["", "| model | lang | proxy | target |", "|---|---|---|---|"]
    for x in res["points"]:
        lines.append(f"| {short_spec(x['model'])} | {x['language']} | "
                     f"{format_value(p['metric'], x['proxy'], defs={p['metric']: p['def']})} | "
                     f"{format_value(t['metric'], x['target'], defs={t['metric']: t['def']})} |")
    return "\n".join(lines) + "\n"


def correlate_cmd(
    run_dirs: list[Path] = typer.Argument(..., help="run directories (or their results.json), one or two per model"),
    proxy: str = typer.Option(..., help="TASK:METRIC of the cheap per-language score (TASK: its primary metric)"),
    target: str = typer.Option(..., help="TASK:METRIC of the downstream per-language score"),
    languages: Optional[str] = typer.Option(None, help="only these languages (comma-separated)"),
    format: str = typer.Option("md", help="md or json"),
    output: Optional[Path] = typer.Option(None, help="write here, not stdout"),
    resamples: int = typer.Option(1000, help="bootstrap resamples"),
    seed: int = typer.Option(0, help="seed of the bootstrap"),
) -> None:
    """Correlation (Pearson, Spearman, bootstrap CIs) of a proxy score with a target score across models
    and languages, overall and per model."""
    import json

    from mmx.errors import check_number
    from mmx.languages import normalize_code
    from mmx.report.leaderboard import write_or_print
    from mmx.report.run import load_run

    if format not in ("md", "json"):
        raise MmxError(f"--format {format!r}: use md or json")
    resamples = check_number("--resamples", resamples, low=1, integer=True)
    langs = [normalize_code(x.strip()) for x in languages.split(",") if x.strip()] if languages else None
    res = correlate_runs([load_run(p) for p in run_dirs], proxy, target, langs, resamples, seed)
    write_or_print(to_markdown(res) if format == "md" else json.dumps(res, indent=1, ensure_ascii=False),
                   output, "correlation")
