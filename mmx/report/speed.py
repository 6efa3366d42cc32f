"""Speed in the reports and in the CI gate: the ``speed`` section of each task (mmx/speed.py) as a table beside
the scores, and `mmx compare --speed-tolerance` failing when a figure got worse by more than a share.

Only figures measured on the same device are compared (a CPU run against a GPU run says nothing about a
release), and only the pooled figures of a task: per-language figures rest on a few batches each and are
shown, not gated.
"""
from __future__ import annotations

from mmx.errors import MmxError
from mmx.speed import FIGURES, higher_is_better


def format_speed(v: float | None) -> str:
    """A speed figure as every report and the console show it."""
    return "-" if v is None else (f"{v:.3g}" if v < 10 else f"{v:,.0f}" if v >= 1000 else f"{v:.1f}")


def speed_columns(t: dict) -> tuple[list[str], dict[str, list[str]], list[str], str]:
    """The speed figures as columns beside the scores: (titles, {language: cells}, pooled cells, note).
    Figures measured over all languages at once (a task's images) have pooled cells only."""
    sp = t.get("speed")
    if not sp:
        return [], {}, [], ""
    figs = list(sp["overall"])
    # "speed:" keeps them apart from a metric of the same name (the ASR kind's rtfx, warm-up included)
    titles = [f"speed: {f} ({FIGURES.get(f, ('', True))[0]}{'' if higher_is_better(f) else ', lower=better'})"
              for f in figs]
    cells = {lang: [format_speed((d.get(f) or {}).get("value")) for f in figs] for lang, d in sp["languages"].items()}
    pooled = [format_speed(sp["overall"][f]["value"]) for f in figs]
    with_warmup = sorted({lang for lang, d in sp["languages"].items()
                          if any(x["includes_warmup"] for x in d.values())})
    note = (f"speed on {sp['device']}" + (f", {sp['world_size']} ranks (per device)" if sp["world_size"] > 1 else "")
            + f", {sp['note']}" + (f"; warm-up batches included for {', '.join(with_warmup)} (nothing else timed)"
                                   if with_warmup else "") + "; pooled figures in the micro row")
    return titles, cells, pooled, note


def speed_changes(base, new, names: list[str], tolerance: float) -> tuple[list[dict], list[str]]:
    """Per task and pooled figure: baseline, new, relative change and whether it is a regression (worse by more
    than ``tolerance``, a share: 0.2 = 20% slower). Returns (changes, notes)."""
    changes, notes = [], []
    for t in names:
        b, n = base.tasks[t].get("speed"), new.tasks[t].get("speed")
        if not b or not n:
            which = " and ".join(w for w, s in (("baseline", b), ("new", n)) if not s)
            notes.append(f"{t}: speed not compared: the {which} run timed no model call (answered from the output "
                         "cache); evaluate with --no-cache to measure it")
            continue
        if b["device"] != n["device"] or b["world_size"] != n["world_size"]:
            raise MmxError(f"{t}: speed was measured on different devices ({b['device']} x{b['world_size']} vs "
                           f"{n['device']} x{n['world_size']}); --speed-tolerance compares runs of one device: "
                           "rerun the baseline on this machine, or drop --speed-tolerance")
        for f in b["overall"]:
            if f not in n["overall"]:
                notes.append(f"{t}: {f} measured in the baseline only")
                continue
            bv, nv = b["overall"][f]["value"], n["overall"][f]["value"]
            if not bv or not nv:
                continue
            worse = (1 - nv / bv) if higher_is_better(f) else (nv / bv - 1)  # share slower, either direction
            changes.append({"task": t, "figure": f, "unit": b["overall"][f]["unit"], "baseline": bv, "new": nv,
                            "change": nv / bv - 1, "slower_by": worse, "regression": worse > tolerance})
    return changes, notes


def speed_rows(result: dict) -> list[list[str]]:
    return [[c["task"], f"{c['figure']} ({c['unit']})", format_speed(c["baseline"]), format_speed(c["new"]),
             f"{100 * c['change']:+.1f}%", "SLOWER" if c["regression"] else ""] for c in result.get("speed", [])]


SPEED_HEADER = ["task", "speed figure", "baseline", "new", "change", ""]


def speed_verdict(result: dict) -> str | None:
    tol = result["settings"].get("speed_tolerance")
    if tol is None:
        return None
    regs = [c for c in result.get("speed", []) if c["regression"]]
    if not regs:
        return f"speed PASS: no figure worse by more than {100 * tol:g}% ({len(result.get('speed', []))} compared)"
    return (f"speed FAIL: {len(regs)} figure(s) worse by more than {100 * tol:g}%: "
            + ", ".join(f"{c['task']}/{c['figure']} ({100 * c['change']:+.1f}%)" for c in regs))
