"""`mmx report --format html`: one self-contained HTML file (no JavaScript, figures as inline base64 PNG).

Figures (matplotlib, object API so no global pyplot state or display is needed): a language x task
heat map of the primary metrics, and per task a per-language bar chart with 95% CI error bars and the
gap to English with its CI. Tables carry every number shown in the figures.
"""
from __future__ import annotations

import base64
import io
from html import escape

import numpy as np

from mmx.metrics.defs import format_value, scale_of
from mmx.metrics.tokenizers import report_tables as tokenizer_tables
from mmx.report.summary import CI_NOTE, RANDOM_NOTE, _direction, lang_info, task_intro, task_tables

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1200px;
color:#222;padding:0 1rem;line-height:1.4}
h1{font-size:1.6rem}h2{margin-top:2.5rem;border-bottom:1px solid #ccc}h3{font-size:1.05rem;margin-top:1.5rem}
.random{background:#b00020;color:#fff;font-size:1.4rem;font-weight:bold;padding:1rem 1.2rem;border-radius:6px}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}th{background:#f3f3f3}
td:nth-child(-n+4),th:nth-child(-n+4){text-align:left}
tr.total td{font-weight:bold;background:#fafafa}
img{max-width:100%;height:auto;display:block;margin:.5rem 0}
.meta td{text-align:left}.note{color:#555;font-size:.9rem}
"""


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _img(fig, alt: str) -> str:
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{_png(fig)}">'


def heatmap(s: dict) -> str:
    """Cells show the primary metric on its display scale (mmx.metrics.defs); colour is per task (tasks' metrics differ in scale and direction):
    the task's best language brightest, its worst darkest."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    tasks = list(s["tasks"])
    codes = sorted({c for t in s["tasks"].values() for c in t["languages"]})
    grid = np.full((len(codes), len(tasks)), np.nan)
    shade = np.full_like(grid, np.nan)
    for j, n in enumerate(tasks):
        t = s["tasks"][n]
        for i, c in enumerate(codes):
            v = (t["languages"].get(c) or {}).get("metrics", {}).get(t["primary_metric"])
            grid[i, j] = np.nan if v is None else v
        col = grid[:, j]
        if np.isfinite(col).any():
            lo, hi = np.nanmin(col), np.nanmax(col)
            shade[:, j] = (col - lo) / (hi - lo) if hi > lo else 0.5
            if not t["metric_defs"][t["primary_metric"]].get("higher_is_better", True):
                shade[:, j] = 1 - shade[:, j]
    cmap = colormaps["viridis"].copy()
    cmap.set_bad("#e0e0e0")
    fig = Figure(figsize=(1.6 + 1.5 * len(tasks), 1.2 + 0.24 * len(codes)))
    ax = fig.subplots()
    ax.imshow(np.ma.masked_invalid(shade), aspect="auto", cmap=cmap, vmin=0, vmax=1)
    labels = [f"{n}\n{_direction(s['tasks'][n]['metric_defs'], s['tasks'][n]['primary_metric'])}" for n in tasks]
    ax.set_xticks(range(len(tasks)), labels, fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(codes)), codes, fontsize=8)
    for (i, j), v in np.ndenumerate(grid):
        t = s["tasks"][tasks[j]]
        ax.text(j, i, format_value(t["primary_metric"], None if np.isnan(v) else float(v), defs=t["metric_defs"]),
                ha="center", va="center", fontsize=7, color="black" if np.isnan(v) or shade[i, j] > 0.6 else "white")
    ax.set_xlabel("primary metric (x100 where the label says so); colour per task: best language brightest, "
                  "worst darkest", fontsize=8)
    return _img(fig, "heat map of the primary metric per language and task")


def _bars(codes, vals, cis, title, xlabel, colors, ref_line=None, ref_label=None, scale: float = 100.0):
    """Horizontal bars of values x scale (the metric's display scale) with CI error bars."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 1.0 + 0.28 * len(codes)))
    ax = fig.subplots()
    y = np.arange(len(codes))
    v = np.array([np.nan if x is None else scale * x for x in vals])
    err = np.array([[max(0.0, scale * (x - c[0])), max(0.0, scale * (c[1] - x))] if c and x is not None else [0, 0]
                    for x, c in zip(vals, cis)]).T.reshape(2, len(codes))
    ax.barh(y, np.nan_to_num(v), xerr=err, color=colors, ecolor="#333", capsize=2, height=0.7)
    ax.set_yticks(y, codes, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    if ref_line is not None:
        ax.axvline(scale * ref_line, color="#b00020", linestyle="--", linewidth=1, label=ref_label)
        ax.legend(fontsize=8, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return fig


def task_figures(name: str, t: dict) -> list[str]:
    primary = t["primary_metric"]
    up = t["metric_defs"][primary].get("higher_is_better", True)
    langs = t["languages"]
    order = sorted(langs, key=lambda c: -1e9 if langs[c]["metrics"][primary] is None
                   else langs[c]["metrics"][primary] * (1 if up else -1), reverse=True)
    vals = [langs[c]["metrics"][primary] for c in order]
    cis = [langs[c]["ci"].get(primary) for c in order]
    colors = ["#e07b00" if c == "en" else "#3b6ea8" for c in order]
    scale = scale_of(primary, t["metric_defs"])
    fig = _bars(order, vals, cis, f"{name}: {primary} per language (best first), 95% CI",
                _direction(t["metric_defs"], primary), colors, t["overall"]["macro"][primary], "macro average",
                scale=scale)
    out = [_img(fig, f"{name} {primary} per language")]
    if any(langs[c]["gap_to_en"] for c in langs):
        gaps = [(langs[c]["gap_to_en"] or {}).get(primary) for c in order]
        gcis = [(langs[c]["gap_to_en_ci"] or {}).get(primary) for c in order]
        worse = ["#b00020" if g is not None and (g < 0 if up else g > 0) else "#2e7d32" for g in gaps]
        fig = _bars(order, gaps, gcis, f"{name}: gap to English ({primary}, language minus English), 95% CI",
                    "difference" + (" x100" if scale == 100 else ""), worse, scale=scale)
        fig.axes[0].axvline(0, color="#333", linewidth=0.8)
        out.append(_img(fig, f"{name} gap to English"))
    return out


def _html_table(head: list[str], rows: list[list[str]]) -> str:
    h = "".join(f"<th>{escape(x)}</th>" for x in head)
    body = "".join(f'<tr{" class=total" if r[0] in ("macro", "micro") else ""}>'
                   + "".join(f"<td>{escape(x)}</td>" for x in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def to_html(s: dict) -> str:
    model = s["model"]
    title = f"mmx report: {model.get('spec', '?')}"
    parts = [f"<h1>{escape(title)}</h1>"]
    if s["random_weights"]:
        parts.append(f'<p class="random" id="random-weights">{escape(RANDOM_NOTE)}</p>')
    cv = s["run"].get("code_version") or {}
    meta = [("run directory", s["run_dir"]), ("model", str(model.get("spec"))),
            ("suite", str(s["run"].get("suite") or "-")), ("seed", str(s["run"].get("seed"))),
            ("limit", str(s["run"].get("limit") or "none")), ("device", str(s["run"].get("device"))),
            ("finished", str(s["run"].get("finished"))),
            ("code", f"mmx {cv.get('mmx')} {cv.get('git_commit') or ''}{' (dirty)' if cv.get('git_dirty') else ''}")]
    parts.append('<table class="meta">' + "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>"
                                                   for k, v in meta) + "</table>")
    parts.append('<p class="note">Fractions are shown x100 (points), speed factors and ratios as they are '
                 f"(column titles say which). Brackets and error bars: {escape(CI_NOTE)}. "
                 "Gap = language minus English.</p>")
    parts += ["<h2>Overview</h2>", heatmap(s)]
    codes = sorted({c for t in s["tasks"].values() for c in t["languages"]})
    parts.append(_html_table(["lang", "name", "script", "family", "resource level"],
                             [[c, (i := lang_info(c))["name"], i["script"], i["family"], str(i["resource_level"])]
                              for c in codes]))
    for name, t in s["tasks"].items():
        parts += [f'<h2 id="task-{escape(name)}">{escape(name)} ({escape(str(t["kind"]))})</h2>',
                  f"<p>{escape(t['description'].strip())}</p>", f'<p class="note">{escape(task_intro(t))}</p>']
        if t["languages_without_results"]:
            parts.append(f"<p><b>No results for: {escape(', '.join(t['languages_without_results']))}</b></p>")
        parts += task_figures(name, t)
        for caption, head, rows in task_tables(t):
            parts += [f"<h3>{escape(caption)}</h3>", _html_table(head, rows)]
    for caption, head, rows in tokenizer_tables(s):  # mmx/metrics/tokenizers.py: the run's tokenizer section
        parts += ['<h2 id="tokenizer">Tokenizer</h2>', f"<h3>{escape(caption)}</h3>", _html_table(head, rows)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>\n" + "\n".join(parts)
            + "\n</body></html>\n")
