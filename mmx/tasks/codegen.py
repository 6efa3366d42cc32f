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

from tqdm import tqdm

from mmx.cache import cached_map
from mmx.capabilities import CodeGenerator
from mmx.errors import MmxError, check_keys, check_number
from mmx.execution import harness, sandbox
from mmx.execution.executors import get_executor
from mmx.execution.pool import default_workers, execute_many
from mmx.metrics.passk import pass_at_k
from mmx.registry import get_loader, loader_keys, register_task_kind
from mmx.schema import Record
from mmx.tasks.base import RunContext, TaskKind

# generation options (YAML `generation:` or --data-args) and their valid ranges
GEN_RULES = {"n": {"low": 1, "integer": True}, "temperature": {"low": 0},
             "max_new_tokens": {"low": 1, "integer": True}, "workers": {"low": 1, "integer": True}}
CHUNK = 64  # problems generated, executed and written together (what a killed run can lose)


@register_task_kind("code_generation")
class CodeGeneration(TaskKind):
    capability = CodeGenerator
    description = "pass@k of generated programs run against their tests in a sandbox, per natural language"
    yaml_keys = frozenset({"generation"})

    def metric_names(self):
        # pass@k for any k >= 1 (records hold NaN above n, which the aggregate leaves out)
        return {m for m in self.spec.metrics if re.fullmatch(r"pass@[1-9][0-9]*", m)} | {"pass@1"}

    def load_data(self, languages, limit, data_args):
        yaml_gen = self.spec.raw.get("generation") or {}
        if not isinstance(yaml_gen, dict):
            raise MmxError(f"{self.spec.path}: 'generation' should be a mapping with keys {', '.join(GEN_RULES)}")
        check_keys(yaml_gen, GEN_RULES, f"{self.spec.path}: generation")
        gen = {"n": 1, "temperature": 0.0, "max_new_tokens": 512, "workers": default_workers(), **yaml_gen}
        ds, args = dict(self.spec.dataset), dict(data_args)
        for key in GEN_RULES:  # generation overrides ride on --data-args
            if key in args:
                gen[key] = args.pop(key)
        loader = get_loader(ds.pop("loader"))
        known = loader_keys(loader)
        if known is not None:
            check_keys(args, known | set(GEN_RULES), f"{self.spec.name}: --data-args")
            check_keys(ds, known, f"{self.spec.path}: dataset")
        self.gen = {k: check_number(k, gen[k], where=f"{self.spec.name}: generation", **rule)
                    for k, rule in GEN_RULES.items()}
        self.gen["temperature"] = float(self.gen["temperature"])
        if self.gen["temperature"] == 0 and self.gen["n"] > 1:
            print(f"note: {self.spec.name}: temperature 0 is greedy, so all n={self.gen['n']} samples are the same",
                  file=sys.stderr)
        ds.update(args)
        for key in ("root", "path"):
            if key in ds:
                ds[key] = self.spec.resolve_path(ds[key])
        langs = languages if languages else self.spec.languages
        data = loader(name=self.spec.name, languages=langs, limit=limit, **ds)
        if not any(data.problems.values()):
            raise MmxError(f"{self.spec.name}: no problems to evaluate in {data.source or ds} (languages "
                           f"{', '.join(data.languages) or 'none'}, limit {limit}); check the data file, "
                           "--languages and --limit")
        return data

    def result_extras(self) -> dict:
        return {"execution": {"isolation": getattr(self, "isolation", None), "harness": harness.DESCRIPTION}}

    def ks(self) -> list[int]:
        return [int(m.split("@")[1]) for m in self.spec.metrics if m.startswith("pass@")]

    def run(self, model, data, store, ctx: RunContext) -> None:
        require = getattr(sandbox, "require_isolation", None)  # refuses unisolated execution unless allowed
        self.isolation = (require(bool(getattr(ctx, "allow_unsafe_execution", False))) if require
                          else {"namespaces": sandbox.isolation_available()})
        ex = get_executor(data.programming_language)
        todo = [p for lang in data.languages for p in data.problems[lang] if not store.has(f"{p.language}/{p.id}")]
        if not todo:
            return
        missing = ex.missing()
        if missing:
            print(f"skipped {self.spec.name}: cannot run {ex.name} programs here: {missing}", file=sys.stderr)
            return
        g = self.gen
        with tqdm(total=len(todo), desc=f"{self.spec.name}", unit="problem", disable=not ctx.progress) as bar:
            for i in range(0, len(todo), CHUNK):
                self._chunk(model, ex, todo[i:i + CHUNK], g, store, ctx)
                bar.update(len(todo[i:i + CHUNK]))

    def _chunk(self, model, ex, probs, g, store, ctx) -> None:
        stop = list(dict.fromkeys(ex.stop + [s for p in probs for s in p.stop]))
        settings = json.dumps({"n": g["n"], "t": g["temperature"], "max": g["max_new_tokens"], "stop": stop,
                               "seed": ctx.seed}, sort_keys=True)
        outs = cached_map(lambda batch: model.complete(batch, n=g["n"], temperature=g["temperature"],
                                                       max_new_tokens=g["max_new_tokens"], stop=stop, seed=ctx.seed),
                          [p.prompt for p in probs], [p.prompt for p in probs], namespace=f"{ctx.model_key}|complete|{settings}",
                          batch_size=ctx.batch_size, cache=ctx.cache, dist=ctx.dist, sort_key=len)
        programs = [[ex.program(p.prompt, c, p.test, p.entry_point, p.style) for c in comps]
                    for p, comps in zip(probs, outs)]
        unique = list(dict.fromkeys(src for progs in programs for src in progs))
        results = dict(zip(unique, execute_many([(ex, src) for src in unique], workers=g["workers"])))
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
