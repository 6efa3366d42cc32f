"""`mmx validate`: check task and suite YAML files without running them.

A task file: YAML parses, required keys, the kind exists, no unknown keys or metric names
(TaskKind.check_spec), the loader exists and the dataset keys are ones its signature takes.
A suite file: its keys, and every task it names exists. Each problem is one message; none means ok.
"""
from __future__ import annotations

from pathlib import Path

from mmx.errors import MmxError


def validate_file(path: Path) -> list[str]:
    from mmx.tasks.base import _read_yaml, load_task, parse_suite, parse_task

    if not Path(path).is_file():
        return ["no such file (give a task or suite .yaml)"]
    try:
        obj = _read_yaml(Path(path))
    except MmxError as e:
        return [str(e)]
    problems: list[str] = []
    if "suite" in obj:
        try:
            suite = parse_suite(Path(path))
        except MmxError as e:
            return [str(e)]
        for name in suite.tasks:
            try:
                load_task(name)
            except MmxError as e:
                problems.append(f"suite {suite.name}: {e}")
        return problems
    try:
        spec = parse_task(Path(path))
    except MmxError as e:
        return [str(e)]
    problems += _check_kind(spec)
    problems += _check_loader(spec)
    return problems


def _check_kind(spec) -> list[str]:
    from mmx.registry import get_task_kind

    try:
        get_task_kind(spec.kind)(spec).check_spec()
    except MmxError as e:
        return [str(e)]
    return []


def _check_loader(spec) -> list[str]:
    from mmx.errors import check_keys
    from mmx.registry import LOADERS, loader_keys

    name = spec.dataset.get("loader")
    try:
        fn = LOADERS.get(str(name))
        known = loader_keys(fn)
        if known is not None:
            check_keys([k for k in spec.dataset if k != "loader"], known,
                       f"task {spec.name}: dataset key for loader {name}")
    except MmxError as e:
        return [str(e)]
    return []
