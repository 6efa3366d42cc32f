"""`mmx report --format json|md`: a run's aggregates (with CIs, groups, spread, gap to English) as a summary.

Reads the schema only (results.json, and the samples when results.json predates CIs), so every task
kind is reported the same way. Numbers go through mmx.metrics.defs.format_value: fractions x100, speed
factors and ratios (RTFx) as they are, as each metric's def in results.json says.
"""
from __future__ import annotations

from mmx.errors import MmxError
from mmx.metrics.defs import format_ci, format_value, scale_note
from mmx.report.run import Run
from mmx.metrics.tokenizers import report_tables as tokenizer_tables
from mmx.report.consistency import tables as consistency_tables
from mmx.report.speed import speed_columns

RANDOM_NOTE = ("RANDOM WEIGHTS: this model was built with random weights for a smoke test; "
               "its scores are chance level and say nothing about a real model.")
GROUP_TITLES = {"script": "script", "family": "language family", "resource_level": "resource level (Joshi et al. 0-5)",
                "provenance": "data provenance (native, human- or machine-translated; mmx data info)"}
CI_NOTE = ("95% CI: Wilson score interval for proportions (per-sample scores all 0 or 1), else percentile "
           "bootstrap over the language's samples; the gap to English is resampled over the items the "
           "languages share (paired) where they share any")


def lang_info(code: str) -> dict:
    from mmx.languages import get_language

    try:
        lang = get_language(code)
        return {"name": lang.name, "script": lang.script, "family": lang.family,
                "resource_level": lang.resource_level}
    except MmxError:
        return {"name": "?", "script": "?", "family": "?", "resource_level": None}


def summarize(run: Run) -> dict:
    """The report's content, one dict (what --format json prints)."""
    res = run.results
    out = {"run_dir": str(run.dir), "model": res.get("model", {}), "random_weights": run.random_weights,
           "run": {k: res.get("run", {}).get(k) for k in ("suite", "seed", "limit", "device", "started", "finished",
                                                           "code_version")},
           "tasks": {}, **({"tokenizer": res["tokenizer"]} if res.get("tokenizer") else {})}
    for name in run.tasks:
        t = run.aggregates(name)
        gap, gap_ci = t.get("gap_to_en") or {}, t.get("gap_to_en_ci") or {}
        pairing = t.get("gap_to_en_pairing") or {}
        langs = {code: {**lang_info(code), "n": d["n"], "metrics": d["metrics"], "ci": d.get("ci", {}),
                        "gap_to_en": gap.get(code), "gap_to_en_ci": gap_ci.get(code),
                        "gap_to_en_pairing": pairing.get(code)}
                 for code, d in t["languages"].items()}
        expected = (t.get("dataset") or {}).get("languages") or []
        out["tasks"][name] = {
            "kind": t.get("kind"), "description": t.get("description", ""), "metrics": t["metrics"],
            "primary_metric": t["primary_metric"], "metric_defs": run.defs(name), "n_records": t.get("n_records"),
            "dataset": t.get("dataset", {}), "languages": langs, "overall": t["overall"],
            "groups": t.get("groups", {}), "spread": t.get("spread", {}), "bootstrap": t.get("bootstrap"),
            # the optional sections: provenance (the data catalogue), consistency and answer_grid
            # (mmx/report/consistency.py), bitext_grid (mmx/tasks/bitext.py), speed (mmx/speed.py)
            **{k: t[k] for k in ("provenance", "consistency", "answer_grid", "bitext_grid", "speed") if t.get(k)},
            "languages_without_results": [c for c in expected if c not in langs],
        }
    return out


def with_ci(m: str, defs: dict, v, ci, signed: bool = False) -> str:
    """'value [lo, hi]' on the metric's display scale."""
    if v is None:
        return "-"
    return format_value(m, v, signed, defs) + (f" {format_ci(m, ci, signed, defs)}" if ci else "")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|",
            *("| " + " | ".join(r) + " |" for r in rows), ""]


def _direction(defs: dict, m: str) -> str:
    """A column title: the metric, 'x100' when it is shown scaled, and its direction when lower is better."""
    d = defs.get(m, {})
    return (m + (" x100" if d.get("scale", 100) == 100 else "")
            + ("" if d.get("higher_is_better", True) else " (lower=better)"))


def to_markdown(s: dict) -> str:
    model = s["model"]
    lines = [f"# mmx report: {model.get('spec', '?')}", ""]
    if s["random_weights"]:
        lines += [f"> **{RANDOM_NOTE}**", ""]
    cv = s["run"].get("code_version") or {}
    lines += [f"- run: `{s['run_dir']}` (suite {s['run'].get('suite') or '-'}, seed {s['run'].get('seed')}, "
              f"limit {s['run'].get('limit') or 'none'}, device {s['run'].get('device')}, finished "
              f"{s['run'].get('finished')})",
              f"- code: mmx {cv.get('mmx')} {cv.get('git_commit') or ''}{' (dirty)' if cv.get('git_dirty') else ''}",
              "- fractions are shown x100 (points), speed factors and ratios as they are (column titles say "
              "which); gap = language minus English",
              f"- brackets: {CI_NOTE}", ""]
    lines += ["## Primary metric per language and task", ""] + _overview(s)
    for name, t in s["tasks"].items():
        lines += _task_md(name, t)
    for caption, head, rows in tokenizer_tables(s):  # mmx/metrics/tokenizers.py: the run's tokenizer section
        lines += ["## Tokenizer", "", f"{caption}:", ""] + _table(head, rows)
    return "\n".join(lines)


def _overview(s: dict) -> list[str]:
    tasks = list(s["tasks"])
    codes = sorted({c for t in s["tasks"].values() for c in t["languages"]})
    head = ["lang", "name"] + [f"{n} ({_direction(s['tasks'][n]['metric_defs'], s['tasks'][n]['primary_metric'])})"
                               for n in tasks]
    rows = []
    for c in codes:
        row = [c, lang_info(c)["name"]]
        for n in tasks:
            t = s["tasks"][n]
            p = t["primary_metric"]
            row.append(format_value(p, (t["languages"].get(c) or {}).get("metrics", {}).get(p), defs=t["metric_defs"]))
        rows.append(row)
    return _table(head, rows)


def task_tables(t: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """(caption, header, rows) of a task's tables: per language, spread, and per group."""
    metrics, primary, defs = t["metrics"], t["primary_metric"], t["metric_defs"]
    s_head, s_cells, s_pooled, s_note = speed_columns(t)  # mmx/report/speed.py: throughput beside the scores
    blank = [""] * len(s_head)
    head = ["lang", "name", "script", "res."] + [_direction(defs, m) for m in metrics] + [f"gap {primary}"] + s_head
    rows = []
    for code, d in t["languages"].items():
        gap = (d["gap_to_en"] or {}).get(primary)
        rows.append([code, d["name"], d["script"], str(d["resource_level"])]
                    + [with_ci(m, defs, d["metrics"][m], d["ci"].get(m)) for m in metrics]
                    + [with_ci(primary, defs, gap, (d["gap_to_en_ci"] or {}).get(primary), signed=True)]
                    + s_cells.get(code, ["-"] * len(s_head)))
    ov = t["overall"]
    rows.append(["macro", "", "", ""] + [with_ci(m, defs, ov["macro"][m], (ov.get("macro_ci") or {}).get(m))
                                         for m in metrics] + [""] + blank)
    rows.append(["micro", "", "", ""] + [format_value(m, ov["micro"][m], defs=defs) for m in metrics] + [""]
                + s_pooled)
    out = [(f"Per language ({scale_note(metrics, defs)}{'; ' + s_note if s_note else ''})", head, rows)]
    sp = [(m, t["spread"].get(m)) for m in metrics if t["spread"].get(m)]
    if sp:
        def f(m, v):
            return format_value(m, v, defs=defs)

        out.append(("Spread across languages (std: population standard deviation of the language scores)",
                    ["metric", "worst", "best", "range", "std"],
                    [[_direction(defs, m), f"{d['worst_language']} {f(m, d['worst'])}",
                      f"{d['best_language']} {f(m, d['best'])}", f(m, d["range"]), f(m, d["std"])] for m, d in sp]))
    for grouping, table in t["groups"].items():
        out.append((f"By {GROUP_TITLES.get(grouping, grouping)}: {_direction(defs, primary)}, macro = mean over "
                    "the group's languages",
                    [grouping, "languages", "macro", "micro"],
                    [[g, ", ".join(d["languages"]), with_ci(primary, defs, d["macro"][primary],
                                                            d["macro_ci"].get(primary)),
                      format_value(primary, d["micro"][primary], defs=defs)] for g, d in table.items()]))
    diffs = (t.get("provenance") or {}).get("differences") or {}
    if diffs:
        out.append((f"Provenance ({t['provenance']['benchmark']}): difference of the groups' macro averages, "
                    f"{_direction(defs, primary)}, 95% CI of the difference",
                    ["groups", primary],
                    [[pair, with_ci(primary, defs, (d.get(primary) or {}).get("value"),
                                    (d.get(primary) or {}).get("ci"), signed=True)] for pair, d in diffs.items()]))
    out += consistency_tables(t)  # mmx/report/consistency.py: items solved in one language and not another
    g = t.get("bitext_grid")  # the bitext kind: text-to-text retrieval from every language to every other
    if g:
        out.append((f"Text-to-text retrieval top-1 x100, query language (row) x content language (column), "
                    f"{g['n_items']} parallel items", ["query \\ content", *g["languages"]],
                    [[q, *("-" if c == q else f"{100 * g['top1'][q][c]:.1f}" for c in g["languages"])]
                     for q in g["languages"]]))
    return out


def task_intro(t: dict) -> str:
    return (f"{t['n_records']} samples, data fingerprint {t['dataset'].get('fingerprint')}; primary metric "
            f"{_direction(t['metric_defs'], t['primary_metric'])}.")


def _task_md(name: str, t: dict) -> list[str]:
    lines = [f"## {name} ({t['kind']})", "", t["description"].strip(), "", task_intro(t), ""]
    if t["languages_without_results"]:
        lines += [f"**No results for: {', '.join(t['languages_without_results'])}.**", ""]
    for caption, head, rows in task_tables(t):
        lines += [f"{caption}:", ""] + _table(head, rows)
    return lines
