"""The one registry: model families and task kinds register by name here.

Modelled on lm-evaluation-harness: classes register themselves with a decorator,
and YAML files under ``tasks/`` name a registered task kind.
"""
from __future__ import annotations

import difflib
import functools
import inspect
from typing import Callable, TypeVar

from mmx.errors import MmxError, check_keys

T = TypeVar("T")

MODEL_FAMILIES: dict[str, type] = {}
TASK_KINDS: dict[str, type] = {}


def _register(table: dict[str, type], what: str, name: str) -> Callable[[T], T]:
    def deco(cls: T) -> T:
        if name in table and table[name] is not cls:
            raise ValueError(f"{what} {name!r} is registered twice ({table[name]} and {cls})")
        table[name] = cls  # type: ignore[assignment]
        cls.registry_name = name  # type: ignore[attr-defined]
        return cls

    return deco


def register_model(name: str):
    """Class decorator: ``@register_model("hf-clip")``."""
    return _register(MODEL_FAMILIES, "model family", name)


def register_task_kind(name: str):
    """Class decorator: ``@register_task_kind("retrieval")``."""
    return _register(TASK_KINDS, "task kind", name)


def _lookup(table: dict[str, type], what: str, name: str) -> type:
    _load_builtins()
    if name in table:
        return table[name]
    close = difflib.get_close_matches(name, list(table), n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise MmxError(f"unknown {what} {name!r}.{hint} Known: {', '.join(sorted(table))}.")


def get_model_family(name: str) -> type:
    return _lookup(MODEL_FAMILIES, "model family", name)


def get_task_kind(name: str) -> type:
    return _lookup(TASK_KINDS, "task kind", name)


def _load_builtins() -> None:
    # Importing the packages runs their @register_* decorators.
    import mmx.models  # noqa: F401
    import mmx.tasks  # noqa: F401


def model_families() -> dict[str, type]:
    _load_builtins()
    return dict(MODEL_FAMILIES)


def task_kinds() -> dict[str, type]:
    _load_builtins()
    return dict(TASK_KINDS)


# Dataset loaders: YAML ``dataset: {loader: NAME, ...}`` names one of these.
DATASET_LOADERS: dict[str, Callable] = {}


def register_loader(name: str):
    """Function decorator: ``@register_loader("xm3600")``."""

    def deco(fn):
        if name in DATASET_LOADERS and DATASET_LOADERS[name] is not fn:
            raise ValueError(f"dataset loader {name!r} is registered twice")
        DATASET_LOADERS[name] = fn
        return fn

    return deco


def get_loader(name: str) -> Callable:
    import mmx.data  # noqa: F401  (registers the loaders)

    if name in DATASET_LOADERS:
        return _checked(DATASET_LOADERS[name], name)
    close = difflib.get_close_matches(name, list(DATASET_LOADERS), n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise MmxError(f"unknown dataset loader {name!r}.{hint} Known: {', '.join(sorted(DATASET_LOADERS))}.")


# Filled in by the runner from the task, not written by the user in dataset: / --data-args.
_CALLER_ARGS = {"name", "languages", "limit"}


def loader_keys(fn: Callable) -> set[str] | None:
    """The dataset keys a loader reads (its parameters), or None when it takes **kwargs (unchecked)."""
    params = inspect.signature(fn).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params} - _CALLER_ARGS


def _checked(fn: Callable, loader: str) -> Callable:
    """The loader, refusing keys it does not take: ``splt=dev`` on xgqa must not evaluate the test split."""
    known = loader_keys(fn)
    if known is None:
        return fn

    @functools.wraps(fn)
    def call(*args, **kwargs):
        given = [k for k in kwargs if k not in _CALLER_ARGS]
        task = kwargs.get("name", loader)
        check_keys(given, known | {"loader"}, f"task {task}: dataset key (YAML dataset: or --data-args) "
                                              f"for loader {loader}")
        return fn(*args, **kwargs)

    return call
