"""Executed programs per second on this machine: HumanEval-XL Python canonical solutions, serial vs parallel.

    .venv/bin/python benchmarks/bench_execution.py [--natural English] [--workers N] [--root DIR]

Every program runs in the full sandbox (bubblewrap: pid, network and mount namespaces, a per-worker uid as
root, rlimits) with the pass-token harness, so this is the real throughput, sandbox start-up included. Compiled languages (java, go,
typescript) are timed too, on the reference program of task 0 repeated, when their runtime is installed.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmx.data.code import load_humaneval_xl  # noqa: E402
from mmx.execution import EXECUTORS, execute_many, isolation_available, references  # noqa: E402
from mmx.tasks.base import load_task  # noqa: E402


def timed(jobs, workers):
    t0 = time.perf_counter()
    res = execute_many(jobs, workers=workers)
    dt = time.perf_counter() - t0
    return dt, sum(r.ok for r in res)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--natural", default="English")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--root", default=None)
    ap.add_argument("--repeat", type=int, default=8, help="programs per compiled language")
    a = ap.parse_args()
    spec = load_task("humaneval_xl_python")
    root = a.root or spec.resolve_path(spec.dataset["root"])
    py = EXECUTORS["python"]
    probs = load_humaneval_xl(root, "python", languages=[a.natural]).problems
    jobs = [(py, py.program(p.prompt, p.canonical_solution, p.test, p.entry_point)) for ps in probs.values() for p in ps]
    print(f"cpu cores: {os.cpu_count()}  isolation (bubblewrap): {isolation_available()}")
    print(f"{'language':<11} {'programs':>8} {'mode':<12} {'seconds':>8} {'programs/s':>10} {'passed':>7}")
    sets = [("python", jobs)]
    for lang in ("javascript", "typescript", "java", "go"):
        ex = EXECUTORS[lang]
        if ex.missing():
            print(f"{lang:<11} skipped: {ex.missing()}")
            continue
        p = next(iter(load_humaneval_xl(root, lang, languages=[a.natural], limit=1).problems.values()))[0]
        src = ex.program(p.prompt, references.BODIES[lang], p.test)
        sets.append((lang, [(ex, src)] * a.repeat))
    for lang, js in sets:
        for mode, w in (("serial", 1), (f"parallel x{a.workers}", a.workers)):
            dt, ok = timed(js, w)
            print(f"{lang:<11} {len(js):>8} {mode:<12} {dt:>8.2f} {len(js) / dt:>10.1f} {ok:>4}/{len(js)}")


if __name__ == "__main__":
    main()
