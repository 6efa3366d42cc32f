"""results.json and samples records as types: what the runner must write, their JSON Schema, and upgrades.

The layout is declared once, below, as TypedDicts (PEP 589/655; results.json stays a plain dict for
every reader). pydantic validates a file against them (strict: no "1" for 1, no missing or renamed field
where the object is closed) and generates the JSON Schema (draft 2020-12) that mmx publishes in
mmx/results_schema.json and mmx/samples_schema.json (`mmx schema results`); tests/test_results_schema.py
checks the files are what the types generate and validates real runs with the ``jsonschema`` package.

``SCHEMA_VERSION`` (mmx/schema.py) changes whenever this layout does. Version 1 (written until
issue 11) is read through ``upgrade_1_to_2``: what can be derived is filled (metric_defs' stats, reducer,
scale and unit from ``type/num/den`` and the metric registry), what cannot is written as null, and
``upgrade`` records the old version and both lists. A version newer than this mmx reads is refused.

null in a results.json means "not defined" for a number (no sample carried the metric, or it was NaN:
JSON has no NaN) and "not recorded" for a section, which only happens in an upgraded file.
"""
from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional, Tuple

from typing_extensions import NotRequired, TypedDict  # pydantic needs typing_extensions' TypedDict on < 3.12

from mmx.errors import MmxError
from mmx.schema import SCHEMA_VERSION, dumps

HERE = Path(__file__).resolve().parent
SCHEMA_FILES = {"results": HERE / "results_schema.json", "samples": HERE / "samples_schema.json"}
SCHEMA_ID = "urn:mmx:schema:{name}:v{version}"

CLOSED = {"extra": "forbid"}  # an unknown key is a renamed or misspelt field: refused where it is made
OPEN = {"extra": "allow"}  # adapters, hosts and task kinds (plugins too) add their own keys here

Num = Optional[float]  # null: not defined (no sample carried the metric, or it was NaN)
CI = Optional[Tuple[float, float]]  # [low, high]; null where it cannot be estimated
MetricMap = Dict[str, Num]  # metric -> value


class CodeVersion(TypedDict):
    __pydantic_config__ = CLOSED  # type: ignore[misc]
    mmx: str
    git_commit: NotRequired[Optional[str]]
    git_dirty: NotRequired[Optional[bool]]


class RunStart(TypedDict):
    """run.json's ``run``: what is being run, written before the first sample."""
    __pydantic_config__ = OPEN  # type: ignore[misc]
    model: str
    model_args: Dict[str, Any]
    tasks: List[str]
    seed: int
    limit: Optional[int]
    data_fingerprints: Dict[str, str]
    suite: Optional[str]
    device: str
    batch_size: int
    world_size: int
    languages_requested: Optional[List[str]]
    code_version: CodeVersion
    command: List[str]
    started: str
    cache: Optional[str]
    host: Dict[str, Any]
    on_error: Literal["fail", "skip"]
    allow_unsafe_execution: Optional[bool]  # null: not recorded (upgraded from version 1)
    data_args: Optional[Dict[str, Any]]  # null: not recorded (upgraded from version 1)


class RunInfo(RunStart):
    """results.json's ``run``: run.json's, plus what the finished run measured."""
    finished: str
    model_load_s: float
    model_loaded: bool
    cache_hits: int
    cache_misses: int


class ModelInfo(TypedDict):
    """The adapter's ``info()`` plus the spec; adapters add their own keys."""
    __pydantic_config__ = OPEN  # type: ignore[misc]
    spec: str
    family: NotRequired[str]
    name: NotRequired[str]
    random_weights: NotRequired[bool]


class MetricDef(TypedDict):
    """How a metric aggregates and displays (mmx/metrics/defs.py), as the run used it."""
    __pydantic_config__ = CLOSED  # type: ignore[misc]
    type: str  # the reducer again, for readers of version 1
    num: NotRequired[str]  # a ratio's numerator and denominator keys, for readers of version 1
    den: NotRequired[str]
    stats: List[str]  # per-sample score keys summed over samples
    reducer: str  # mean, ratio, bleu, chrf or a registered one
    higher_is_better: bool
    scale: float  # display value = value * scale
    unit: str
    ci: Optional[Literal["wilson", "bootstrap-percentile"]]  # the per-language interval; null: not recorded


class LanguageResult(TypedDict):
    __pydantic_config__ = CLOSED  # type: ignore[misc]
    n_records: int
    n: Dict[str, int]  # metric -> samples that carried it
    metrics: MetricMap
    ci: Optional[Dict[str, CI]]


class Overall(TypedDict):
    __pydantic_config__ = CLOSED  # type: ignore[misc]
    macro: MetricMap  # mean over languages
    micro: MetricMap  # all samples pooled
    macro_ci: Optional[Dict[str, CI]]


class Group(TypedDict):
    __pydantic_config__ = CLOSED  # type: ignore[misc]
    languages: List[str]
    n_records: int
    macro: MetricMap
    micro: MetricMap
    macro_ci: Dict[str, CI]


class ProvenanceDifference(TypedDict):
    __pydantic_config__ = CLOSED  # type: ignore[misc]
    value: Num  # macro of the first group minus macro of the second
    ci: CI


class Provenance(TypedDict):
    """Where each language's data comes from (the data catalogue) and how the provenance groups differ."""
    __pydantic_config__ = CLOSED  # type: ignore[misc]
    benchmark: str  # the catalogue's entry
    languages: Dict[str, Literal["native", "human-translated", "machine-translated", "mixed", "unknown"]]
    differences: Dict[str, Dict[str, ProvenanceDifference]]  # "native - human-translated" -> metric -> value


class Consistency(TypedDict):
    """Per pair of languages, over the items both have, for a metric scored 0/1 per item (mmx/report/consistency.py);
    matrices are {row language: {column language: value}}."""
    __pydantic_config__ = CLOSED  # type: ignore[misc]
    languages: List[str]
    items: Dict[str, int]  # items with one 0/1 outcome per language
    shared_items: Dict[str, Dict[str, int]]
    solved_only: Dict[str, Dict[str, int]]  # [a][b]: solved in a, not in b
    agreement: Dict[str, Dict[str, Num]]
    kappa: Dict[str, Dict[str, Num]]  # Cohen's; null: both constant
    mcnemar_p: Dict[str, Dict[str, Num]]  # exact (binomial) test of the discordant items, unadjusted
    differing_items: Dict[str, Dict[str, List[str]]]  # [a][b]: the items solved in a, not in b (first max_listed)
    ambiguous: Dict[str, int]  # items left out of a language: scored by more than one of its samples
    max_listed: int


class GridCell(TypedDict):
    """One question language x answer language cell (the VQA kind's answer_languages)."""
    __pydantic_config__ = CLOSED  # type: ignore[misc]
    answer_language: str  # the code the entry resolved to ("mixed" if it differs across the cell's samples)
    n: Dict[str, int]
    metrics: MetricMap


class BitextGrid(TypedDict):
    """Text-to-text retrieval on parallel text (the bitext kind, mmx/tasks/bitext.py): top-1 accuracy from each
    query language to each content language over the same items."""
    __pydantic_config__ = CLOSED  # type: ignore[misc]
    languages: List[str]
    n_items: int
    top1: Dict[str, Dict[str, float]]  # query language -> content language (not itself) -> accuracy


class Spread(TypedDict):
    __pydantic_config__ = CLOSED  # type: ignore[misc]
    worst_language: str
    worst: float
    best_language: str
    best: float
    range: float
    std: float


class Pairing(TypedDict):
    __pydantic_config__ = CLOSED  # type: ignore[misc]
    paired: bool
    shared_items: int


class Bootstrap(TypedDict):
    __pydantic_config__ = CLOSED  # type: ignore[misc]
    method: str
    level: float
    n_resamples: int
    seed: int
    unit: str
    proportions: NotRequired[str]


class Dataset(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    loader: Optional[str]
    source: str
    fingerprint: str
    languages: List[str]


class SpeedFigure(TypedDict):
    """One throughput figure (mmx/speed.py): pooled work / seconds (ttft_s: seconds / batches)."""
    __pydantic_config__ = CLOSED  # type: ignore[misc]
    value: float
    unit: str
    amount: float  # work timed: images, texts, audio seconds, tokens, programs or batches (ttft_s)
    seconds: float  # seconds of model calls timed
    batches: int
    includes_warmup: bool  # true only where nothing but warm-up batches was timed


class Speed(TypedDict):
    """Throughput of a task's model calls, per language and pooled, on the named device (mmx/speed.py)."""
    __pydantic_config__ = CLOSED  # type: ignore[misc]
    device: str
    world_size: int
    note: str
    overall: Dict[str, SpeedFigure]  # figure (images_per_s, rtfx, ...) -> value
    languages: Dict[str, Dict[str, SpeedFigure]]


class Execution(TypedDict):
    """Code tasks: the sandbox the programs ran in (mmx/execution/sandbox.py) and the pass rule."""
    __pydantic_config__ = OPEN  # type: ignore[misc]
    isolation: Optional[Dict[str, Any]]
    harness: str


class TaskResult(TypedDict):
    """One task: what ran, then the aggregates (mmx/report/aggregate.py), then the task kind's extras."""
    __pydantic_config__ = OPEN  # type: ignore[misc]
    kind: str
    yaml: str
    description: str
    metrics: List[str]
    primary_metric: str
    dataset: Dataset
    samples_file: str
    n_records: int
    seconds_this_session: float
    languages: Dict[str, LanguageResult]
    overall: Overall
    gap_to_en: Dict[str, MetricMap]  # empty when English was not run
    gap_to_en_ci: Optional[Dict[str, Dict[str, CI]]]
    gap_to_en_pairing: Optional[Dict[str, Dict[str, Pairing]]]
    groups: Optional[Dict[str, Dict[str, Group]]]  # grouping (script, family, resource_level, provenance) -> group
    spread: Optional[Dict[str, Optional[Spread]]]
    metric_defs: Dict[str, MetricDef]
    bootstrap: Optional[Bootstrap]
    provenance: NotRequired[Provenance]  # only for data the catalogue describes (schema version 3)
    consistency: NotRequired[Dict[str, Consistency]]  # metric -> per pair of languages, on parallel data
    answer_grid: NotRequired[Dict[str, Dict[str, GridCell]]]  # question language -> answer entry -> cell
    bitext_grid: NotRequired[BitextGrid]  # the bitext kind: query language x content language top-1
    speed: NotRequired[Speed]  # absent when no model call was timed (everything came from the cache)
    # result_extras of the built-in task kinds; a plugin's kind may add its own keys
    execution: NotRequired[Execution]
    normalizer: NotRequired[Dict[str, str]]
    target_language: NotRequired[str]
    bleu_signature: NotRequired[str]


class Upgrade(TypedDict):
    """Present only in a file read from an older version: what the upgrade filled in and what it could not."""
    __pydantic_config__ = CLOSED  # type: ignore[misc]
    from_version: int
    derived: List[str]  # dotted paths filled from the old file or the metric registry
    absent: List[str]  # dotted paths the old file did not record: null here


class TokenizerLanguage(TypedDict):
    """One language of the tokenizer section (mmx/metrics/tokenizers.py parity)."""
    __pydantic_config__ = CLOSED  # type: ignore[misc]
    n_items: int
    n_texts: int
    chars: int
    words: Optional[int]  # null: a language written without spaces (per character only)
    tokens: int
    tokens_per_char: Num
    tokens_per_word: Num
    premium: Num  # tokens / English tokens on the parallel items both have
    premium_ci: CI
    truncated: Num  # share of texts over the model's context limit; null: no limit known
    truncated_ci: CI
    n_truncated: Optional[int]


class TokenizerSection(TypedDict):
    """results.json's ``tokenizer``: the model's tokenizer on parallel text, per language."""
    __pydantic_config__ = CLOSED  # type: ignore[misc]
    tokenizer: str
    text: str  # probe | xtd10 | humaneval-xl | file
    source: str
    reference: str
    limit: Optional[int]
    n_special: int
    notes: List[str]
    languages: Dict[str, TokenizerLanguage]


class Results(TypedDict):
    """results.json."""
    __pydantic_config__ = CLOSED  # type: ignore[misc]
    schema_version: Literal[SCHEMA_VERSION]  # type: ignore[valid-type]
    run: RunInfo
    model: ModelInfo
    tasks: Dict[str, TaskResult]
    tokenizer: NotRequired[TokenizerSection]  # the model's tokenizer on the probe captions (models with one)
    upgrade: NotRequired[Upgrade]


class RunFile(TypedDict):
    """run.json."""
    __pydantic_config__ = CLOSED  # type: ignore[misc]
    schema_version: Literal[SCHEMA_VERSION]  # type: ignore[valid-type]
    identity: Dict[str, Any]
    run: RunStart


class SampleRecord(TypedDict):
    """One line of samples/<task>.jsonl (mmx.schema.Record)."""
    __pydantic_config__ = CLOSED  # type: ignore[misc]
    id: str
    language: str
    prediction: Any
    reference: Any
    scores: Dict[str, Num]  # per-sample score or statistic; null: NaN
    extra: Dict[str, Any]


TYPES = {"results": Results, "samples": SampleRecord, "run": RunFile, "speed": Speed}  # speed: one task's section


@lru_cache(maxsize=None)
def _adapter(name: str):
    from pydantic import TypeAdapter  # imported on use: `mmx --help` and `mmx tasks` stay fast

    return TypeAdapter(TYPES[name])


def json_schema(name: str = "results") -> dict:
    """The JSON Schema (draft 2020-12) the types generate: what mmx/<name>_schema.json publishes."""
    schema = _adapter(name).json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": SCHEMA_ID.format(name=name, version=SCHEMA_VERSION), **schema}


def published_schema(name: str) -> str:
    """The text of the schema file shipped in the package."""
    if name not in SCHEMA_FILES:
        raise MmxError(f"no schema {name!r}: use {' or '.join(SCHEMA_FILES)}")
    return SCHEMA_FILES[name].read_text(encoding="utf-8")


def errors(obj_or_text: Any, name: str = "results") -> list[str]:
    """What is wrong with a document (an object or its JSON text) against the types: 'path: message' lines."""
    from pydantic import ValidationError

    text = obj_or_text if isinstance(obj_or_text, (str, bytes)) else dumps(obj_or_text)
    try:
        _adapter(name).validate_json(text, strict=True)
    except ValidationError as e:
        return [f"{'.'.join(map(str, err['loc'])) or '(top)'}: {err['msg']}" for err in e.errors()]
    return []


def check(obj: Any, name: str, where: str) -> Any:
    """obj, if it is a valid ``name`` document; else MmxError naming each bad field. The runner calls this
    before it writes, so a missing or renamed field fails where it is made, not in a report."""
    bad = errors(obj, name)
    if bad:
        listing = "; ".join(bad[:8]) + (f"; ... ({len(bad)} in all)" if len(bad) > 8 else "")
        raise MmxError(f"{where}: the {name} document does not match its schema version {SCHEMA_VERSION} "
                       f"({listing}). This is a bug in mmx or in a task kind's result_extras; the samples "
                       "written so far are kept")
    return obj


# --- upgrades ---------------------------------------------------------------------------------------

AGGREGATE_SECTIONS = ("gap_to_en_ci", "gap_to_en_pairing", "groups", "spread", "bootstrap")


def upgrade_1_to_2(doc: dict) -> dict:
    """A version-1 results.json in the version-2 layout (see the module docstring)."""
    from mmx.metrics import defs

    doc = copy.deepcopy(doc)
    derived: list[str] = []
    absent: list[str] = []
    run = doc.get("run")
    if isinstance(run, dict):
        for key in ("allow_unsafe_execution", "data_args"):
            if key not in run:
                run[key] = None
                absent.append(f"run.{key}")
    tasks = doc.get("tasks")
    for name, t in (tasks.items() if isinstance(tasks, dict) else ()):
        if not isinstance(t, dict):
            continue
        at = f"tasks.{name}"
        langs = t.get("languages") if isinstance(t.get("languages"), dict) else {}
        has_ci = bool(langs) and all(isinstance(d, dict) and d.get("ci") is not None for d in langs.values())
        old_defs = t.get("metric_defs") if isinstance(t.get("metric_defs"), dict) else {}
        new_defs = {}
        for m in t.get("metrics") or list(old_defs):
            d = dict(old_defs.get(m) or {})
            filled = []
            if "stats" not in d or "reducer" not in d:
                if d.get("type") == "ratio" and "num" in d and "den" in d:
                    spec = defs.Spec((d["num"], d["den"]), "ratio")
                elif d.get("type") == "mean":
                    spec = defs.Spec((m,), "mean")
                else:  # no definition written: the registry's, as the old readers fell back to
                    spec = defs.spec_of(m)
                d.setdefault("stats", list(spec.stats))
                d.setdefault("reducer", spec.reducer)
                filled += ["stats", "reducer"]
            if "type" not in d:
                d["type"] = d["reducer"]
                if d["reducer"] == "ratio":
                    d["num"], d["den"] = d["stats"][:2]
                filled.append("type")
            if "higher_is_better" not in d:
                d["higher_is_better"] = defs.higher_is_better(m)
                filled.append("higher_is_better")
            for key, value in defs.display(m).items():
                if key not in d:
                    d[key] = value
                    filled.append(key)
            if "ci" not in d:
                # Version 1 files without metric_defs[m]["ci"] predate Wilson intervals: every per-language
                # CI they hold is the percentile bootstrap.
                if has_ci:
                    d["ci"] = "bootstrap-percentile"
                    filled.append("ci")
                else:
                    d["ci"] = None
                    absent.append(f"{at}.metric_defs.{m}.ci")
            derived += [f"{at}.metric_defs.{m}.{k}" for k in filled]
            new_defs[m] = d
        t["metric_defs"] = new_defs
        for code, d in langs.items():
            if isinstance(d, dict) and "ci" not in d:
                d["ci"] = None
                absent.append(f"{at}.languages.{code}.ci")
        if isinstance(t.get("overall"), dict) and "macro_ci" not in t["overall"]:
            t["overall"]["macro_ci"] = None
            absent.append(f"{at}.overall.macro_ci")
        for key in AGGREGATE_SECTIONS:
            if key not in t:
                t[key] = None
                absent.append(f"{at}.{key}")
    doc["schema_version"] = 2
    doc["upgrade"] = {"from_version": 1, "derived": derived, "absent": absent}
    return doc


def upgrade_2_to_3(doc: dict) -> dict:
    """Version 3 only adds the optional ``provenance`` section: a version-2 file has none to fill."""
    doc = copy.deepcopy(doc)
    doc["schema_version"] = 3
    doc.setdefault("upgrade", {"from_version": 2, "derived": [], "absent": []})
    return doc


UPGRADES = {1: upgrade_1_to_2, 2: upgrade_2_to_3}  # version -> the function that takes a document of it one version up


def upgrade(doc: dict, where: str = "results.json") -> dict:
    """A results document of any version this mmx knows, in the current layout (the same object if current)."""
    version = doc.get("schema_version") if isinstance(doc, dict) else None
    if not isinstance(version, int) or isinstance(version, bool) or version < min(UPGRADES, default=1):
        raise MmxError(f"{where}: schema_version {version!r} is not one mmx wrote; this mmx reads versions "
                       f"{min(UPGRADES)} to {SCHEMA_VERSION}. Is it an mmx results.json?")
    if version > SCHEMA_VERSION:
        raise MmxError(f"{where}: schema_version {version} was written by a newer mmx; this mmx reads versions "
                       f"{min(UPGRADES)} to {SCHEMA_VERSION}. Upgrade mmx (pip install -U mmx) to read it")
    first = version
    while version < SCHEMA_VERSION:
        doc = UPGRADES[version](doc)
        version = doc["schema_version"]
    if first != SCHEMA_VERSION:
        doc["upgrade"]["from_version"] = first
    return doc


def write_schema_files() -> None:
    """Regenerate the published schema files from the types (after changing a type:
    ``python -c "from mmx.results import write_schema_files; write_schema_files()"``)."""
    for name, path in SCHEMA_FILES.items():
        path.write_text(json.dumps(json_schema(name), indent=1, sort_keys=True) + "\n", encoding="utf-8")
