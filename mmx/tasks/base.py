"""Task definitions (YAML under tasks/) and the base class of task kinds."""
from __future__ import annotations

import copy
import functools
import inspect
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mmx.errors import MmxError, check_keys
from mmx.tasks import config


def builtin_tasks_dir() -> Path:
    """tasks/ of the checkout (editable install) or the copy packaged into the wheel."""
    here = Path(__file__).resolve().parents[1]
    for cand in (here.parent / "tasks", here / "_share" / "tasks"):
        if cand.is_dir():
            return cand
    return here.parent / "tasks"


def task_dirs() -> list[Path]:
    """Built-in tasks, then every folder in $MMX_TASK_PATH (os.pathsep-separated)."""
    extra = [Path(p) for p in os.environ.get("MMX_TASK_PATH", "").split(os.pathsep) if p]
    from mmx.registry import plugin_task_dirs  # plugins' task folders (mmx.plugins entry points)

    return [builtin_tasks_dir(), *extra, *plugin_task_dirs()]


@dataclass
class TaskSpec:
    name: str
    kind: str
    path: Path
    dataset: dict[str, Any]
    languages: list[str] | None  # None: every language the data has
    metrics: list[str]
    primary_metric: str
    description: str = ""
    prompts: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    def resolve_path(self, value: str) -> Path:
        """Dataset paths: ${ENV} expanded, relative to the YAML file's folder."""
        expanded = _expand_env(value, self.path, "dataset path")
        p = Path(expanded).expanduser()
        return p if p.is_absolute() else (self.path.parent / p).resolve()


@dataclass
class SuiteSpec:
    name: str
    path: Path
    tasks: list[str]
    default_model: str
    default_model_args: dict[str, Any] = field(default_factory=dict)
    description: str = ""


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand_env(value: str, path: Path, what: str) -> str:
    def sub(m: re.Match) -> str:
        if m.group(1) not in os.environ:
            raise MmxError(f"{path}: {what} {value!r} needs the environment variable {m.group(1)}; "
                           f"set it (export {m.group(1)}=/path/to/data) or override with --data-args")
        return os.environ[m.group(1)]

    return _ENV.sub(sub, str(value))


def _read_yaml(path: Path) -> dict:
    """A task or suite file's mapping. Parsed once per version of the file (name, mtime, size): listing
    scans every file and then parses the tasks it found, a run parses its suite's tasks twice."""
    st = Path(path).stat()
    return copy.deepcopy(_parse_yaml(Path(path), st.st_mtime_ns, st.st_size))  # callers may change theirs


@functools.lru_cache(maxsize=1024)
def _parse_yaml(path: Path, mtime_ns: int, size: int) -> dict:
    data = path.read_bytes()
    try:
        # libyaml's C loader where the wheel has it (it does on every platform CI uses): `mmx tasks` reads
        # every task file, and the pure-Python parser is most of its time
        obj = yaml.load(data.decode("utf-8-sig"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except UnicodeDecodeError as e:
        from mmx.data.text import not_utf8

        raise not_utf8(path, data, e) from None
    except yaml.YAMLError as e:
        raise MmxError(f"{path}: malformed YAML: {e}") from e
    if not isinstance(obj, dict):
        raise MmxError(f"{path}: expected a mapping at the top level, got {type(obj).__name__}")
    return obj


def _need(obj: dict, key: str, path: Path, typ: type | tuple = str) -> Any:
    if key not in obj:
        raise MmxError(f"{path}: missing required key {key!r}")
    if not isinstance(obj[key], typ):
        raise MmxError(f"{path}: key {key!r} should be {getattr(typ, '__name__', typ)}, got {obj[key]!r}")
    return obj[key]


def parse_task(path: Path) -> TaskSpec:
    obj = _read_yaml(path)
    name = _need(obj, "task", path)
    kind = _need(obj, "kind", path)
    dataset = _need(obj, "dataset", path, dict)
    _need(dataset, "loader", path)
    langs = obj.get("languages", "all")
    if langs != "all" and not (isinstance(langs, list) and all(isinstance(x, str) for x in langs)):
        raise MmxError(f"{path}: 'languages' must be a list of codes or 'all', got {langs!r}")
    metrics = _need(obj, "metrics", path, list)
    primary = obj.get("primary_metric", metrics[0] if metrics else "")
    if primary not in metrics:
        raise MmxError(f"{path}: primary_metric {primary!r} is not one of metrics {metrics}")
    return TaskSpec(name=name, kind=kind, path=path.resolve(), dataset=dict(dataset),
                    languages=None if langs == "all" else list(langs), metrics=list(metrics),
                    primary_metric=primary, description=str(obj.get("description", "")),
                    prompts=dict(obj.get("prompts") or {}), raw=obj)


SUITE_KEYS = {"suite", "tasks", "default_model", "default_model_args", "description"}
TASK_KEYS = {"task", "kind", "dataset", "languages", "metrics", "primary_metric", "description", "prompts"}


def parse_suite(path: Path) -> SuiteSpec:
    obj = _read_yaml(path)
    check_keys(obj, SUITE_KEYS, f"{path}: suite")
    tasks = _need(obj, "tasks", path, list)
    return SuiteSpec(name=_need(obj, "suite", path), path=path.resolve(), tasks=[str(t) for t in tasks],
                     default_model=_need(obj, "default_model", path),
                     default_model_args=dict(obj.get("default_model_args") or {}),
                     description=str(obj.get("description", "")))


def _scan() -> tuple[dict[str, Path], dict[str, Path]]:
    tasks: dict[str, Path] = {}
    suites: dict[str, Path] = {}
    for d in task_dirs():
        for path in sorted(d.rglob("*.y*ml")):
            obj = _read_yaml(path)
            table, key = (suites, "suite") if "suite" in obj else (tasks, "task")
            if key not in obj:
                raise MmxError(f"{path}: a task YAML needs a 'task' key, a suite YAML a 'suite' key")
            name = str(obj[key])
            if name in table and table[name] != path:
                raise MmxError(f"{key} {name!r} is defined twice: {table[name]} and {path}")
            table[name] = path
    return tasks, suites


def _pick(table: dict[str, Path], name: str, what: str) -> Path:
    if name in table:
        return table[name]
    import difflib

    close = difflib.get_close_matches(name, list(table), n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise MmxError(f"unknown {what} {name!r}.{hint} Known: {', '.join(sorted(table)) or 'none'} "
                   f"(searched {', '.join(map(str, task_dirs()))}; add folders with MMX_TASK_PATH)")


def load_task(name: str) -> TaskSpec:
    p = Path(name)
    if p.suffix in (".yaml", ".yml") and p.is_file():
        return parse_task(p)
    return parse_task(_pick(_scan()[0], name, "task"))


def load_suite(name: str) -> SuiteSpec:
    return parse_suite(_pick(_scan()[1], name, "suite"))


def all_tasks() -> list[TaskSpec]:
    return [parse_task(p) for p in _scan()[0].values()]


def all_suites() -> list[SuiteSpec]:
    return [parse_suite(p) for p in _scan()[1].values()]


class TaskKind:
    """A kind of test (retrieval, ASR, ...) runnable over any adapter with its capability.

    Subclasses register with ``@register_task_kind``, set ``Options`` (their typed YAML options,
    mmx/tasks/config.py) and implement ``run``; ``load_data`` defaults to the YAML's dataset through its
    loader. ``run`` writes Records to the store as it makes them and skips ids the store already has.
    """

    registry_name: str = ""
    capability: type = object
    description: str = ""
    # Deprecated: metrics are defined in mmx/metrics/defs.py (register_metric). A legacy
    # metric -> (numerator score, denominator score) pair here still aggregates as a ratio of sums.
    ratio_metrics: dict[str, tuple[str, str]] = {}
    # The YAML keys this kind reads beyond the common TASK_KEYS, typed (a subclass of config.Options).
    Options: type[config.Options] = config.Options
    # Metrics every run of this kind reports besides the YAML's (output-language fidelity, ...).
    analysis_metrics: tuple[str, ...] = ()

    def __init__(self, spec: TaskSpec):
        self.spec = spec
        self._options: config.Options | None = None

    @property
    def where(self) -> str:
        return f"{self.spec.path}: task {self.spec.name}"

    @property
    def options(self) -> config.Options:
        """The typed options: the YAML's, with --data-args on top once ``load`` has run."""
        if self._options is None:
            self._options = self.parse_options()
        return self._options

    def parse_options(self, overrides: dict[str, Any] | None = None) -> config.Options:
        given = {k: v for k, v in self.spec.raw.items() if k not in TASK_KEYS}
        return config.parse_options(self.Options, given, self.where, overrides)

    def metric_names(self) -> set[str] | None:
        """The metrics this kind can produce for its spec (None: not checked)."""
        return None

    def reported_metrics(self) -> list[str]:
        """The YAML's metrics, then the kind's analysis metrics: what results.json aggregates."""
        return list(dict.fromkeys([*self.spec.metrics, *self.analysis_metrics]))

    def result_extras(self) -> dict[str, Any]:
        """Merged into this task's entry in results.json after the run (e.g. the sandbox used)."""
        return {}

    def check_spec(self) -> None:
        """Refuse YAML keys, option values and metric names nothing reads: a typo must not be silently ignored."""
        check_keys(self.spec.raw, TASK_KEYS | set(self.Options.model_fields), self.where)
        self._options = self.parse_options()
        known = self.metric_names()
        if known is not None:
            check_keys(self.spec.metrics, known, f"{self.where}: metric")

    def load(self, languages: list[str] | None, limit: int | None, data_args: dict[str, str]):
        """What the runner calls: --data-args split into option overrides (typed, checked) and dataset keys."""
        from mmx.registry import LOADERS, loader_keys

        loader = LOADERS.get(str(data_args.get("loader", self.spec.dataset.get("loader"))))
        keys = loader_keys(loader)
        if keys is not None:  # a typo is refused with the closest option or dataset key
            check_keys(data_args, keys | config.option_names(self.Options) | {"loader"},
                       f"task {self.spec.name}: --data-args (options of {self.spec.kind} or dataset keys)")
        overrides, dataset_args = config.split_overrides(self.Options, data_args)
        self._options = self.parse_options(overrides)
        return self.load_data(languages, limit, dataset_args)

    def load_data(self, languages: list[str] | None, limit: int | None, dataset_args: dict[str, Any]):
        """The data to evaluate; by default the YAML's dataset through its loader. Kinds that need more (a
        second set, a check on what came back) override this and still call ``call_loader``."""
        return self.call_loader(dataset_args, languages, limit)

    def call_loader(self, dataset_args: dict[str, Any], languages, limit, **fixed):
        """The one path from a task's ``dataset:`` (with --data-args and ``fixed`` on top) to its data: the
        loader refuses keys it does not take, a missing required key is named, a key the loader types as a
        ``Path`` is resolved against the YAML's folder, and --languages (else the YAML's languages) filters."""
        from mmx.registry import CALLER_ARGS, LOADERS, get_loader

        ds = {**self.spec.dataset, **dataset_args, **fixed}
        name = str(ds.pop("loader"))
        params = inspect.signature(inspect.unwrap(LOADERS.get(name))).parameters
        for key, p in params.items():
            if p.default is p.empty and p.kind is not p.VAR_KEYWORD and key not in ds and key not in CALLER_ARGS:
                raise MmxError(f"{self.spec.path}: dataset needs {key!r} (loader {name})")
            if key in ds and "Path" in str(p.annotation) and isinstance(ds[key], (str, Path)) and str(ds[key]):
                ds[key] = self.spec.resolve_path(ds[key])
        return get_loader(name)(name=self.spec.name, languages=languages or self.spec.languages, limit=limit, **ds)

    def run(self, model, data, store, ctx) -> None:
        raise NotImplementedError


@dataclass
class RunContext:
    """What the runner hands every task kind."""

    batch_size: int
    seed: int
    progress: bool = True
    model_key: str = ""  # identifies the model for caches (spec + args + local weights)
    cache: Any = None  # mmx.cache.OutputCache
    dist: Any = None  # mmx.dist.Dist
    on_error: str = "fail"  # a bad sample (e.g. corrupt audio): "fail" stops the run, "skip" records it and goes on
    allow_unsafe_execution: bool = False  # run generated code even where no sandbox is available
    device: str = "cpu"  # the run's --device (this rank's GPU in a sharded run)
    # load_model(ModelSpec, family) -> a lazy model with .cache_key: how a task kind loads a model besides the
    # evaluated one (the TTS task's ASR judge) exactly as the runner loads that one (mmx/runner.py model_loader)
    load_model: Any = None
    meter: Any = None  # mmx.speed.SpeedMeter of the task being run: the throughput figures of results.json

    def timer(self, operation: str, figure: str | None, language: str | None = None, amount=None):
        """The timer a task kind hands cached_map for one model operation (mmx/speed.py); None: not timed."""
        return self.meter.timer(operation, figure, language, amount) if self.meter is not None else None
