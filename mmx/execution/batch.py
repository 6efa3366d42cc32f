"""Compile many programs per compiler start (Java, TypeScript), then run each in a sandbox of its own.

A JVM-based javac start costs ~0.8 s of CPU and loading the typescript package ~0.5 s, against ~0.1 s to run
a compiled HumanEval program; so one compiler start per program dominated. Here one sandboxed compiler call
builds a chunk of programs (MultiPL-E and HumanEval-XL each compile one program per call):

- Java: program i's source gets ``package mmxpI;`` on its first line (line numbers unchanged) so equal class
  names cannot clash; ``javac -proc:none`` (no annotation processor: compiling runs no code of the programs)
  writes out/mmxpI/*.class. Program i's sandbox then receives only mmxpI's classes and runs
  ``java -cp . mmxpI.MmxHarness``: it never sees another program's code nor output.
- TypeScript: one node process transpiles every file (the same transpile-only options as the per-program
  driver in executors.py); program i runs its own prog.js.
If the chunk's compilation fails, the programs javac names in its errors (or TypeScript reports errors for)
and, when nothing is named, all of them go through the per-program path (``Executor.execute``): one bad
program never fails another, and each compile error keeps its exact per-program message. The others are
compiled again as a chunk once.
"""
from __future__ import annotations

import base64
import io
import json
import re
import tarfile
from dataclasses import replace

from mmx.execution import harness
from mmx.execution.executors import JAVA, JAVAC, TS_TRANSPILE, judge
from mmx.execution.harness import TOKEN_FILE, HarnessError, Program
from mmx.execution.sandbox import Limits, Result, run_files

MAX_CHUNK = 16
_CLASS = re.compile(r"^(?:\./)?(mmxp\d+)/([\w$]+\.class)$")
_JAVA_ERR = re.compile(r"^src/mmxp(\d+)/Main\.java:\d+: error", re.M)

TS_BATCH = r"""
const ts = require("typescript"), fs = require("fs");
for (const f of process.argv.slice(2)) {
  const out = ts.transpileModule(fs.readFileSync(f, "utf8"), """ + TS_TRANSPILE + r""");
  const errs = (out.diagnostics || []).filter(d => d.category === ts.DiagnosticCategory.Error);
  process.stdout.write(JSON.stringify({file: f, js: errs.length ? null : out.outputText}) + "\n");
}
"""


def supported(ex) -> bool:
    return ex.name in COMPILERS


def _limits(ex, n: int) -> Limits:
    return replace(ex.limits, timeout=ex.limits.timeout + 10 * n, cpu=ex.limits.cpu + 10 * n, output=64 << 20)


def _compile_java(ex, built: list[dict], slot: int) -> tuple[list[dict | None], set[int]]:
    """{'files', 'command'} per program, or None where it must take the per-program path; and the positions
    (in ``built``) of the programs javac names in its errors."""
    files = {f"src/mmxp{i}/Main.java": f"package mmxp{i}; " + b["Main.java"] for i, b in enumerate(built)}
    cmd = f"{JAVAC} -proc:none -encoding UTF-8 -nowarn -d out src/*/Main.java >&2 && cd out && tar cf - . | base64 -w0"
    r = run_files(["sh", "-c", cmd], files, _limits(ex, len(built)), env=ex.env, slot=slot)
    if r.status != "ok":
        return [None] * len(built), {int(i) for i in _JAVA_ERR.findall(r.stderr)}
    classes: dict[str, dict[str, bytes]] = {}
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(r.stdout)), mode="r:") as tar:
        for m in tar.getmembers():
            hit = _CLASS.match(m.name)
            if hit and m.isfile() and m.size < 8 << 20:
                classes.setdefault(hit.group(1), {})[f"{hit.group(1)}/{hit.group(2)}"] = tar.extractfile(m).read()
    out = []
    for i in range(len(built)):
        own = classes.get(f"mmxp{i}", {})
        ok = f"mmxp{i}/MmxHarness.class" in own
        out.append({"files": own, "command": [*JAVA.split(), f"mmxp{i}.MmxHarness"]} if ok else None)
    return out, set()


def _compile_typescript(ex, built: list[dict], slot: int) -> tuple[list[dict | None], set[int]]:
    """As ``_compile_java``; a failed run names no program (then all take the per-program path)."""
    files = {"mmx_ts_batch.js": TS_BATCH, **{f"src/p{i}.ts": b["prog.ts"] for i, b in enumerate(built)}}
    r = run_files(["sh", "-c", "exec node mmx_ts_batch.js src/p*.ts"], files, _limits(ex, len(built)), env=ex.env,
                  slot=slot)
    if r.status != "ok":
        return [None] * len(built), set()
    js = {}
    for line in r.stdout.splitlines():
        try:
            d = json.loads(line)
            js[int(d["file"][len("src/p"):-len(".ts")])] = d["js"]
        except (ValueError, KeyError, TypeError):
            continue
    return [{"files": {"prog.js": js[i]}, "command": ["node", "prog.js"]} if js.get(i) else None
            for i in range(len(built))], set()


COMPILERS = {"java": _compile_java, "typescript": _compile_typescript}


def execute_chunk(ex, programs: list[Program], slot: int = 0) -> list[Result]:
    """Run ``programs`` (all for ``ex``) with one compiler start where possible; results in order."""
    results: list[Result | None] = [None] * len(programs)
    built: dict[int, dict] = {}
    for i, p in enumerate(programs):
        try:
            built[i] = harness.build(ex.name, p, harness.tag())
        except HarnessError:
            pass  # execute() reports it, per program
    todo = sorted(built)
    for attempt in range(2):
        if len(todo) < 2:
            break
        compiled, blamed = COMPILERS[ex.name](ex, [built[i] for i in todo], slot)
        if all(c is None for c in compiled) and attempt == 0 and blamed and len(blamed) < len(todo):
            todo = [i for k, i in enumerate(todo) if k not in blamed]  # compile the rest again, once
            continue
        for i, c in zip(todo, compiled):
            if c is not None:
                token = harness.new_token()
                r = run_files(c["command"], {**c["files"], TOKEN_FILE: token}, ex.limits, env=ex.env, slot=slot)
                results[i] = judge(r, token)
        break
    for i, p in enumerate(programs):
        if results[i] is None:
            results[i] = ex.execute(p, slot=slot)  # the per-program path: exact errors, one program at a time
    return results
