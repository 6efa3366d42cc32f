"""Reads a finished run directory (results.json + samples/<task>.jsonl) for reports and comparisons.

Unlike RecordStore (which repairs a file cut off by a kill so the run can resume), this reader never
changes the run: a truncated or unreadable samples file is an error that says how to finish the run.
A results.json of an older schema version is read upgraded (mmx/results.py), with a note on stderr;
aggregates it did not record are recomputed from the samples with the same code the runner uses.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mmx.errors import MmxError
from mmx.report.aggregate import aggregate_task, metric_defs, ratios_of
from mmx.results import errors
from mmx.schema import Record, read_results


@dataclass
class Run:
    dir: Path
    results: dict
    _samples: dict[str, dict[str, Record]] = field(default_factory=dict, repr=False)

    @property
    def tasks(self) -> dict[str, dict]:
        return self.results["tasks"]

    @property
    def upgraded_from(self) -> int | None:
        """The schema version the file was written in, when it was older than this mmx's."""
        return (self.results.get("upgrade") or {}).get("from_version")

    @property
    def spec(self) -> str | None:
        """The model spec the run evaluated (results.json model.spec)."""
        return self.results.get("model", {}).get("spec")

    @property
    def random_weights(self) -> bool:
        return bool(self.results.get("model", {}).get("random_weights"))

    def task(self, name: str) -> dict:
        if name not in self.tasks:
            raise MmxError(f"{self.dir}/results.json has no task {name!r}; it has {', '.join(self.tasks) or 'none'}")
        return self.tasks[name]

    def defs(self, name: str) -> dict[str, dict]:
        """metric_defs, completed for results.json files written before metrics had a direction."""
        t = self.task(name)
        defs = t.get("metric_defs") or {}
        fallback = metric_defs(t["metrics"], ratios_of(defs))
        # null: not recorded (an upgraded file): the registry's value stands in
        return {m: {**fallback[m], **{k: v for k, v in defs.get(m, {}).items() if v is not None}}
                for m in t["metrics"]}

    def samples(self, name: str) -> dict[str, Record]:
        if name not in self._samples:
            self._samples[name] = read_samples(self, name)
        return self._samples[name]

    def aggregates(self, name: str) -> dict:
        """The task's aggregates; recomputed from the samples (same code) when results.json predates CIs."""
        t = self.task(name)
        if (all(t.get(k) is not None for k in ("groups", "spread", "gap_to_en_ci"))
                and t["overall"].get("macro_ci") is not None
                and all(d.get("ci") is not None for d in t["languages"].values())):
            return t
        recs = sorted(self.samples(name).values(), key=lambda r: (r.language, r.id))
        prov = t.get("provenance")
        return {**t, **aggregate_task(recs, t["metrics"], ratios_of(t.get("metric_defs") or {}),
                                      {m: d["higher_is_better"] for m, d in self.defs(name).items()},
                                      provenance={k: prov[k] for k in ("benchmark", "languages")} if prov else None,
                                      primary=t.get("primary_metric"))}  # as the run computed it (runner.py)


def load_run(path: str | Path) -> Run:
    p = Path(path)
    results = read_results(p)
    run_dir = p if p.is_dir() else p.parent
    tasks = results.get("tasks")
    if not isinstance(tasks, dict) or not tasks:
        raise MmxError(f"{run_dir}/results.json has no tasks: not a finished mmx run")
    for name, t in tasks.items():
        for key in ("languages", "metrics", "primary_metric"):
            if key not in t:
                raise MmxError(f"{run_dir}/results.json: task {name!r} lacks {key!r}; not written by `mmx evaluate`")
        bad = errors(t["speed"], "speed") if "speed" in t else []  # read by the reports and compare's speed gate
        if bad:
            raise MmxError(f"{run_dir}/results.json: task {name!r} has a damaged speed section ({'; '.join(bad[:3])});"
                           " rerun `mmx evaluate` or restore the file")
    run = Run(run_dir, results)
    if run.upgraded_from is not None:
        absent = results["upgrade"]["absent"]
        print(f"note: {run_dir}/results.json is schema version {run.upgraded_from}, read upgraded to version "
              f"{results['schema_version']}" + (f"; not recorded in it: {', '.join(absent[:6])}"
                                                 f"{f' and {len(absent) - 6} more' if len(absent) > 6 else ''}"
                                                 if absent else ""), file=sys.stderr)
    return run


def read_samples(run: Run, name: str) -> dict[str, Record]:
    """id -> Record of one task, checked against results.json (count and languages)."""
    t = run.task(name)
    path = run.dir / t.get("samples_file", f"samples/{name}.jsonl")
    if not path.is_file():
        raise MmxError(f"{path}: samples file missing (results.json of task {name!r} names it); "
                       "copy the whole run directory, samples/ included")
    fix = "the run was cut off or the file was edited: rerun `mmx evaluate` with the same --output to finish it"
    out: dict[str, Record] = {}
    data = path.read_bytes()
    for lineno, line in enumerate(data.splitlines(keepends=True), 1):
        try:
            if not line.endswith(b"\n"):
                raise ValueError("no newline at the end: the line was cut off")
            rec = Record.from_dict(json.loads(line))
        except (ValueError, KeyError, TypeError) as e:
            raise MmxError(f"{path}:{lineno}: truncated or unreadable record ({e}); {fix}") from e
        if rec.id in out:
            raise MmxError(f"{path}:{lineno}: sample id {rec.id!r} appears twice; {fix}")
        out[rec.id] = rec
    if "n_records" in t and t["n_records"] != len(out):
        raise MmxError(f"{path} holds {len(out)} records but results.json counts {t['n_records']} for task "
                       f"{name!r}: the samples belong to another run or were changed; {fix}")
    have = {r.language for r in out.values()}
    missing = sorted(set(t["languages"]) - have)
    if missing:
        raise MmxError(f"{path}: no samples for language(s) {', '.join(missing)} that results.json reports for "
                       f"task {name!r}; {fix}")
    return out
