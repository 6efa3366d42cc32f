"""Cross-lingual consistency: is an item solved in one language and not in another?

On parallel data (the same item in several languages: the probe, HumanEval-XL's 23 languages, XTD10,
xGQA) per-language averages can hide knowledge a model has in one language and lacks in another: two
languages at 60% may solve the same 60% of the items or quite different ones. For each pair of
languages (A, B), for the task's primary metric when its per-sample scores are all 0 or 1 (solved or
not: accuracy, top-1, exact match, pass@1 with n=1; the proportions of mmx/report/aggregate.py
``is_proportion``; without a primary metric, every such metric), over the items scored in both
(``aggregate.item_key``):

- ``solved_only[A][B]``: items solved in A and not in B (``[B][A]``: the other way), listed in
  ``differing_items[A][B]`` (item keys, sorted, at most ``max_listed`` per pair);
- ``agreement``: the share of shared items with the same outcome;
- ``kappa``: Cohen's kappa (Cohen 1960), (p_o - p_e) / (1 - p_e) with p_e from each language's solve
  rate. Undefined (null) when both languages are constant on the shared items (all solved or all
  failed, in either or both): no variation, so no agreement beyond chance to measure; where only one
  is constant the formula gives 0;
- ``mcnemar_p``: McNemar's exact test (McNemar 1947; the exact form as in Fagerland, Lydersen & Laake
  2013): the two-sided binomial test of the discordant pairs, b solved only in A out of b + c, against
  1/2 (scipy.stats.binomtest). 1.0 when there is no discordant pair. Each pair's p-value is unadjusted;
  the reports add Holm's adjustment over the languages compared with English.

Soft per-sample scores (VQA accuracy from several annotators, a retrieval rank) are left out rather than
thresholded: the metric itself does not say what "solved" means. An item with more than one scored
sample in a language (ambiguous alignment) is left out for that language and counted in ``ambiguous``.
Matrices are {row language: {column language: value}}, the diagonal included (a language against itself).
"""
from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from mmx.metrics import defs
from mmx.schema import Record

MAX_LISTED = 20  # differing items listed per ordered pair of languages
REFERENCE_LANGUAGE = "en"


def kappa(n11: int, n10: int, n01: int, n00: int) -> float | None:
    """Cohen's kappa of two binary ratings from their 2x2 table (n10: solved in A, not in B); None when
    undefined (no item, or both ratings constant)."""
    n = n11 + n10 + n01 + n00
    if n == 0:
        return None
    a1, b1 = (n11 + n10) / n, (n11 + n01) / n
    if a1 in (0.0, 1.0) and b1 in (0.0, 1.0):
        return None
    po = (n11 + n00) / n
    pe = a1 * b1 + (1 - a1) * (1 - b1)
    return (po - pe) / (1 - pe)


def outcomes(records: list[Record], key: str, items: list[str]) -> tuple[dict[str, dict[str, bool]], dict[str, int]]:
    """language -> item -> solved, from the per-sample score ``key``; and language -> items left out
    because more than one sample of the language scored them. ``items``: each record's item."""
    seen: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r, item in zip(records, items):
        v = r.scores.get(key)
        if v is not None and not math.isnan(v):
            seen[r.language][item].append(v)
    out, ambiguous = {}, {}
    for lang, its in seen.items():
        out[lang] = {i: vs[0] == 1.0 for i, vs in its.items() if len(vs) == 1}
        ambiguous[lang] = sum(len(vs) > 1 for vs in its.values())
    return out, ambiguous


def consistency_of(by_lang: dict[str, dict[str, bool]], max_listed: int = MAX_LISTED) -> dict:
    """The matrices of one metric (see the module docstring), every pair of languages at once: the 2x2
    counts of all pairs are products of the languages' solved / failed indicator matrices. McNemar's exact
    p-value with p = 1/2 is twice the smaller binomial tail, capped at 1 (scipy.stats.binomtest's two-sided
    value, checked in the tests, at a fraction of its cost over hundreds of language pairs)."""
    from scipy.stats import binom

    langs = sorted(by_lang)
    items = sorted(set().union(*by_lang.values()))
    col = {i: j for j, i in enumerate(items)}
    solved = np.zeros((len(langs), len(items)))
    failed = np.zeros_like(solved)
    for r, c in enumerate(langs):
        for i, v in by_lang[c].items():
            (solved if v else failed)[r, col[i]] = 1.0
    n11, only, n00 = (solved @ solved.T).astype(int), (solved @ failed.T).astype(int), (failed @ failed.T).astype(int)
    shared = n11 + only + only.T + n00
    discordant = only + only.T
    with np.errstate(invalid="ignore"):  # (no discordant item: p = 1, set below)
        p = np.minimum(1.0, 2.0 * binom.cdf(np.minimum(only, only.T), discordant, 0.5))
    p[discordant == 0] = 1.0
    out = {"languages": langs, "items": {c: len(by_lang[c]) for c in langs},
           **{k: {c: {} for c in langs} for k in ("shared_items", "solved_only", "agreement", "kappa",
                                                 "mcnemar_p", "differing_items")}}
    for a, x in enumerate(langs):
        for b, y in enumerate(langs):
            n = int(shared[a, b])
            out["shared_items"][x][y] = n
            out["solved_only"][x][y] = int(only[a, b])
            out["agreement"][x][y] = float(n11[a, b] + n00[a, b]) / n if n else None
            out["kappa"][x][y] = kappa(int(n11[a, b]), int(only[a, b]), int(only[b, a]), int(n00[a, b]))
            out["mcnemar_p"][x][y] = float(p[a, b]) if n else None
            if a != b:
                out["differing_items"][x][y] = [items[j] for j in
                                                np.flatnonzero(solved[a] * failed[b])[:max_listed]]
    return out


def consistency(records: list[Record], metrics: list[str], ratios: dict | None = None,
                max_listed: int = MAX_LISTED) -> dict:
    """metric -> its consistency matrices, for each binary metric of a task run in two or more languages
    that share items; {} when there is none (the section is then left out of results.json)."""
    from mmx.report.aggregate import is_proportion, item_key

    out = {}
    binary = [m for m in metrics if is_proportion(records, m, ratios)]  # per-sample scores all 0 or 1
    if len({r.language for r in records}) < 2 or not binary:
        return out
    items = [item_key(r) for r in records]
    for m in binary:
        by_lang, ambiguous = outcomes(records, defs.spec_of(m, ratios).stats[0], items)
        if len(by_lang) < 2:
            continue
        c = consistency_of(by_lang, max_listed)
        if not any(c["shared_items"][a][b] for a in c["languages"] for b in c["languages"] if a != b):
            continue  # not parallel data: no item in two languages
        out[m] = {**c, "ambiguous": {k: v for k, v in ambiguous.items() if v}, "max_listed": max_listed}
    return out


# --- question language x answer language (issue 13 section 6) ------------------------------------------


def answer_grid(records: list[Record], metrics: list[str], ratios: dict | None = None) -> dict:
    """{question language: {answer entry: {"answer_language", "n", "metrics"}}} of a task whose samples were
    asked in several answer languages (the VQA kind's ``answer_languages``: ``extra["answer_request"]`` is the
    entry, ``question`` or a code); {} for any other task."""
    from mmx.report.aggregate import metric_value

    cells: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for r in records:
        if r.extra and "answer_request" in r.extra:
            cells[(r.language, str(r.extra["answer_request"]))].append(r)
    out: dict[str, dict] = {}
    for (lang, entry), recs in sorted(cells.items()):
        alangs = sorted({str(r.extra.get("answer_language")) for r in recs})
        vals = {m: metric_value(recs, m, ratios) for m in metrics}
        out.setdefault(lang, {})[entry] = {"answer_language": alangs[0] if len(alangs) == 1 else "mixed",
                                           "n": {m: v[1] for m, v in vals.items()},
                                           "metrics": {m: v[0] for m, v in vals.items()}}
    return out


def grid_tables(t: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """The question x answer language grid: the primary metric and output-language fidelity per cell."""
    grid = t.get("answer_grid") or {}
    if not grid:
        return []
    p = t["primary_metric"]
    entries = sorted({e for row in grid.values() for e in row}, key=lambda e: (e != "question", e))

    def cell(c):
        if c is None:
            return "-"
        v, fid = c["metrics"].get(p), c["metrics"].get("lang_fidelity")
        return (defs.format_value(p, v, defs=t["metric_defs"])
                + (f" / {defs.format_value('lang_fidelity', fid, defs=t['metric_defs'])}" if "lang_fidelity" in
                   c["metrics"] else ""))

    head = ["question language"] + [f"{e} (own language)" if e == "question" else e for e in entries]
    rows = [[lang] + [cell(grid[lang].get(e)) for e in entries] for lang in grid]
    return [(f"Question language x answer language: {p} / lang_fidelity (x100; '-': not identifiable or not "
             "asked); each question asked once per answer language", head, rows)]


# --- reports ------------------------------------------------------------------------------------------


def reference_of(c: dict) -> str:
    """English where the task ran it, else the first language."""
    return REFERENCE_LANGUAGE if REFERENCE_LANGUAGE in c["languages"] else c["languages"][0]


def _p(v) -> str:
    return "-" if v is None else (f"{v:.3f}" if v >= 0.001 else f"{v:.1e}")


def _k(v) -> str:
    return "-" if v is None else f"{v:+.2f}"


def vs_reference_rows(c: dict, shown: int = 2) -> tuple[str, list[str], list[list[str]]]:
    """(reference, header, rows): each language against the reference (English): shared items, solved only
    here, solved only in the reference, agreement, kappa, McNemar p and Holm's over the rows, examples."""
    from mmx.report.stats import holm

    ref = reference_of(c)
    others = [x for x in c["languages"] if x != ref and c["shared_items"][x][ref]]
    ps = [c["mcnemar_p"][x][ref] for x in others]
    adj = holm(ps) if ps else []
    head = ["lang", "shared items", "solved only here", f"solved only in {ref}", "agreement x100", "kappa",
            "McNemar p", "p (Holm)", f"examples: only here / only in {ref}"]
    rows = []
    for x, p_adj in zip(others, adj):
        ex = [", ".join(c["differing_items"][x][ref][:shown]) or "-",
              ", ".join(c["differing_items"][ref][x][:shown]) or "-"]
        agree = c["agreement"][x][ref]
        rows.append([x, str(c["shared_items"][x][ref]), str(c["solved_only"][x][ref]), str(c["solved_only"][ref][x]),
                     "-" if agree is None else f"{100 * agree:.1f}", _k(c["kappa"][x][ref]),
                     _p(c["mcnemar_p"][x][ref]), _p(p_adj), " / ".join(ex)])
    return ref, head, rows


def tables(t: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """The report's consistency table of a task (its primary metric, else its first binary metric)."""
    cons = t.get("consistency") or {}
    if not cons:
        return grid_tables(t)
    m = t["primary_metric"] if t["primary_metric"] in cons else next(iter(cons))
    ref, head, rows = vs_reference_rows(cons[m])
    if not rows:
        return grid_tables(t)
    return grid_tables(t) + [(f"Cross-lingual consistency of {m} (per item: solved or not) against {ref}, on the items both "
             f"languages have; kappa: Cohen's; McNemar: exact test of the discordant items; the full language x "
             f"language matrices and up to {cons[m]['max_listed']} differing items per pair are in results.json "
             "(consistency)", head, rows)]
