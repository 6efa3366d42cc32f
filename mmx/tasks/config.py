"""A task kind's typed options: the YAML keys it reads beyond the common ones, declared once.

Each task kind sets ``Options`` to a subclass of :class:`Options` (a pydantic model): field names are the
YAML keys, types and bounds are checked (``n: 0`` or ``mc_mode: logit`` is refused where the file is read),
defaults are written once, and a key the kind does not read is refused with a suggestion. ``--data-args``
overrides options by name (``n=200`` sets ``generation.n``); what is not an option goes to the dataset
loader, whose signature is the dataset's schema (mmx/registry.py ``loader_keys``).

``mmx validate`` parses the options, so a bad file fails before any model is loaded; ``mmx schema
task-options KIND`` prints the JSON Schema of a kind's options for editors and CI.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from mmx.errors import MmxError, check_keys


class Options(BaseModel):
    """No options: the base of every kind's options (unknown keys refused, values immutable)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_numbers(cls, data: Any) -> Any:
        # pydantic reads true as 1; `n: true` is a mistake, not one sample: refuse it as a number
        if isinstance(data, dict):
            data = {k: str(v).lower() if isinstance(v, bool) and k in cls.model_fields
                    and cls.model_fields[k].annotation in (int, float) else v for k, v in data.items()}
        return data


def _nested(cls: type[Options]) -> dict[str, type[Options]]:
    """The fields of ``cls`` that are themselves option groups (``generation:``)."""
    out = {}
    for name, f in cls.model_fields.items():
        if isinstance(f.annotation, type) and issubclass(f.annotation, Options):
            out[name] = f.annotation
    return out


def option_names(cls: type[Options]) -> set[str]:
    """Every name --data-args may set: top-level fields and the fields of nested groups."""
    names = set(cls.model_fields)
    for sub in _nested(cls).values():
        names |= set(sub.model_fields)
    return names


def _check_unknown(cls: type[Options], given: dict, where: str) -> None:
    check_keys(given, cls.model_fields, where)
    for name, sub in _nested(cls).items():
        if isinstance(given.get(name), dict):
            _check_unknown(sub, given[name], f"{where}: {name}")


def _merge(base: dict, top: dict) -> dict:
    out = dict(base)
    for k, v in top.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def parse_options(cls: type[Options], given: dict[str, Any], where: str,
                  overrides: dict[str, Any] | None = None) -> Options:
    """``given`` (the YAML's keys) with ``overrides`` (from --data-args) on top, checked against ``cls``."""
    _check_unknown(cls, given, where)
    merged = _merge(given, overrides or {})
    try:
        return cls.model_validate(merged)
    except ValidationError as e:
        raise MmxError(f"{where}: {'; '.join(_explain(err) for err in e.errors())}") from None


def _explain(err: dict) -> str:
    """One pydantic error as "KEY should be ..., got VALUE" (the wording of mmx.errors.check_number)."""
    key = ".".join(str(p) for p in err["loc"]) or "options"
    ctx, kind = err.get("ctx") or {}, err["type"]
    if kind == "value_error":  # a validator's own message
        return f"{key}: {err['msg'].removeprefix('Value error, ')}"
    bounds = {"greater_than_equal": (">=", "ge"), "greater_than": (">", "gt"),
              "less_than_equal": ("<=", "le"), "less_than": ("<", "lt")}
    if kind in bounds:
        op, name = bounds[kind]
        want = f"{op} {ctx[name]}"
    elif kind in ("int_parsing", "int_from_float", "int_type"):
        want = "a whole number"
    elif kind in ("float_parsing", "float_type"):
        want = "a number"
    elif kind == "finite_number":
        want = "a finite number"
    elif kind == "literal_error":
        want = f"one of {ctx.get('expected')}"
    elif kind in ("bool_parsing", "bool_type"):
        want = "true or false"
    else:
        want = err["msg"].removeprefix("Input should be ").removeprefix("input should be ")
    return f"{key} should be {want}, got {err.get('input')!r}"


def split_overrides(cls: type[Options], args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """--data-args -> (option overrides, nested as in the YAML; the rest, for the dataset loader)."""
    opts: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    nested = _nested(cls)
    for key, value in args.items():
        group = next((g for g, sub in nested.items() if key in sub.model_fields), None)
        if key in cls.model_fields and key not in nested:
            opts[key] = value
        elif group:
            opts.setdefault(group, {})[key] = value
        else:
            rest[key] = value
    return opts, rest
