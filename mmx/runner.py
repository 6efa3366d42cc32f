"""Runs tasks over a model and writes the run directory (see mmx/schema.py).

The run folder is mmx's alone: a run starts only in a new or empty folder or one of its own runs, holds an
exclusive lock on it for its whole length (fcntl.flock on ``.mmx.lock``: the kernel drops it when the process
dies, so a killed run never leaves it stuck), and ``--overwrite`` deletes only the files mmx writes.
"""
from __future__ import annotations

import fcntl
import inspect
import json
import os
import platform
import random
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmx.cache import OutputCache, model_key
from mmx.capabilities import capability_names
from mmx.dist import init_dist
from mmx.errors import MmxError, check_keys, check_number
from mmx.models.base import ModelSpec, hub_offline_if_unreachable, pick_device
from mmx.registry import get_model_family, get_task_kind
from mmx.data.catalog import provenance_for
from mmx.report.aggregate import aggregate_task
from mmx.metrics.tokenizers import run_section as tokenizer_section
from mmx.results import check as check_schema
from mmx.speed import SpeedMeter, device_name, loading_took
from mmx.schema import (RUN_JSON_VERSIONS, SCHEMA_VERSION, NullStore, RecordStore, code_version, redact_args,
                        redact_argv, write_json)
from mmx.tasks.base import RunContext, TaskSpec, load_suite, load_task


@dataclass
class EvalRequest:
    model: str | None = None
    model_args: dict[str, str] = field(default_factory=dict)
    suite: str | None = None
    tasks: list[str] = field(default_factory=list)
    languages: list[str] | None = None
    limit: int | None = None
    batch_size: int = 32
    device: str | None = None
    output: Path | None = None
    seed: int = 1234
    data_args: dict[str, str] = field(default_factory=dict)
    overwrite: bool = False
    progress: bool = True
    cache: bool = True  # the on-disk output cache (mmx/cache.py)
    cache_dir: Path | None = None
    on_error: str = "fail"  # bad samples: fail (stop) or skip (record the error, go on)
    allow_unsafe_execution: bool = False  # run model-generated code even where no sandbox is available


def check_request(req: EvalRequest) -> None:
    """Numbers in range before anything runs: --limit 0 must not mean "everything", nor -3 "all but 3"."""
    if req.limit is not None:
        req.limit = check_number("--limit", req.limit, low=1, integer=True)
    req.batch_size = check_number("--batch-size", req.batch_size, low=1, integer=True)
    req.seed = check_number("--seed", req.seed, integer=True)
    if req.on_error not in ("fail", "skip"):
        raise MmxError(f"--on-error {req.on_error!r}: use fail or skip")


def check_model_args(family: type, args: dict, spec: str) -> None:
    """--model-args keys the adapter cannot take, where its __init__ lists them (no **kwargs)."""
    params = inspect.signature(family.__init__).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return  # the adapter checks its own extra arguments
    check_keys(args, {p.name for p in params} - {"self", "name", "device"}, f"--model-args for {spec}")


def count_items(data) -> int | None:
    """How many samples a loaded dataset holds (None: a type this does not know)."""
    if isinstance(getattr(data, "samples", None), list):
        return len(data.samples)
    for attr in ("items", "problems"):
        if isinstance(getattr(data, attr, None), dict):
            return sum(len(v) for v in getattr(data, attr).values())
    if isinstance(getattr(data, "captions", None), dict):
        return sum(1 for caps in data.captions.values() for c in caps if c)
    if isinstance(getattr(data, "class_names", None), dict) and hasattr(data, "image_ids"):
        return len(data.image_ids) * len(data.class_names)
    return None


def _seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[-80:] or "run"


def resolve(req: EvalRequest) -> tuple[ModelSpec, list[TaskSpec]]:
    if req.suite and req.tasks:
        raise MmxError("give either --suite or --tasks, not both")
    if req.suite:
        suite = load_suite(req.suite)
        task_names = suite.tasks
        if not req.model:
            req.model = suite.default_model
            req.model_args = {**suite.default_model_args, **req.model_args}
    elif req.tasks:
        task_names = req.tasks
    else:
        raise MmxError("nothing to run: give --suite NAME or --tasks a,b (see `mmx tasks`)")
    if not req.model:
        raise MmxError("no model: give --model FAMILY:ID_OR_PATH (see `mmx models`)")
    return ModelSpec.parse(req.model, req.model_args), [load_task(t) for t in task_names]


def evaluate(req: EvalRequest) -> dict[str, Any]:
    check_request(req)
    spec, tasks = resolve(req)
    family = get_model_family(spec.family)
    check_model_args(family, spec.args, str(spec))
    kinds = {}
    for t in tasks:
        kind = get_task_kind(t.kind)
        if not issubclass(family, kind.capability):
            raise MmxError(f"task {t.name} ({t.kind}) needs a {kind.capability.capability_name or kind.capability.__name__} "
                           f"model; {spec.family} is a {' and '.join(capability_names(family)) or '?'} family")
        kinds[t.name] = kind(t)
        kinds[t.name].check_spec()
    device = pick_device(req.device)  # a bad --device fails before the data is read
    _seed_everything(req.seed)
    data = {}
    for t in tasks:
        data[t.name] = kinds[t.name].load(req.languages, req.limit, req.data_args)
        if count_items(data[t.name]) == 0:
            raise MmxError(f"task {t.name}: nothing to evaluate in {getattr(data[t.name], 'source', '') or t.path} "
                           f"(languages: {', '.join(req.languages or t.languages or ['all'])}"
                           f"{f', --limit {req.limit}' if req.limit else ''}); check the file and the filters")

    dist = init_dist()
    if dist.enabled and device.startswith("cuda"):
        device = f"cuda:{dist.local_rank}"
    out = Path(req.output or Path("runs") / _slug(f"{spec}__{req.suite or '+'.join(t.name for t in tasks)}"))
    identity = {
        "model": str(spec), "model_args": redact_args(spec.args), "tasks": [t.name for t in tasks],
        "seed": req.seed, "limit": req.limit, "data_fingerprints": {n: d.fingerprint for n, d in data.items()},
    }
    lock = _prepare_output(out, identity, req.overwrite) if dist.is_main else None
    try:
        dist.barrier()
        return _run(req, spec, family, tasks, kinds, data, dist, device, out, identity)
    finally:
        if lock is not None:
            lock.release()


def _run(req, spec, family, tasks, kinds, data, dist, device, out, identity) -> dict[str, Any]:
    if not Path(spec.name.split("+")[0].split("@")[-1]).exists() and hub_offline_if_unreachable():
        print("note: the model hub is not reachable: models load from local folders and the local cache only",
              file=sys.stderr)
    cache = OutputCache(req.cache_dir, enabled=req.cache and dist.is_main)  # rank 0 alone reads/writes it
    load_model = model_loader(cache, device)
    model = load_model(spec, family)
    mkey = model.cache_key
    run_info = {
        **identity, "suite": req.suite, "device": device, "batch_size": req.batch_size, "world_size": dist.world,
        "languages_requested": req.languages, "code_version": code_version(), "command": redact_argv(sys.argv),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cache": str(cache.path) if cache.path else None,
        "host": _host_info(), "on_error": req.on_error, "allow_unsafe_execution": req.allow_unsafe_execution,
        "data_args": redact_args(req.data_args),
    }
    if dist.is_main:
        _write_output(out / "run.json", check_schema({"schema_version": SCHEMA_VERSION, "identity": identity,
                                                      "run": run_info}, "run", f"{out}/run.json"))

    ctx = RunContext(batch_size=req.batch_size, seed=req.seed, progress=req.progress and
                     dist.is_main, model_key=mkey, cache=cache, dist=dist, device=device, load_model=load_model,
                     on_error=req.on_error, allow_unsafe_execution=req.allow_unsafe_execution)
    task_results = {}
    warm: set = set()  # model operations run once already in this process: their next batches are not warm-up
    timed_on = device_name(device, run_info["host"])  # what the speed figures were measured on
    try:
        for t in tasks:
            ctx.meter = SpeedMeter(warm=warm)
            path = out / "samples" / f"{t.name}.jsonl"
            store = RecordStore(path) if dist.is_main else None
            # Other ranks follow rank 0's resume state, so every rank takes the same steps.
            done = dist.broadcast(set(store.records) if store else None)
            store = store or NullStore(done)
            t1 = time.time()
            try:
                kinds[t.name].run(model, data[t.name], store, ctx)
            finally:
                store.close()
            if dist.enabled:  # every rank timed its own batches: one device's throughput from all of them
                ctx.meter.rows = [row for part in dist.all_gather(ctx.meter.rows) for row in part]
            if not dist.is_main:
                continue
            speed = ctx.meter.section(timed_on, dist.world)
            records = store.sorted_records()
            task_results[t.name] = {
                "kind": t.kind, "yaml": str(t.path), "description": t.description,
                "metrics": kinds[t.name].reported_metrics(), "primary_metric": t.primary_metric,
                "dataset": {"loader": t.dataset.get("loader"), "source": data[t.name].source,
                            "fingerprint": data[t.name].fingerprint, "languages": data[t.name].languages},
                "samples_file": f"samples/{t.name}.jsonl", "n_records": len(records),
                "seconds_this_session": round(time.time() - t1, 3),
                **aggregate_task(records, kinds[t.name].reported_metrics(), kinds[t.name].ratio_metrics,
                                 getattr(kinds[t.name], "higher_is_better", None),
                                 provenance=provenance_for(t.name, t.dataset.get("loader"),
                                                           sorted({r.language for r in records})),
                                 primary=t.primary_metric),
                **kinds[t.name].result_extras(),
                **({"speed": speed} if speed else {}),
            }
        info = model.info() if dist.is_main else {}
    finally:
        cache.close()
    dist.barrier()
    results = {
        "schema_version": SCHEMA_VERSION,
        "run": {**run_info, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "model_load_s": round(model.load_s, 3),
                "model_loaded": model.loaded, "cache_hits": cache.hits, "cache_misses": cache.misses},
        "model": {**info, "spec": str(spec)},
        "tasks": task_results,
        **(tokenizer_section(spec, family, model) if dist.is_main else {}),  # mmx/metrics/tokenizers.py
    }
    if dist.is_main:
        _write_output(out / "results.json", check_schema(results, "results", f"{out}/results.json"))
    results["_dir"] = str(out)
    return results


def model_loader(cache: OutputCache, device: str):
    """How a run loads every model it uses: the one evaluated, and any a task kind needs besides it (the TTS
    task's ASR judge, through RunContext.load_model). Each is lazy, has its own output-cache key (spec, args,
    weights, adapter version) and goes on the run's device (in a sharded run, this rank's GPU)."""
    def load(spec: ModelSpec, family: type) -> LazyModel:
        check_model_args(family, spec.args, str(spec))
        return LazyModel(lambda: family(spec.name, device=device, **spec.args), cache,
                         model_key(str(spec), spec.args, family))

    return load


class LazyModel:
    """Loads the adapter on first use, so a run whose outputs are all cached or already written never loads it."""

    def __init__(self, factory, cache: OutputCache, key: str):
        self._factory, self._cache, self._key = factory, cache, key
        self.cache_key = key  # the model's part of output-cache namespaces (mmx/cache.py model_key)
        self._model = None
        self.load_s = 0.0
        self._lock = threading.Lock()  # the loader threads may ask first (prepare_image in cached_map's pool)

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _get(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    t0 = time.time()
                    model = self._factory()
                    self.load_s = time.time() - t0
                    loading_took(self.load_s)  # a model loaded inside a timed call: not model time (mmx/speed.py)
                    self._cache.put_many("model-info", {self._key: model.info()})
                    self._model = model
        return self._model

    def __getattr__(self, name: str):
        return getattr(self._get(), name)

    def info(self) -> dict[str, Any]:
        if self._model is None:
            cached = self._cache.get_many("model-info", [self._key]).get(self._key)
            if cached is not None:
                return cached
        return self._get().info()


LOCK_NAME = ".mmx.lock"
# Everything mmx itself writes into a run folder (samples/ holds one <task>.jsonl per task).
MMX_FILES = {"run.json", "results.json", "run.json.tmp", "results.json.tmp", "report.html", LOCK_NAME}


class RunLock:
    """An exclusive flock on OUT/.mmx.lock, naming its holder; released by the kernel if the process dies."""

    def __init__(self, folder: Path):
        self.path = folder / LOCK_NAME
        self.fh = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.fh.seek(0)
            holder = self.fh.read().strip()
            self.fh.close()
            raise MmxError(f"--output {folder} is in use by another mmx run ({holder or 'holder unknown'}); "
                           "wait for it to finish, or give another --output") from None
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(f"pid {os.getpid()} on host {socket.gethostname()} since {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n")
        self.fh.flush()

    def release(self) -> None:
        if not self.fh.closed:
            fcntl.flock(self.fh, fcntl.LOCK_UN)
            self.fh.close()


def foreign_entries(out: Path) -> list[str]:
    """What in ``out`` mmx did not write (a user's own files): --overwrite must never delete those."""
    bad = []
    for p in sorted(out.iterdir()):
        if p.name == "samples" and p.is_dir() and not p.is_symlink():
            bad += [f"samples/{q.name}" for q in sorted(p.iterdir())
                    if q.suffix != ".jsonl" or q.is_symlink() or not q.is_file()]
        elif p.name not in MMX_FILES or p.is_symlink() or not p.is_file():
            bad.append(p.name + ("/" if p.is_dir() else ""))
    return bad


def _old_identity(out: Path) -> dict | None:
    """The identity in an mmx run folder's run.json; None if there is none; MmxError if it is not mmx's."""
    run_json = out / "run.json"
    if not run_json.exists():
        return None
    try:
        obj = json.loads(run_json.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise MmxError(f"--output {out}: its run.json is not an mmx run ({e}); give another --output") from None
    if not (isinstance(obj, dict) and obj.get("schema_version") in RUN_JSON_VERSIONS
            and isinstance(obj.get("identity"), dict)):
        raise MmxError(f"--output {out}: its run.json is not an mmx run of schema version {SCHEMA_VERSION}; "
                       "give another --output")
    return obj["identity"]


def _prepare_output(out: Path, identity: dict, overwrite: bool) -> RunLock:
    """Check the folder is new, empty or an mmx run, lock it, then clear it (--overwrite) or check it is this run."""
    try:
        if out.exists() and not out.is_dir():
            raise MmxError(f"--output {out} is a file, not a folder; give a folder for the run")
        if out.is_dir():
            old = _old_identity(out)  # a run.json that is not mmx's: refused before anything is touched
            foreign = foreign_entries(out)
            listing = ", ".join(foreign[:5]) + (f", ... ({len(foreign)} in all)" if len(foreign) > 5 else "")
            if foreign and overwrite:
                raise MmxError(f"--output {out} holds files mmx did not write ({listing}); --overwrite replaces "
                               "only a folder that holds nothing but an mmx run. Move them away or give another "
                               "--output")
            if foreign and old is None:
                raise MmxError(f"--output {out} holds files mmx did not write ({listing}) and no mmx run; mmx "
                               "writes a run only into a new or empty folder or one of its own runs. Give "
                               "another --output")
        out.mkdir(parents=True, exist_ok=True)
        lock = RunLock(out)
    except OSError as e:
        raise MmxError(f"--output {out}: cannot create the run folder there ({e.strerror or e}); "
                       "give a writable folder") from None
    try:
        old = _old_identity(out)  # again under the lock: another run may have written it meanwhile
        if overwrite:
            for name in MMX_FILES - {LOCK_NAME}:
                (out / name).unlink(missing_ok=True)
            samples = out / "samples"
            if samples.is_dir():
                for q in samples.glob("*.jsonl"):
                    q.unlink()
                samples.rmdir()
        elif old is not None and old != identity:
            diff = [k for k in identity if old.get(k) != identity[k]]
            raise MmxError(f"{out} holds a different run (differs in: {', '.join(diff)}); "
                           "use another --output, or --overwrite to start it again")
    except OSError as e:
        lock.release()
        raise MmxError(f"--output {out}: cannot write there ({e.strerror or e}); give a writable folder") from None
    except BaseException:
        lock.release()
        raise
    return lock


def _write_output(path: Path, obj: dict) -> None:
    try:
        write_json(path, obj)
    except OSError as e:
        raise MmxError(f"cannot write {path} ({e.strerror or e}); give a writable --output") from None


def _host_info() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    import torch

    info = {"python": platform.python_version(), "platform": platform.platform(), "torch": torch.__version__}
    try:
        info["transformers"] = version("transformers")  # without importing it (slow)
    except PackageNotFoundError:
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def download_benchmark(name: str, languages: list[str] | None = None) -> list[str]:
    """`mmx data download`: every task of the benchmark loads all its rows (for ``languages``) with the Hub
    allowed, so what `mmx evaluate` reads lands in the Hugging Face caches (huggingface_hub resumes
    interrupted files and shows progress); a later run with HF_HUB_OFFLINE=1 reads it from there."""
    from mmx.data.catalog import benchmark
    from mmx.data.hub import offline

    b = benchmark(name)
    if not b.tasks:
        raise MmxError(f"{name}: the catalogue lists no task that reads it; nothing to download")
    if offline():
        raise MmxError(f"mmx data download {name}: HF_HUB_OFFLINE is set; unset it to download")
    done = []
    for task in b.tasks:
        spec = load_task(task)
        kind = get_task_kind(spec.kind)(spec)
        kind.check_spec()
        data = kind.load(languages, None, {})
        done.append(f"{task}: {getattr(data, 'source', '') or spec.dataset} "
                    f"({', '.join(getattr(data, 'languages', []) or [])})")
    return done
