"""The per-language table printed at the end of `mmx evaluate` (numbers through mmx.metrics.defs.format_value)."""
from __future__ import annotations

import re

from rich.console import Console
from rich.table import Table

from mmx.errors import MmxError
from mmx.metrics.defs import format_ci, format_value, scale_note
from mmx.report.speed import format_speed


def _short(metric: str) -> str:
    return re.sub(r"_r(\d+)$", r"@\1", metric)  # t2i_r1 -> t2i@1 (duration_ratio stays)


def _language_cells(code: str) -> tuple[str, str]:
    from mmx.languages import get_language

    try:
        lang = get_language(code)
        return lang.name, lang.script
    except MmxError:
        return "?", "?"


def render_tables(results: dict, console: Console | None = None) -> None:
    console = console or Console()
    model = results["model"]
    title = f"model {model['spec']}"
    if model.get("random_weights"):
        title += "  [bold red](RANDOM WEIGHTS: scores are chance level, not a real model)[/]"
    console.print(title)
    for name, task in results["tasks"].items():
        metrics = task["metrics"]
        primary = task["primary_metric"]
        has_ci = all("ci" in d for d in task["languages"].values())
        defs = task.get("metric_defs") or {}
        ci_kind = "Wilson" if (defs.get(primary) or {}).get("ci") == "wilson" else "bootstrap"
        tbl = Table(title=f"{name} ({task['kind']}), {scale_note(metrics, defs)}; gap = {primary} minus English"
                    + (f"; CI: 95% {ci_kind}" if has_ci else ""), title_justify="left")
        for col in ("lang", "name", "script"):
            tbl.add_column(col)
        for m in metrics:
            tbl.add_column(_short(m), justify="right")
        if has_ci:
            tbl.add_column(f"CI {_short(primary)}", justify="right")
        gap = task.get("gap_to_en") or {}
        if gap:
            tbl.add_column(f"gap {_short(primary)}", justify="right")
        for code, d in task["languages"].items():
            name_, script = _language_cells(code)
            row = [code, name_, script, *[format_value(m, d["metrics"][m], defs=defs) for m in metrics]]
            if has_ci:
                row.append(format_ci(primary, d["ci"].get(primary), defs=defs))
            if gap:
                g = gap.get(code, {}).get(primary)
                row.append(format_value(primary, g, signed=True, defs=defs))
            tbl.add_row(*row)
        for label in ("macro", "micro"):
            row = [label, "", "", *[format_value(m, task["overall"][label][m], defs=defs) for m in metrics]]
            if has_ci:
                row.append(format_ci(primary, (task["overall"].get(f"{label}_ci") or {}).get(primary), defs=defs))
            tbl.add_row(*(row + ([""] if gap else [])), style="bold")
        console.print(tbl)
        sp = task.get("speed")  # mmx/speed.py; per language in `mmx report`
        if sp:
            console.print(f"speed ({sp['device']}): " + ", ".join(
                f"{f} {format_speed(v['value'])} {v['unit']}" for f, v in sp["overall"].items()),
                markup=False, highlight=False)
