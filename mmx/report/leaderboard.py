"""`mmx leaderboard RUN_DIR...`: per task, models x languages with CIs, each model's rank per language, and
which models the data cannot tell apart from the best.

Each run directory is one model (mmx/report/run.py reads it; its per-language scores and CIs are the
run's own aggregates). Per task and language the models are ranked by the primary metric (or --metric)
in its direction (metric_defs); equal scores share the better rank (competition ranking, "1 1 3").
Every other model is then tested against the best one, and against the model ranked just above it, with
`mmx compare`'s paired permutation test (mmx/report/compare.py paired_test: samples paired by id, exact
when few pairs differ); within a language the p-values are Holm-adjusted over the models tested. A model
whose adjusted p-value against the best is at least alpha is marked "=": not significantly different from
the best, the way WMT's findings group systems that no test separates instead of trusting an order.
Runs that do not hold the same samples (only with --allow-different-data) get an unpaired permutation
test (the pooled samples' model labels shuffled).

Also here: the macro average per group of languages (script, family, resource level, data provenance when
recorded: results.json groups, with their CIs) and per task over all languages, ranked; and an HTML page
with a models x languages heat map (matplotlib, inline PNG, as mmx/report/html.py draws its own).

Runs whose data fingerprints for a task differ are refused (their scores are not comparable) unless
--allow-different-data.
"""
from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Optional

import typer

from mmx.errors import MmxError

ALPHA = 0.05
TIE_TOL = 1e-12  # scores equal up to float rounding share a rank
LEGEND = ("(r): the model's rank in that language; (r=): not significantly different from the best model there "
          "(paired permutation test against it, Holm-adjusted over the models in the language, alpha {alpha:g}); "
          "bold: the best; brackets: the run's 95% CI")


def short_spec(spec: str) -> str:
    """hf-clip:/some/where/tiny -> hf-clip:tiny (a local folder's name); hub ids stay as they are."""
    family, _, ident = spec.partition(":")
    if ident.startswith(("/", "./", "../", "~")):
        return f"{family}:{Path(ident).name}"
    return spec


def model_labels(runs: list) -> tuple[list[str], list[str]]:
    """(one label per run, notes). A model spec in several runs that share a task (the same model evaluated
    twice, not two models) is named in a note, and those runs are told apart by run folder; a model whose
    tasks were run separately keeps one label."""
    for i, r in enumerate(runs):
        for s in runs[:i]:
            if s.dir.resolve() == r.dir.resolve():
                raise MmxError(f"run directory {r.dir} is given twice; give each run once")
    specs = [r.spec or str(r.dir) for r in runs]
    notes = []
    by_spec: dict[str, list] = defaultdict(list)
    for r, s in zip(runs, specs):
        by_spec[s].append(r)
    for s, rs in by_spec.items():
        shared = sorted({t for i, a in enumerate(rs) for b in rs[:i] for t in set(a.tasks) & set(b.tasks)})
        if shared:
            rs = [r for r in rs if set(r.tasks) & set(shared)]
            notes.append(f"the same model spec {s} is in {len(rs)} runs ({', '.join(str(r.dir) for r in rs)}) of "
                         f"task(s) {', '.join(shared)}: the same model evaluated more than once, not different "
                         "models; told apart by run folder")

    def disambiguate(labels: list[str], suffix) -> list[str]:
        return [f"{lab} ({suffix(r)})" if any(labels[j] == lab and set(runs[j].tasks) & set(r.tasks)
                                              for j in range(len(runs)) if j != i) else lab
                for i, (lab, r) in enumerate(zip(labels, runs))]

    labels = disambiguate([short_spec(s) for s in specs], lambda r: r.dir.name)
    return disambiguate(labels, lambda r: r.dir), notes


def check_data(task: str, members: list[tuple[str, object]], allow_different_data: bool, notes: list[str]) -> None:
    """Refuse runs of a task whose data fingerprints differ, naming them (unless allowed)."""
    by_fp: dict[str, list] = defaultdict(list)
    for label, run in members:
        by_fp[str((run.tasks[task].get("dataset") or {}).get("fingerprint"))].append((label, run))
    if len(by_fp) < 2:
        return
    what = "; ".join(f"fingerprint {fp}: " + ", ".join(f"{r.dir} (n={r.tasks[task].get('n_records')}, languages "
                                                         f"{','.join(r.tasks[task]['languages'])})" for _, r in rs)
                     for fp, rs in by_fp.items())
    if not allow_different_data:
        raise MmxError(f"task {task}: the runs were evaluated on different data ({what}). Evaluate every model "
                       "on the same data (same --languages and --limit), or pass --allow-different-data to rank "
                       "them anyway (models are then tested on unpaired samples)")
    notes.append(f"{task}: runs on different data, ranked anyway (--allow-different-data): {what}")


def rank_entries(entries: list[dict], higher_is_better: bool) -> list[dict]:
    """Competition ranks (1 + the number of strictly better scores); entries without a score get none.
    Returns the entries best first (then in run order)."""
    sign = 1.0 if higher_is_better else -1.0
    scored = [e for e in entries if e["value"] is not None]
    for e in entries:
        e["rank"] = (1 + sum(sign * (o["value"] - e["value"]) > TIE_TOL for o in scored)
                     if e["value"] is not None else None)
    return sorted(entries, key=lambda e: (e["rank"] is None, e["rank"] or 0))


class _Tester:
    """The paired (or unpaired) test of two runs on one task, language and metric, each pair tested once."""

    def __init__(self, task: str, metric: str, mdef: dict, run_of: dict, n_resamples: int, seed: int):
        from mmx.report.aggregate import ratios_of

        self.task, self.metric, self.mdef, self.run_of = task, metric, mdef, run_of
        self.ratios = ratios_of({metric: mdef})
        self.n_resamples, self.seed = n_resamples, seed
        self._by_lang: dict[int, dict] = {}
        self._done: dict[tuple, tuple] = {}

    def _scores(self, run, lang: str):
        from mmx.report.aggregate import score_matrix

        if id(run) not in self._by_lang:
            groups = defaultdict(list)
            for r in run.samples(self.task).values():
                groups[r.language].append(r)
            self._by_lang[id(run)] = {c: sorted(rs, key=lambda r: r.id) for c, rs in groups.items()}
        return score_matrix(self._by_lang[id(run)].get(lang, []), self.metric, self.ratios)

    def test(self, label_a: str, label_b: str, lang: str) -> tuple[float | None, str]:
        """(two-sided p-value, which test) of two models' runs in one language."""
        from mmx.metrics.defs import spec_of_def
        from mmx.report import stats
        from mmx.report.compare import paired_test

        key = (label_a, label_b, lang)
        if key not in self._done:
            a, b = self.run_of[label_a], self.run_of[label_b]
            ids_a, va = self._scores(a, lang)
            ids_b, vb = self._scores(b, lang)
            reducer = spec_of_def(self.metric, self.mdef).reducer
            rng = stats.rng_for(self.seed, self.task, lang, self.metric, label_a, label_b)
            if not ids_a or not ids_b:
                self._done[key] = (None, "none")
            elif ids_a == ids_b:
                p = paired_test(va, vb, reducer, self.n_resamples, rng)[4]
                self._done[key] = (p, f"paired ({len(ids_a)} samples)")
            else:
                self._done[key] = (unpaired_p(va, vb, reducer, self.n_resamples, rng),
                                   f"unpaired ({len(ids_a)} vs {len(ids_b)} samples)")
        return self._done[key]


def unpaired_p(a, b, reducer: str, n_resamples: int, rng) -> float:
    """Two-sided permutation p-value of stat(b) - stat(a) for samples that are not paired: the pooled rows
    are split at random into groups of the two sizes (Monte-Carlo, (1 + tail) / (1 + resamples))."""
    import numpy as np

    from mmx.report import stats

    na, nb = len(a), len(b)
    pooled = np.concatenate([a, b])
    delta = float(stats.stat_from_sums(b.sum(0), nb, reducer) - stats.stat_from_sums(a.sum(0), na, reducer))
    if math.isnan(delta):
        return 1.0
    in_a = (rng.random((n_resamples, na + nb)).argsort(axis=1) < na).astype(np.float64)
    sa = in_a @ pooled
    perm = stats.stat_from_sums(pooled.sum(0) - sa, nb, reducer) - stats.stat_from_sums(sa, na, reducer)
    perm = perm[~np.isnan(perm)]
    return float((1 + np.sum(np.abs(perm) >= abs(delta) - 1e-12)) / (1 + len(perm)))


def _test_language(entries: list[dict], tester: _Tester, lang: str, alpha: float) -> None:
    """p-values against the best and the model just above, Holm-adjusted within the language."""
    from mmx.report import stats

    ranked = [e for e in entries if e["rank"] is not None]
    if not ranked:
        return
    best = ranked[0]
    for kind, other in (("best", lambda i: best), ("above", lambda i: ranked[i - 1])):
        tested = []
        for i, e in enumerate(ranked[1:], 1):
            p, how = tester.test(other(i)["model"], e["model"], lang)
            e[f"p_vs_{kind}"] = p
            e.setdefault("test", how)  # the test against the best
            if p is not None:
                tested.append(e)
        for e, p_adj in zip(tested, stats.holm([e[f"p_vs_{kind}"] for e in tested])):
            e[f"p_adj_vs_{kind}"] = p_adj
            e[f"same_as_{kind}"] = p_adj >= alpha
    best["same_as_best"] = True


def _group_macros(aggs: dict[str, dict], models: list[str], m: str, up: bool) -> dict[str, dict]:
    """grouping -> group -> {languages, models ranked by the group's macro average (results.json groups)}."""
    from mmx.report.aggregate import GROUPINGS

    present = {g for a in aggs.values() for g in (a.get("groups") or {})}
    order = [g for g in (*GROUPINGS, "provenance") if g in present] + sorted(present - {*GROUPINGS, "provenance"})
    out: dict[str, dict] = {}
    for grouping in order:
        table = {}
        for name in sorted({n for a in aggs.values() for n in (a.get("groups") or {}).get(grouping, {})}):
            rows, langs = [], []
            for lab in models:
                g = ((aggs[lab].get("groups") or {}).get(grouping) or {}).get(name)
                langs += [c for c in (g or {}).get("languages", []) if c not in langs]
                rows.append({"model": lab, "value": g["macro"].get(m) if g else None,
                             "ci": (g.get("macro_ci") or {}).get(m) if g else None})
            table[name] = {"languages": langs, "models": rank_entries(rows, up)}
        out[grouping] = table
    return out


def build_leaderboard(runs: list, tasks: list[str] | None = None, metric: str | None = None,
                      allow_different_data: bool = False, alpha: float = ALPHA, n_resamples: int = 1000,
                      seed: int = 0) -> dict:
    """The leaderboard of the runs, one dict (what --format json prints)."""
    from mmx.metrics.defs import spec_of_def
    from mmx.report import stats
    from mmx.report.summary import lang_info

    if not runs:
        raise MmxError("mmx leaderboard: give at least one run directory")
    labels, notes = model_labels(runs)
    names = list(dict.fromkeys(t for r in runs for t in r.tasks))
    if tasks:
        unknown = [t for t in tasks if t not in names]
        if unknown:
            raise MmxError(f"task(s) {', '.join(unknown)} in none of the runs; they have: {', '.join(names)}")
        names = tasks
    out = {"settings": {"alpha": alpha, "n_resamples": n_resamples, "seed": seed, "correction": "holm per language",
                        "test": "paired permutation (two-sided; unpaired where runs hold different samples)",
                        "ci_level": stats.LEVEL},
           "models": [{"label": lab, "spec": r.spec, "dir": str(r.dir),
                       "random_weights": r.random_weights} for lab, r in zip(labels, runs)],
           "notes": notes, "tasks": {}}
    for t in names:
        members = [(lab, r) for lab, r in zip(labels, runs) if t in r.tasks]
        have = {r.spec for _, r in members}
        absent = [lab for lab, r in zip(labels, runs)  # a model whose other run has the task is not absent
                  if t not in r.tasks and r.spec not in have]
        if absent:
            notes.append(f"{t}: not in the run(s) of {', '.join(absent)}")
        check_data(t, members, allow_different_data, notes)
        first = members[0][1]
        m = metric or first.tasks[t]["primary_metric"]
        for lab, r in members:
            if m not in r.tasks[t]["metrics"]:
                raise MmxError(f"{t}: metric {m!r} is not in {r.dir} ({lab}); it has {', '.join(r.tasks[t]['metrics'])}")
        mdef = first.defs(t)[m]
        for lab, r in members[1:]:
            if spec_of_def(m, r.defs(t)[m]) != spec_of_def(m, mdef):
                raise MmxError(f"{t}: metric {m} is defined differently in {first.dir} and {r.dir}")
        up = mdef.get("higher_is_better", True)
        aggs = {lab: r.aggregates(t) for lab, r in members}
        codes = sorted({c for a in aggs.values() for c in a["languages"]})
        tester = _Tester(t, m, mdef, dict(members), n_resamples, seed)  # labels are unique within a task
        try:  # the tests need every run's samples; without them the table still stands, untested
            for _, r in members:
                r.samples(t)
            testable = True
        except MmxError as e:
            testable = False
            notes.append(f"{t}: no significance tests, the samples are not readable: {e}")
        per_lang = {}
        for code in codes:
            entries = []
            for lab, _ in members:
                d = aggs[lab]["languages"].get(code)
                entries.append({"model": lab, "value": d["metrics"].get(m) if d else None,
                                "ci": (d.get("ci") or {}).get(m) if d else None,
                                "n": (d.get("n") or {}).get(m) if d else None})
            entries = rank_entries(entries, up)
            if testable:
                _test_language(entries, tester, code, alpha)
            per_lang[code] = entries
        overall = rank_entries([{"model": lab, "value": aggs[lab]["overall"]["macro"].get(m),
                                   "ci": (aggs[lab]["overall"].get("macro_ci") or {}).get(m),
                                   "languages": len(aggs[lab]["languages"])} for lab, _ in members], up)
        for e in overall:
            ranks = [x["rank"] for es in per_lang.values() for x in es if x["model"] == e["model"] and x["rank"]]
            e["mean_rank"] = sum(ranks) / len(ranks) if ranks else None
            e["best_or_tied"] = sum(any(x["model"] == e["model"] and x.get("same_as_best") for x in es)
                                    for es in per_lang.values())
        if len({e["languages"] for e in overall}) > 1:
            notes.append(f"{t}: the models cover different languages, so their macro averages are not comparable")
        groups = _group_macros(aggs, [lab for lab, _ in members], m, up)
        out["tasks"][t] = {"metric": m, "higher_is_better": up, "metric_def": mdef,
                           "models": [lab for lab, _ in members],
                           "fingerprints": {lab: (r.tasks[t].get("dataset") or {}).get("fingerprint")
                                            for lab, r in members},
                           "language_info": {c: lang_info(c) for c in codes},
                           "languages": per_lang, "overall": overall, "groups": groups}
    return out


# --- rendering -------------------------------------------------------------------------------------------

def _cell(t: dict, e: dict | None, bold: str = "**") -> str:
    from mmx.metrics.defs import format_ci, format_value

    if e is None or e["value"] is None:
        return "-"
    defs = {t["metric"]: t["metric_def"]}
    v = format_value(t["metric"], e["value"], defs=defs)
    if e["rank"] == 1 and bold:
        v = f"{bold}{v}{bold}"
    mark = "=" if e["rank"] != 1 and e.get("same_as_best") else ""
    return f"{v} {format_ci(t['metric'], e['ci'], defs=defs)} ({e['rank']}{mark})"


def _by_model(entries: list[dict]) -> dict[str, dict]:
    return {e["model"]: e for e in entries}


def task_rows(t: dict, bold: str = "**") -> list[tuple[str, list[str], list[list[str]]]]:
    """(caption, header, rows) of a task's tables: per language, then the macro averages by group."""
    from mmx.metrics.defs import scale_of
    from mmx.report.summary import GROUP_TITLES

    models = t["models"]
    scale = " x100" if scale_of(t["metric"], {t["metric"]: t["metric_def"]}) == 100 else ""
    what = f"{t['metric']}{scale}, {'higher' if t['higher_is_better'] else 'lower'} is better"
    rows = []
    for code, entries in t["languages"].items():
        by = _by_model(entries)
        rows.append([code, t["language_info"][code]["name"], *(_cell(t, by.get(m), bold) for m in models)])
    ov = _by_model(t["overall"])
    rows.append(["macro", "all languages", *(_cell(t, ov.get(m), bold) for m in models)])
    rows.append(["mean rank", "over languages", *("-" if ov[m]["mean_rank"] is None else f"{ov[m]['mean_rank']:.2f}"
                                                  for m in models)])
    rows.append(["best or =", "languages", *(f"{ov[m]['best_or_tied']}/{len(t['languages'])}" for m in models)])
    out = [(f"Per language ({what})", ["lang", "name", *models], rows)]
    grows = []
    for grouping, table in t["groups"].items():
        for name, g in table.items():
            by = _by_model(g["models"])
            grows.append([GROUP_TITLES.get(grouping, grouping).split(" (")[0], name, ", ".join(g["languages"]),
                          *(_cell(t, by.get(m), bold) for m in models)])
    if grows:
        out.append((f"Macro average by group ({what}; rank by the group's macro average, no test)",
                    ["grouping", "group", "languages", *models], grows))
    return out


def header_lines(lb: dict) -> list[str]:
    lines = []
    for m in lb["models"]:
        lines.append(f"model {m['label']}: {m['spec']} ({m['dir']})"
                     + (" RANDOM WEIGHTS: chance level, not a real model" if m["random_weights"] else ""))
    return lines + [f"note: {n}" for n in lb["notes"]]


def to_markdown(lb: dict) -> str:
    from mmx.report.summary import _table

    lines = ["# mmx leaderboard", "", *(f"- {x}" for x in header_lines(lb)), "",
             LEGEND.format(alpha=lb["settings"]["alpha"]) + ".", ""]
    for name, t in lb["tasks"].items():
        lines += [f"## {name}", ""]
        for caption, head, rows in task_rows(t):
            lines += [f"### {caption}", "", *_table(head, rows)]
    return "\n".join(lines)


def heatmap(t: dict, name: str) -> str:
    """Models x languages (and the macro average), coloured by the score on one scale for the whole task
    (brighter = better, in the metric's direction); each cell shows the score and the rank."""
    import numpy as np
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    from mmx.metrics.defs import format_value
    from mmx.report.html import _img

    models, codes = t["models"], [*t["languages"], "macro"]
    rows = {c: _by_model(es) for c, es in t["languages"].items()}
    rows["macro"] = _by_model(t["overall"])
    grid = np.array([[np.nan if (e := rows[c].get(m)) is None or e["value"] is None else e["value"]
                      for c in codes] for m in models], dtype=float)
    cmap = colormaps["viridis" if t["higher_is_better"] else "viridis_r"].copy()
    cmap.set_bad("#e0e0e0")
    lo, hi = (np.nanmin(grid), np.nanmax(grid)) if np.isfinite(grid).any() else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 1e-9, hi + 1e-9
    fig = Figure(figsize=(1.8 + 0.62 * len(codes), 0.9 + 0.5 * len(models)))
    ax = fig.subplots()
    im = ax.imshow(np.ma.masked_invalid(grid), aspect="auto", cmap=cmap, vmin=lo, vmax=hi)
    ax.set_xticks(range(len(codes)), codes, fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(models)), models, fontsize=8)
    defs = {t["metric"]: t["metric_def"]}
    for (i, j), v in np.ndenumerate(grid):
        e = rows[codes[j]].get(models[i])
        text = format_value(t["metric"], None if np.isnan(v) else float(v), defs=defs)
        if e and e.get("rank"):
            text += f"\n({e['rank']}{'=' if e['rank'] != 1 and e.get('same_as_best') else ''})"
        bright = not np.isnan(v) and (v - lo) / (hi - lo) > 0.6 if t["higher_is_better"] else \
            not np.isnan(v) and (hi - v) / (hi - lo) > 0.6
        ax.text(j, i, text, ha="center", va="center", fontsize=6.5, color="black" if bright or np.isnan(v) else "white",
                fontweight="bold" if e and e.get("same_as_best") else "normal")
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.01)
    ax.set_xlabel(f"{name}: {t['metric']} per language (x100 where a fraction); brighter = better; (r) rank, "
                  "(r=) not significantly different from the best; bold: best or =", fontsize=8)
    return _img(fig, f"{name}: heat map of {t['metric']}, models x languages")


def _table(head: list[str], rows: list[list[str]]) -> str:
    from html import escape

    h = "".join(f"<th>{escape(x)}</th>" for x in head)
    body = []
    for r in rows:
        cells = []
        for x in r:
            best = x.startswith("<b>")
            cells.append(f"<td{' class=best' if best else ''}>{escape(x.replace('<b>', '').replace('</b>', ''))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table class=lb><thead><tr>{h}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def to_html(lb: dict) -> str:
    from html import escape

    from mmx.report.html import CSS

    title = "mmx leaderboard: " + ", ".join(m["label"] for m in lb["models"])
    parts = [f"<h1>{escape(title)}</h1>"]
    if any(m["random_weights"] for m in lb["models"]):
        parts.append('<p class="random" id="random-weights">RANDOM WEIGHTS: '
                     + escape(", ".join(m["label"] for m in lb["models"] if m["random_weights"]))
                     + " were built with random weights; their scores are chance level.</p>")
    parts.append(_table(["model", "spec", "run directory"], [[m["label"], str(m["spec"]), m["dir"]]
                                                             for m in lb["models"]]))
    parts += [f'<p class="note">note: {escape(n)}</p>' for n in lb["notes"]]
    parts.append(f'<p class="note">{escape(LEGEND.format(alpha=lb["settings"]["alpha"]))}.</p>')
    for name, t in lb["tasks"].items():
        parts += [f'<h2 id="task-{escape(name)}">{escape(name)}</h2>', heatmap(t, name)]
        for caption, head, rows in task_rows(t, bold="<b>"):
            parts += [f"<h3>{escape(caption)}</h3>", _table(head, rows)]
    css = CSS + "table.lb td,table.lb th{text-align:left}table.lb td.best{font-weight:bold}"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{css}</style></head><body>\n" + "\n".join(parts)
            + "\n</body></html>\n")


def write_or_print(text: str, output: Optional[Path], what: str) -> None:
    if output:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as e:
            raise MmxError(f"--output {output}: cannot write the {what} there ({e.strerror or e})") from None
        print(f"{what}: {output}")
    else:
        print(text)


def leaderboard_cmd(
    run_dirs: list[Path] = typer.Argument(..., help="run directories (or their results.json), one per model"),
    task: Optional[str] = typer.Option(None, help="only these tasks (comma-separated)"),
    metric: Optional[str] = typer.Option(None, help="rank by this metric (default: each task's primary metric)"),
    format: str = typer.Option("md", help="md, html or json"),
    output: Optional[Path] = typer.Option(None, help="write here, not stdout"),
    allow_different_data: bool = typer.Option(False, help="rank runs evaluated on different data (fingerprints)"),
    alpha: float = typer.Option(ALPHA, help="significance level of the tests against the best model"),
    resamples: int = typer.Option(1000, help="permutation resamples (exact when few samples differ)"),
    seed: int = typer.Option(0, help="seed of the resampling"),
) -> None:
    """Per task: models x languages with CIs, ranks, the models not significantly different from the best,
    macro averages by group; Markdown, JSON or an HTML page with a heat map."""
    import json

    from mmx.errors import check_number
    from mmx.report.run import load_run

    if format not in ("md", "html", "json"):
        raise MmxError(f"--format {format!r}: use md, html or json")
    alpha = check_number("--alpha", alpha, low=0, high=1, low_open=True, high_open=True)
    resamples = check_number("--resamples", resamples, low=1, integer=True)
    tasks = [x.strip() for x in task.split(",") if x.strip()] if task else None
    lb = build_leaderboard([load_run(p) for p in run_dirs], tasks, metric, allow_different_data, alpha, resamples,
                           seed)
    text = {"md": to_markdown, "html": to_html,
            "json": lambda x: json.dumps(x, indent=1, ensure_ascii=False)}[format](lb)
    write_or_print(text, output, "leaderboard")
