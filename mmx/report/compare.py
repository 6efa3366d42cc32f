"""`mmx compare BASELINE NEW`: paired, per (task, language) comparison of two runs on the same samples.

Each metric is read from the run's metric_defs only (its per-sample statistics and reducer,
mmx/metrics/defs.py), so a mean, a ratio of sums and corpus BLEU take the same path: rows of
statistics are resampled or swapped, summed and reduced. For each language, samples are paired by id. The change (NEW minus BASELINE) gets a paired bootstrap
CI (the same resampled samples in both runs) and a two-sided paired permutation p-value (each resample
swaps the two runs' scores on a random half of the samples; see permutation_p for small p). p-values
are Holm-adjusted over all (task, language) tests, so a suite of 100 languages does not fail a release
by chance.

With few differing pairs (2^n <= EXACT_MAX) the permutation p-value is exact: every swap pattern is
enumerated, as scipy.stats.permutation_test(..., permutation_type="samples") does (checked in the tests).

A language *regresses* when it got worse (by the metric's direction) by more than the threshold and
its adjusted p-value is below alpha. "More than" is decided with a relative tolerance of 1e-9
(``exceeds``), so a drop of exactly the threshold never fails, whatever the float rounding of the
two scores (0.50 -> 0.49 and 0.47 -> 0.46 at threshold 0.01 both pass).

Detectability (``min_pairs``, ``mde``): with n paired samples the smallest two-sided p-value the exact
sign-flip permutation test can reach is 2^(1-n) (every differing pair moved the same way; the Monte-Carlo
p-value cannot go below 1/(1 + permutations) either). Holm compares the smallest p-value of m tests with
alpha/m, so a single language that regressed can only be flagged when k pairs changed, with
m * 2^(1-k) < alpha: ``min_pairs`` is the smallest such k. For a metric shown as a fraction (per-sample
scores in [0, 1]) a sample can move the score by at most 1/n, so the smallest drop the gate can detect
there is ``mde = min_pairs / n`` (for a ratio metric such as corpus WER, an approximation: a sample's
weight is its share of the reference words). When mde exceeds the threshold, or min_pairs exceeds n
(the language can never fail), `mmx compare` prints a warning: a drop of the threshold's size there
would pass unseen.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from mmx.report.speed import SPEED_HEADER, speed_changes, speed_rows, speed_verdict
from mmx.errors import MmxError
from mmx.metrics import defs as metric_display
from mmx.metrics.defs import spec_of_def
from mmx.report import stats
from mmx.report.aggregate import ratios_of, score_matrix
from mmx.report.run import Run

EXACT_MAX = 1 << 16  # swap patterns enumerated exactly up to 16 differing pairs
REL_TOL = 1e-9  # "drop > threshold" up to float rounding
MIN_TAIL = 10  # permutations beyond the observed change needed to trust the Monte-Carlo p-value
MAX_PERMUTATIONS = 200_000  # when the tail needs more: resolves p down to 5e-6 (Holm over 10,000 tests)
PERMUTATION_BUDGET = 50_000_000  # permutations x differing pairs per test
CLT_PAIRS = 100  # differing pairs from which a normal approximates the permutation tail well


@dataclass
class Change:
    task: str
    language: str
    metric: str
    higher_is_better: bool
    n: int  # paired samples carrying the metric in both runs
    baseline: float | None
    new: float | None
    delta: float | None  # new - baseline
    ci: list[float] | None
    p: float | None
    p_adj: float | None = None
    regression: bool = False
    min_pairs: int | None = None  # changed pairs needed before the gate can flag this language (Holm, alpha)
    mde: float | None = None  # the smallest drop it can detect here, in metric units (None: not a fraction)

    @property
    def gain(self) -> float | None:
        """The change in the good direction (negative: worse)."""
        return None if self.delta is None else (self.delta if self.higher_is_better else -self.delta)


def paired_test(base: np.ndarray, new: np.ndarray, kind: str, n_resamples: int, rng: np.random.Generator):
    """(baseline value, new value, delta, CI of delta, p) for aligned score matrices (n, 1|2)."""
    n = len(base)
    b_val = float(stats.stat_from_sums(base.sum(0), n, kind))
    n_val = float(stats.stat_from_sums(new.sum(0), n, kind))
    delta = n_val - b_val
    k = base.shape[1]
    sums = stats.bootstrap_sums(np.concatenate([base, new], axis=1), n_resamples, rng)
    boot = stats.stat_from_sums(sums[:, k:], n, kind) - stats.stat_from_sums(sums[:, :k], n, kind)
    return b_val, n_val, delta, stats.percentile_ci(boot), permutation_p(base, new, kind, delta, n_resamples, rng)


def permutation_p(base: np.ndarray, new: np.ndarray, kind: str, delta: float, n_resamples: int,
                  rng: np.random.Generator) -> float:
    """Two-sided paired permutation p-value. Swapping a pair with equal scores changes nothing, so only the
    differing pairs are permuted: all 2^n patterns when there are few (exact), else at random. A tail the
    first resamples cannot resolve is resampled again, up to a
    compute budget; beyond it, with many differing pairs, a normal fitted to the permutation distribution."""
    differ = np.any(base != new, axis=1)
    n_eff = int(differ.sum())
    if n_eff == 0 or math.isnan(delta):
        return 1.0
    fixed_b, fixed_n = base[~differ].sum(0), new[~differ].sum(0)
    if (1 << n_eff) <= EXACT_MAX:  # every swap pattern of the differing pairs: the exact p-value
        patterns = ((np.arange(1 << n_eff)[:, None] >> np.arange(n_eff)) & 1).astype(np.float64)
        diff = base[differ] - new[differ]
        moved = patterns @ diff
        sb, sn = base[differ].sum(0) - moved, new[differ].sum(0) + moved
        perm = stats.stat_from_sums(sn + fixed_n, len(base), kind) - stats.stat_from_sums(sb + fixed_b, len(base), kind)
        perm = perm[~np.isnan(perm)]
        return float(np.mean(np.abs(perm) >= abs(delta) - 1e-12)) if perm.size else 1.0

    def run(b: int):
        sb, sn = stats.swap_sums(base[differ], new[differ], b, rng)
        perm = stats.stat_from_sums(sn + fixed_n, len(base), kind) - stats.stat_from_sums(sb + fixed_b, len(base), kind)
        perm = perm[~np.isnan(perm)]
        return int(np.sum(np.abs(perm) >= abs(delta) - 1e-12)), perm

    tail, perm = run(n_resamples)
    more = int(min(MAX_PERMUTATIONS, PERMUTATION_BUDGET // n_eff))
    if tail < MIN_TAIL and more > n_resamples:
        tail, perm = run(more)
    p = (1 + tail) / (1 + len(perm))  # a valid (slightly conservative) Monte-Carlo p-value
    if tail < MIN_TAIL and n_eff >= CLT_PAIRS:
        sd = float(np.sqrt(np.mean(perm ** 2)))  # the null distribution is centred on 0
        p = math.erfc(abs(delta) / sd / math.sqrt(2)) if sd > 0 else p
    return p


def _check_tasks(base: Run, new: Run, tasks: list[str] | None, allow_different_data: bool) -> list[str]:
    common = [t for t in base.tasks if t in new.tasks]
    if tasks:
        unknown = [t for t in tasks if t not in common]
        if unknown:
            raise MmxError(f"task(s) {', '.join(unknown)} not in both runs; both have: {', '.join(common) or 'none'}")
        common = tasks
    if not common:
        raise MmxError(f"the runs share no task: {base.dir} has {', '.join(base.tasks)}, {new.dir} has "
                       f"{', '.join(new.tasks)}; compare runs of the same tasks")
    if not allow_different_data:
        bad = []
        for t in common:
            db, dn = base.tasks[t].get("dataset", {}), new.tasks[t].get("dataset", {})
            if db.get("fingerprint") != dn.get("fingerprint"):
                why = []
                if db.get("languages") != dn.get("languages"):
                    why.append(f"languages {db.get('languages')} vs {dn.get('languages')}")
                if base.tasks[t].get("n_records") != new.tasks[t].get("n_records"):
                    why.append(f"{base.tasks[t].get('n_records')} vs {new.tasks[t].get('n_records')} samples")
                if db.get("source") != dn.get("source"):
                    why.append(f"source {db.get('source')} vs {dn.get('source')}")
                bad.append(f"{t} (fingerprint {db.get('fingerprint')} vs {dn.get('fingerprint')}"
                           + (f": {'; '.join(why)}" if why else "") + ")")
        if bad:
            raise MmxError(f"BASELINE {base.dir} and NEW {new.dir} ran on different data: {', '.join(bad)}. "
                           "Evaluate both on the same data (same --languages and --limit), or pass "
                           "--allow-different-data to compare the samples they share")
    return common


def compare_runs(base: Run, new: Run, metric: str | None = None, threshold: float = 0.01, alpha: float = 0.05,
                 tasks: list[str] | None = None, languages: list[str] | None = None,
                 allow_different_data: bool = False, n_resamples: int = stats.N_RESAMPLES,
                 seed: int = stats.SEED, speed_tolerance: float | None = None) -> dict:
    if threshold < 0 or not 0 < alpha < 1:
        raise MmxError(f"--threshold must be >= 0 and --alpha in (0, 1); got {threshold} and {alpha}")
    names = _check_tasks(base, new, tasks, allow_different_data)
    if metric and not any(metric in base.tasks[t]["metrics"] for t in names):
        raise MmxError(f"no task of the runs has metric {metric!r}; they have: "
                       + "; ".join(f"{t}: {', '.join(base.tasks[t]['metrics'])}" for t in names))
    changes: list[Change] = []
    notes: list[str] = []
    for t in names:
        m = metric or base.tasks[t]["primary_metric"]
        if m not in base.tasks[t]["metrics"] or m not in new.tasks[t]["metrics"]:
            notes.append(f"{t}: skipped, metric {m} is not in both runs")
            continue
        bdef, ndef = base.defs(t)[m], new.defs(t)[m]
        if spec_of_def(m, bdef) != spec_of_def(m, ndef):
            raise MmxError(f"{t}: metric {m} is defined differently in the two runs ({bdef} vs {ndef})")
        changes += _compare_task(base, new, t, m, bdef, languages, n_resamples, seed, notes)
    if not any(c.n for c in changes):
        raise MmxError(f"no paired samples to compare: BASELINE {base.dir} and NEW {new.dir} share no sample id "
                       f"carrying the metric in task(s) {', '.join(names)}"
                       + (f" and language(s) {', '.join(languages)}" if languages else "")
                       + "; evaluate both runs on the same data (same --tasks, --languages, --limit)")
    tested = [c for c in changes if c.p is not None]
    warnings: list[str] = []
    for c, p_adj in zip(tested, stats.holm([c.p for c in tested])):
        c.p_adj = p_adj
        c.regression = c.gain is not None and exceeds(-c.gain, threshold) and p_adj < alpha
    for c in changes:
        scale = base.defs(c.task)[c.metric].get("scale") or metric_display.scale_of(c.metric)
        c.min_pairs = min_pairs(len(tested), alpha)
        # per-sample scores in [0, 1] under a mean or ratio; a corpus metric (BLEU) has no such bound
        additive = spec_of_def(c.metric, base.defs(c.task)[c.metric]).reducer in ("mean", "ratio")
        c.mde = c.min_pairs / c.n if c.n and scale == 100 and additive else None
        warnings += detectability_warning(c, threshold, alpha, len(tested), base.defs(c.task))
    speed = []
    if speed_tolerance is not None:  # mmx/report/speed.py: pooled figures of each task, same device only
        speed, speed_notes = speed_changes(base, new, names, speed_tolerance)
        notes += speed_notes
    return {"baseline": {"dir": str(base.dir), "model": base.spec,
                         "random_weights": base.random_weights},
            "new": {"dir": str(new.dir), "model": new.spec,
                    "random_weights": new.random_weights},
            "settings": {"threshold": threshold, "alpha": alpha, "correction": "holm", "n_resamples": n_resamples,
                         "seed": seed, "ci_level": stats.LEVEL, "test": "paired permutation (two-sided)",
                         "speed_tolerance": speed_tolerance},
            "changes": [{**asdict(c), "gain": c.gain, "scale": base.defs(c.task)[c.metric].get("scale"),
                         "unit": base.defs(c.task)[c.metric].get("unit")} for c in changes],
            "regressions": [f"{c.task}/{c.language}" for c in changes if c.regression],
            "speed": speed, "speed_regressions": [f"{c['task']}/{c['figure']}" for c in speed if c["regression"]],
            "notes": notes, "warnings": warnings}


def exceeds(drop: float, threshold: float) -> bool:
    """drop > threshold, with values equal up to float rounding (relative 1e-9) counting as equal."""
    return drop > threshold and not math.isclose(drop, threshold, rel_tol=REL_TOL, abs_tol=1e-12)


def min_pairs(m: int, alpha: float) -> int:
    """The fewest pairs that must all change the same way before one of m Holm-adjusted tests can reach
    alpha: the smallest k with m * 2^(1-k) < alpha (the exact sign-flip test's smallest p-value)."""
    m = max(m, 1)
    k = 1
    while m * 2.0 ** (1 - k) >= alpha:
        k += 1
    return k


def detectability_warning(c: Change, threshold: float, alpha: float, m: int, mdefs: dict) -> list[str]:
    where = f"{c.task}/{c.language}"
    if c.n == 0:
        return [f"{where}: no paired samples, not tested: a regression there cannot fail the gate"]
    if c.min_pairs > c.n:
        return [f"{where}: only {c.n} paired samples; with {m} tests (Holm, alpha {alpha:g}) a language needs "
                f"at least {c.min_pairs} changed samples to be flagged, so the gate cannot fail here at all"]
    if c.mde is not None and exceeds(c.mde, threshold):
        fmt = lambda v: metric_display.format_value(c.metric, v, defs=mdefs)  # noqa: E731
        return [f"{where}: with {c.n} paired samples the smallest drop the gate can detect is {fmt(c.mde)} "
                f"({c.min_pairs} samples), above the threshold {fmt(threshold)}: a drop of the threshold's size "
                "there would pass unseen"]
    return []


def _compare_task(base: Run, new: Run, t: str, m: str, mdef: dict, languages: list[str] | None,
                  n_resamples: int, seed: int, notes: list[str]) -> list[Change]:
    from mmx.languages import normalize_code

    b_langs, n_langs = list(base.tasks[t]["languages"]), set(new.tasks[t]["languages"])
    if languages:
        want = [normalize_code(x) for x in languages]
        absent = [x for x in want if x not in b_langs]
        if absent:
            raise MmxError(f"{t}: BASELINE {base.dir} has no language(s) {', '.join(absent)}; it has "
                           f"{', '.join(b_langs)}")
        b_langs = want
    missing = [x for x in b_langs if x not in n_langs]
    if missing:
        raise MmxError(f"{t}: NEW {new.dir} has no results for language(s) {', '.join(missing)} that BASELINE "
                       f"has; evaluate NEW on every language of the baseline (a language left out would pass the "
                       f"gate unseen), or restrict the comparison with --languages")
    extra = sorted(n_langs - set(base.tasks[t]["languages"]))
    if extra and not languages:
        notes.append(f"{t}: language(s) only in NEW, not compared: {', '.join(extra)}")
    bs, ns = base.samples(t), new.samples(t)
    only_b, only_n = set(bs) - set(ns), set(ns) - set(bs)
    for which, ids in (("BASELINE", only_b), ("NEW", only_n)):
        ids = [i for i in ids if (bs.get(i) or ns.get(i)).language in b_langs]
        if ids:
            notes.append(f"{t}: {len(ids)} sample(s) only in {which} (e.g. {sorted(ids)[0]!r}), left out")
    ratios = ratios_of({m: mdef})
    paired: dict[str, list[str]] = {}
    for i in sorted(set(bs) & set(ns)):
        if bs[i].language != ns[i].language:
            raise MmxError(f"{t}: sample {i!r} is language {bs[i].language} in BASELINE but {ns[i].language} "
                           "in NEW; the runs did not evaluate the same data")
        paired.setdefault(bs[i].language, []).append(i)
    out = []
    for lang in b_langs:
        ids = paired.get(lang, [])
        b_ids, b_vals = score_matrix([bs[i] for i in ids], m, ratios)
        n_ids, n_vals = score_matrix([ns[i] for i in ids], m, ratios)
        both = sorted(set(b_ids) & set(n_ids))
        hib = mdef["higher_is_better"]
        if not both:
            notes.append(f"{t}/{lang}: no paired samples carry {m}; not compared")
            out.append(Change(t, lang, m, hib, 0, None, None, None, None, None))
            continue
        bi, ni = {x: k for k, x in enumerate(b_ids)}, {x: k for k, x in enumerate(n_ids)}
        b_arr = b_vals[[bi[x] for x in both]]
        n_arr = n_vals[[ni[x] for x in both]]
        res = paired_test(b_arr, n_arr, spec_of_def(m, mdef).reducer, n_resamples, stats.rng_for(seed, t, lang, m))
        out.append(Change(t, lang, m, hib, len(both), *res))
    return out


def _fmt(c: dict, v, signed: bool = False) -> str:
    return metric_display.format_value(c["metric"], v, signed, {c["metric"]: {"scale": c.get("scale")}})


def verdict(result: dict) -> str:
    sv = speed_verdict(result)
    return _score_verdict(result) + (f"; {sv}" if sv else "")


def _score_verdict(result: dict) -> str:
    s = result["settings"]
    regs = [c for c in result["changes"] if c["regression"]]
    if not regs:
        n_tests = sum(c["p"] is not None for c in result["changes"])
        return (f"PASS: no language dropped by more than {s['threshold']:g} with significance "
                f"(alpha {s['alpha']:g}, Holm-adjusted over {n_tests} tests)")
    items = ", ".join(f"{c['task']}/{c['language']} ({c['metric']} {_fmt(c, c['delta'], True)}, "
                      f"p_adj={c['p_adj']:.2g})" for c in regs)
    return f"FAIL: {len(regs)} language(s) dropped by more than {s['threshold']:g} with significance: {items}"


def _rows(result: dict) -> list[list[str]]:
    rows = []
    for c in result["changes"]:
        sc = {c["metric"]: {"scale": c.get("scale")}}
        if c["regression"]:
            mark = "REGRESSION"
        elif c["p_adj"] is not None and c["p_adj"] < result["settings"]["alpha"] and c["gain"]:
            mark = "better" if c["gain"] > 0 else "worse (within threshold)"
        else:
            mark = ""
        mde = ("never" if c["n"] < (c["min_pairs"] or 0) else _fmt(c, c["mde"])) if c["n"] else "-"
        rows.append([c["task"], c["language"], c["metric"] + (" x100" if (c.get("scale") or 100) == 100 else "")
                     + ("" if c["higher_is_better"] else " (lower=better)"),
                     str(c["n"]), _fmt(c, c["baseline"]), _fmt(c, c["new"]), _fmt(c, c["delta"], True),
                     metric_display.format_ci(c["metric"], c["ci"], True, sc), mde,
                     "-" if c["p"] is None else f"{c['p']:.2g}", "-" if c["p_adj"] is None else f"{c['p_adj']:.2g}",
                     mark])
    return rows


HEADER = ["task", "lang", "metric", "n", "baseline", "new", "change", "95% CI", "min. detectable", "p", "p (Holm)",
          ""]
LEGEND = ("change = new - baseline; min. detectable: the smallest drop the gate can flag with this many samples "
          "(Holm, alpha), 'never': too few samples to fail at all")


def _header_lines(result: dict) -> list[str]:
    lines = [f"baseline: {result['baseline']['model']} ({result['baseline']['dir']})",
             f"new:      {result['new']['model']} ({result['new']['dir']})"]
    for which in ("baseline", "new"):
        if result[which]["random_weights"]:
            lines.append(f"note: the {which} model has RANDOM WEIGHTS")
    return lines + [f"note: {n}" for n in result["notes"]] + [f"WARNING: {w}" for w in result.get("warnings", [])]


def render_compare(result: dict, fmt: str, console) -> None:
    """Print the comparison as a rich table, Markdown or JSON; the verdict is always the last line."""
    import json

    if fmt == "json":
        print(json.dumps(result, indent=1))  # plain print: rich would wrap long lines inside strings
        return
    if fmt == "md":
        lines = ["# mmx compare", "", *(f"- {x}" for x in _header_lines(result)), "",
                 LEGEND + ".", "",
                 "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(r) + " |" for r in _rows(result)]
        if result.get("speed"):
            lines += ["", "| " + " | ".join(SPEED_HEADER) + " |", "|" + "---|" * len(SPEED_HEADER)]
            lines += ["| " + " | ".join(r) + " |" for r in speed_rows(result)]
        console.print("\n".join(lines) + "\n", markup=False, highlight=False, soft_wrap=True)
    else:
        from rich.table import Table

        for line in _header_lines(result):
            console.print(line, markup=False, highlight=False)
        tbl = Table(*HEADER, title=LEGEND, title_justify="left")
        for r in _rows(result):
            tbl.add_row(*r, style="bold red" if r[-1] == "REGRESSION" else None)
        console.print(tbl)
        if result.get("speed"):
            st = Table(*SPEED_HEADER, title="speed: pooled figures of each task, same device", title_justify="left")
            for r in speed_rows(result):
                st.add_row(*r, style="bold red" if r[-1] else None)
            console.print(st)
    console.print(verdict(result), markup=False, highlight=False, soft_wrap=True)
