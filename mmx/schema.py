"""The one result schema, for every modality.

A run directory holds:
  run.json              what is being run (model, tasks, seed, code version): written first
  samples/<task>.jsonl  one record per sample, appended and flushed as it is made
  results.json          the final run: run info + per task, per-language and overall aggregates

A killed run loses at most the record being written; a rerun with the same
--output reads the JSONL back and skips the samples already there.

Every file is strict JSON (RFC 8259: no NaN/Infinity tokens; a non-finite score is written as null and read
back as missing), and secrets (API keys, tokens, passwords given as model or data arguments) are redacted
before anything reaches disk.
"""
from __future__ import annotations

import json
import math
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from mmx import __version__
from mmx.errors import MmxError

# The layout of results.json and run.json, typed in mmx/results.py (JSON Schema: mmx/results_schema.json).
# Bump it whenever the layout changes, and add the upgrade from the old version to mmx/results.py's UPGRADES.
# 2: metric_defs with stats/reducer/scale/unit/ci, task extras (execution, normalizer, target_language),
#    run.allow_unsafe_execution and run.data_args, validated before writing.
# 3: a task's optional ``provenance`` section (its data's provenance per language, from the data catalogue,
#    and the differences between provenance groups) and the ``provenance`` grouping in ``groups``.
SCHEMA_VERSION = 3
# run.json versions whose identity a run may resume or --overwrite (the identity layout is unchanged).
RUN_JSON_VERSIONS = (1, 2, 3)

# Argument names that hold credentials: whole name parts, so max_new_tokens is not a token but hf_token is.
_SECRET_PARTS = {"key", "apikey", "token", "secret", "password", "passwd", "pwd", "credential", "credentials",
                 "auth", "authorization", "bearer", "cookie"}
REDACTED = "***redacted***"
_SECRETS: set[str] = set()  # values seen under such names in this process: scrubbed from everything written


def _remember(value: str) -> None:
    # Values too short to be a credential ("x" for a local server) would blank out every "x" written.
    if len(value) >= 4:
        _SECRETS.update({value, json.dumps(value, ensure_ascii=False)[1:-1]})


def is_secret_name(name: str) -> bool:
    parts = re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name)).lower())
    return any(p in _SECRET_PARTS for p in parts) or str(name).lower().replace("-", "_").endswith(("_key", "apikey"))


def redact_args(args: dict[str, Any] | None) -> dict[str, Any]:
    """A copy of k=v arguments with secret-looking values replaced; the values are remembered for scrub()."""
    out = {}
    for k, v in (args or {}).items():
        if is_secret_name(k) and v not in (None, ""):
            _remember(str(v))
            out[k] = REDACTED
        else:
            out[k] = v
    return out


_KV = re.compile(r"(^|[,\s])([A-Za-z0-9_.-]+)=([^,]*)")


def redact_argv(argv: list[str]) -> list[str]:
    """sys.argv with the values of secret-looking k=v pairs (``--model-args api_key=...``) redacted."""
    def sub(m: re.Match) -> str:
        if is_secret_name(m.group(2)) and m.group(3):
            _remember(m.group(3))
            return f"{m.group(1)}{m.group(2)}={REDACTED}"
        return m.group(0)

    def one(a: str) -> str:
        if a.startswith("--") and "=" in a:  # --model-args=api_key=...
            opt, val = a.split("=", 1)
            return f"{opt}={_KV.sub(sub, val)}"
        return _KV.sub(sub, a)

    return [scrub(one(str(a))) for a in argv]


def scrub(obj: Any) -> Any:
    """obj with every remembered secret value cut out of its strings (an error message quoting a URL, ...)."""
    if not _SECRETS:
        return obj
    if isinstance(obj, str):
        for sec in _SECRETS:
            if sec in obj:
                obj = obj.replace(sec, REDACTED)
        return obj
    if isinstance(obj, dict):
        return {scrub(k): scrub(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [scrub(v) for v in obj]
    return obj


def finite(obj: Any) -> Any:
    """obj with NaN/Infinity floats as None: JSON has no token for them (readers take null as missing)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def dumps(obj: Any, **kw: Any) -> str:
    """Strict JSON (allow_nan=False) with secrets scrubbed: what every mmx file is written with."""
    try:
        text = json.dumps(obj, ensure_ascii=False, allow_nan=False, **kw)
    except ValueError:  # a NaN somewhere: the slow path only then
        text = json.dumps(finite(obj), ensure_ascii=False, allow_nan=False, **kw)
    return scrub(text) if _SECRETS else text


@dataclass
class Record:
    """One evaluated sample. ``scores`` holds per-sample metric values (aggregates are their means)."""

    id: str
    language: str
    prediction: Any
    reference: Any
    scores: dict[str, float]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        # Built by hand: dataclasses.asdict deep-copies every field and dominated the write time.
        d = {"id": self.id, "language": self.language, "prediction": self.prediction,
             "reference": self.reference, "scores": self.scores, "extra": self.extra}
        return dumps(d, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "Record":
        # A score written as null (it was NaN) is missing, as the aggregate treats NaN.
        scores = {k: v for k, v in (d.get("scores") or {}).items() if v is not None}
        return cls(d["id"], d["language"], d.get("prediction"), d.get("reference"), scores, d.get("extra", {}))


class RecordStore:
    """Append-only JSONL of one task's records, with resume."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.records: dict[str, Record] = {}
        if self.path.exists():
            self._read_back()
        self._fh = open(self.path, "a", encoding="utf-8")

    def _read_back(self) -> None:
        data = self.path.read_bytes()
        good_end = 0  # byte offset after the last complete, parseable line
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break  # a line cut off by a kill: drop it, the sample is redone
            try:
                rec = Record.from_dict(json.loads(line))
            except (json.JSONDecodeError, KeyError) as e:
                raise MmxError(f"{self.path}: unreadable record after byte {good_end} ({e}); "
                               "delete the file (or the run directory) to start this task again") from e
            self.records[rec.id] = rec
            good_end += len(line)
        if good_end < len(data):
            with open(self.path, "r+b") as fh:
                fh.truncate(good_end)

    def has(self, sample_id: str) -> bool:
        return sample_id in self.records

    def write(self, records: Iterable[Record]) -> None:
        lines = []
        for r in records:
            if r.id in self.records:
                raise ValueError(f"duplicate sample id {r.id!r} in {self.path}")
            self.records[r.id] = r
            lines.append(r.to_json() + "\n")
        if lines:
            self._fh.write("".join(lines))
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()

    def sorted_records(self) -> list[Record]:
        return sorted(self.records.values(), key=lambda r: (r.language, r.id))


class NullStore(RecordStore):
    """What ranks other than 0 get in a sharded run: knows rank 0's finished ids, writes nothing."""

    def __init__(self, done: set[str]):
        self.path = Path(os.devnull)
        self.records = {i: None for i in done}  # type: ignore[misc]

    def write(self, records: Iterable[Record]) -> None:
        for r in records:
            self.records[r.id] = r

    def close(self) -> None:
        pass


def code_version() -> dict[str, Any]:
    """mmx version plus the git commit of the checkout, when run from one."""
    root = Path(__file__).resolve().parent.parent
    out: dict[str, Any] = {"mmx": __version__, "git_commit": None, "git_dirty": None}
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=5)
        if commit.returncode == 0:
            out["git_commit"] = commit.stdout.strip()
            status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                    capture_output=True, text=True, timeout=5)
            out["git_dirty"] = bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def write_json(path: Path, obj: Any) -> None:
    """Write atomically, so a reader never sees half a results.json."""
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(dumps(obj, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_results(path: str | os.PathLike) -> dict:
    """Read a results.json (or a run directory holding one), in the current layout: an older schema version
    is upgraded (mmx/results.py; the result then has an ``upgrade`` entry), a newer one refused."""
    from mmx.results import upgrade

    p = Path(path)
    if p.is_dir():
        p = p / "results.json"
    if not p.exists():
        raise MmxError(f"{p}: no results.json here (is the run finished? `mmx evaluate` writes it at the end)")
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise MmxError(f"{p}: not valid JSON ({e})") from e
    if not isinstance(obj, dict):
        raise MmxError(f"{p}: not an mmx results.json (a JSON {type(obj).__name__}, not an object)")
    return upgrade(obj, str(p))
