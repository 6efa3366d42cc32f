"""Code generation: pass@k of programs executed against their tests, per natural language.

One task per programming language (tasks/code/humaneval_xl_<pl>.yaml), so per-language tables and the
gap to English (same programming language) come from the shared aggregate code. Per problem: the model
writes n completions (`generation:` in the YAML; override with --data-args n=200,temperature=0.8), each
is executed in the sandbox, and its record holds the unbiased pass@k for every k <= n (NaN above n: the
aggregate leaves it out). Completions go through the output cache; identical programs run once.
A program passes only when the pass-token harness (mmx/execution/harness.py) reports that its tests ran
to the end; each record says per sample why a program failed (``statuses``, ``reasons``).
A programming language whose runtime is missing is skipped (stderr says how to install it): no records,
so nothing counts as passed or failed, and a rerun after installing it fills the task in.
"""
from __future__ import annotations

import json
import re
import sys
import time

from pydantic import Field
from tqdm import tqdm

from mmx.cache import cached_map
from mmx.capabilities import CodeGenerator
from mmx.errors import MmxError
from mmx.execution import harness, sandbox
from mmx.execution.executors import get_executor
from mmx.execution.pool import default_workers, execute_many
from mmx.metrics.passk import pass_at_k
from mmx.registry import register_task_kind
from mmx.schema import Record
from mmx.speed import generation_amount

SANDBOX_MODES = {  # Result.extra["sandbox"] -> what results.json says (mmx/execution/sandbox.py, warm.py)
    "warm": "warm: one bubblewrap sandbox per worker, a fresh forked child, work folder and cleanup per program",
    "per-program": "per-program: a new bubblewrap sandbox (or rlimits only, where allowed) for every program",
}
from mmx.tasks.base import RunContext, TaskKind
from mmx.tasks.config import Options



class Generation(Options):
    """``generation:`` in the YAML; each key also on --data-args (n=200,temperature=0.8)."""
    n: int = Field(1, ge=1, description="samples per problem")
    temperature: float = Field(0.0, ge=0, description="0: greedy")
    max_new_tokens: int = Field(512, ge=1)
    workers: int = Field(default_factory=default_workers, ge=1, description="programs executed in parallel")


class CodeGenOptions(Options):
    generation: Generation = Field(default_factory=Generation)


CHUNK = 64  # problems generated, executed and written together (what a killed run can lose)


@register_task_kind("code_generation")
class CodeGeneration(TaskKind):
    capability = CodeGenerator
    description = "pass@k of generated programs run against their tests in a sandbox, per natural language"
    Options = CodeGenOptions

    def metric_names(self):
        # pass@k for any k >= 1 (records hold NaN above n, which the aggregate leaves out)
        return {m for m in self.spec.metrics if re.fullmatch(r"pass@[1-9][0-9]*", m)} | {"pass@1"}

    def load_data(self, languages, limit, dataset_args):
        self.gen = self.options.generation.model_dump()
        if self.gen["temperature"] == 0 and self.gen["n"] > 1:
            print(f"note: {self.spec.name}: temperature 0 is greedy, so all n={self.gen['n']} samples are the same",
                  file=sys.stderr)
        data = self.call_loader(dataset_args, languages, limit)
        if not any(data.problems.values()):
            raise MmxError(f"{self.spec.name}: no problems to evaluate in {data.source or self.spec.dataset} (languages "
                           f"{', '.join(data.languages) or 'none'}, limit {limit}); check the data file, "
                           "--languages and --limit")
        return data

    def result_extras(self) -> dict:
        modes = sorted(getattr(self, "sandbox_modes", ()))  # how this run's programs were sandboxed (none run: [])
        return {"execution": {"isolation": getattr(self, "isolation", None), "harness": harness.DESCRIPTION,
                              "sandboxes": [SANDBOX_MODES.get(m, m) for m in modes]}}

    def ks(self) -> list[int]:
        return [int(m.split("@")[1]) for m in self.spec.metrics if m.startswith("pass@")]

    def run(self, model, data, store, ctx: RunContext) -> None:
        require = getattr(sandbox, "require_isolation", None)  # refuses unisolated execution unless allowed
        self.isolation = (require(bool(getattr(ctx, "allow_unsafe_execution", False))) if require
                          else {"namespaces": sandbox.isolation_available()})
        ex = get_executor(data.programming_language)
        self.sandbox_modes: set[str] = set()
        todo = [p for lang in data.languages for p in data.problems[lang] if not store.has(f"{p.language}/{p.id}")]
        if not todo:
            return
        missing = ex.missing()
        if missing:
            print(f"skipped {self.spec.name}: cannot run {ex.name} programs here: {missing}", file=sys.stderr)
            return
        with tqdm(total=len(todo), desc=f"{self.spec.name}", unit="problem", disable=not ctx.progress) as bar:
            for i in range(0, len(todo), CHUNK):
                self._chunk(model, ex, todo[i:i + CHUNK], store, ctx)
                bar.update(len(todo[i:i + CHUNK]))

    def complete(self, model, prompts: list[str], stop: list[str], ctx: RunContext,
                 languages: list[str]) -> list[list[str]]:
        """n completions per prompt with the task's generation options, through the output cache. Each
        language (``languages``: one per prompt) is batched and timed apart (mmx/speed.py)."""
        g = self.gen
        settings = json.dumps({"n": g["n"], "t": g["temperature"], "max": g["max_new_tokens"], "stop": stop,
                               "seed": ctx.seed}, sort_keys=True)

        def run(ps: list[str], lang: str) -> list[list[str]]:
            return cached_map(lambda batch: model.complete(batch, n=g["n"], temperature=g["temperature"],
                                                           max_new_tokens=g["max_new_tokens"], stop=stop,
                                                           seed=ctx.seed),
                              ps, ps, namespace=f"{ctx.model_key}|complete|{settings}", batch_size=ctx.batch_size,
                              cache=ctx.cache, dist=ctx.dist, sort_key=len,
                              timer=ctx.timer("complete", None, lang, amount=generation_amount(model)))

        out: list = [None] * len(prompts)
        for lang in dict.fromkeys(languages):
            idx = [i for i, x in enumerate(languages) if x == lang]
            for i, o in zip(idx, run([prompts[i] for i in idx], lang)):
                out[i] = o
        return out

    def _execute(self, ex, programs: list, ctx: RunContext) -> list:
        """Run ``programs`` (no duplicates) in the sandbox; notes how they were sandboxed (results.json) and
        times programs/s. Results in order."""
        t0 = time.perf_counter()
        results = execute_many([(ex, src) for src in programs], workers=self.gen["workers"])
        self.sandbox_modes |= {r.extra.get("sandbox", "per-program") for r in results}
        if ctx.meter is not None and programs:  # programs/s, sandbox included: a chunk's languages share the pool
            ctx.meter.add("programs_per_s", None, len(programs), time.perf_counter() - t0)
        return results

    def _chunk(self, model, ex, probs, store, ctx) -> None:
        stop = list(dict.fromkeys(ex.stop + [s for p in probs for s in p.stop]))
        outs = self.complete(model, [p.prompt for p in probs], stop, ctx, languages=[p.language for p in probs])
        programs = [[ex.program(p.prompt, c, p.test, p.entry_point, p.style) for c in comps]
                    for p, comps in zip(probs, outs)]
        unique = list(dict.fromkeys(src for progs in programs for src in progs))
        results = dict(zip(unique, self._execute(ex, unique, ctx)))
        records = []
        for p, comps, progs in zip(probs, outs, programs):
            res = [results[src] for src in progs]
            n, c = len(res), sum(r.ok for r in res)
            fails = [r for r in res if not r.ok]
            records.append(Record(
                id=f"{p.language}/{p.id}", language=p.language, prediction=comps, reference=p.canonical_solution,
                scores={f"pass@{k}": pass_at_k(n, c, k) for k in self.ks()},
                extra={"task_id": p.id, "programming_language": ex.name, "n": n, "n_correct": c,
                       "statuses": [r.status for r in res],
                       "reasons": [r.extra.get("reason") for r in res],
                       "first_error": (fails[0].stderr[-800:] or fails[0].stdout[-800:]
                                       or fails[0].extra.get("reason")) if fails else None}))
        store.write(records)
