"""`mmx verify-execution humaneval-xl`: run the data's canonical solutions through the executors.

HumanEval-XL has canonical solutions for Python only; for the other languages the executor is checked
with a hand-written reference completion of task 0 on the data's real prompt and tests (it must pass)
and a broken variant (it must fail), so a harness that passes everything is caught too. Every language
also runs a broken solution that first exits with status 0 (mmx/execution/references.py): it must fail,
or the pass-token harness (mmx/execution/harness.py) is not in force.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from mmx.data.code import load_humaneval_xl
from mmx.execution import references
from mmx.execution.executors import EXECUTORS, get_executor
from mmx.execution.pool import execute_many


@dataclass
class LanguageCheck:
    language: str
    status: str  # ok | failed | skipped | unverified
    checked: str = ""  # what ran: "canonical" or "reference"
    passed: int = 0
    total: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (task id, error)
    note: str = ""
    seconds: float = 0.0


EXIT_PASSED = "a broken solution that exits with status 0 before the tests end passed: the harness does not check that the tests ran"


def _early_exit_job(ex, p, body: str | None = None):
    return (ex, ex.program(p.prompt, references.early_exit(ex.name, body), p.test, p.entry_point, p.style))


def verify_humaneval_xl(root, languages: list[str] | None = None, natural: str = "English",
                        workers: int | None = None, limit: int | None = None) -> list[LanguageCheck]:
    out = []
    for name in languages or list(EXECUTORS):
        ex = get_executor(name)
        missing = ex.missing()
        if missing:
            out.append(LanguageCheck(ex.name, "skipped", note=missing))
            continue
        t0 = time.time()
        data = load_humaneval_xl(root, ex.name, languages=[natural], limit=limit)
        probs = [p for ps in data.problems.values() for p in ps]
        canon = [p for p in probs if p.canonical_solution]
        if canon:
            jobs = [(ex, ex.program(p.prompt, p.canonical_solution, p.test, p.entry_point)) for p in canon]
            probe = ex.name in references.EXITS
            if probe:
                jobs.append(_early_exit_job(ex, canon[0], "    return None\n"))
            res = execute_many(jobs, workers)
            if probe:
                exit_res, res = res[-1], res[:-1]
            fails = [(p.id, f"{r.status}: {(r.stderr or r.stdout)[-400:].strip()}") for p, r in zip(canon, res) if not r.ok]
            if probe and exit_res.ok:
                fails.append((canon[0].id, EXIT_PASSED))
            out.append(LanguageCheck(ex.name, "failed" if fails else "ok", "canonical",
                                     sum(r.ok for r in res), len(canon), fails, seconds=round(time.time() - t0, 2)))
            continue
        if ex.name not in references.BODIES or not probs:
            out.append(LanguageCheck(ex.name, "unverified", note="the data has no canonical solutions and mmx "
                                     "has no reference solution for this language"))
            continue
        p = probs[0]
        jobs = [(ex, ex.program(p.prompt, references.BODIES[ex.name], p.test, p.entry_point)),
                (ex, ex.program(p.prompt, references.broken(ex.name), p.test, p.entry_point))]
        if ex.name in references.EXITS:
            jobs.append(_early_exit_job(ex, p))
        good, bad, *exited = execute_many(jobs, workers)
        fails = []
        if not good.ok:
            fails.append((p.id, f"reference solution {good.status}: {(good.stderr or good.stdout)[-400:].strip()}"))
        if bad.ok:
            fails.append((p.id, "a broken solution passed: the tests are not being run"))
        if exited and exited[0].ok:
            fails.append((p.id, EXIT_PASSED))
        out.append(LanguageCheck(ex.name, "failed" if fails else "ok", "reference", int(good.ok), 1, fails,
                                 note="no canonical solutions in the data: checked a reference solution of "
                                      f"{p.id} (passes), a broken one and one that exits 0 early (both fail "
                                      "as they should)" if not fails else "",
                                 seconds=round(time.time() - t0, 2)))
    return out
