"""Code benchmarks: HumanEval-XL, MultiPL-E (generation) and CRUXEval-X (reasoning), from the Hub or files.

HumanEval-XL (FloatAI): ``data/<programming language>/<Natural language>.jsonl`` in the GitHub repository
(github.com/FloatAI/humaneval-xl) and, by the dataset card, in the Hub repository FloatAI/humaneval-xl, whose
loading script (one config per programming language, one split per natural language) ``datasets`` 5 no
longer runs; mmx reads the same JSONL files through the packaged json builder (``data_files``), from the
Hub or a local copy (``source``), or the GitHub checkout's ``data/`` folder (``root``, the old layout).
Fields task_id, prompt, entry_point, test, canonical_solution (Python only; NaN elsewhere), language,
natural_language. The natural language (file stem, e.g. "Tagalog") becomes mmx's canonical code ("tl").
MultiPL-E (nuprl/MultiPL-E): one config per SRCDATA-LANG ("humaneval-py"), split test; fields name,
language (py, js, java...), prompt, doctests, original, prompt_terminology, tests, stop_tokens; English
prompts, so its natural language is "en" unless told otherwise. Also a local JSONL file (``path``).
CRUXEval-X (xhwl/cruxeval-x, arXiv 2408.13001): one split per programming language (Python, JavaScript,
...), columns id, code (function + its MultiPL-E-style test), input_reasoning and output_reasoning (that
test with ``????`` in place of the input or the output). English only; one task per programming language.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from mmx.data import hub
from mmx.data.catalog import hub_id_and_revision
from mmx.errors import MmxError
from mmx.execution.executors import get_executor
from mmx.languages import get_language, normalize_code, pick_languages
from mmx.registry import register_loader


@dataclass
class CodeProblem:
    id: str  # task id, unique within (natural language)
    language: str  # natural language, canonical code
    programming_language: str  # executor name
    prompt: str
    test: str
    entry_point: str = ""
    canonical_solution: str | None = None
    stop: list[str] = field(default_factory=list)  # dataset's own stop sequences (MultiPL-E)
    style: str = "humaneval-xl"  # how the program is assembled (see Executor.program)


@dataclass
class CodeData:
    name: str
    programming_language: str
    problems: dict[str, list]  # natural language -> problems (CodeProblem, or ReasoningProblem for CRUXEval-X)
    fingerprint: str = ""
    source: str = ""

    @property
    def languages(self) -> list[str]:
        return list(self.problems)


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise MmxError(f"{path}:{i}: not valid JSON ({e})") from e
    return rows


def _need(row: dict, key: str, path: Path, i: int):
    if not isinstance(row.get(key), str):
        raise MmxError(f"{path}: line {i} ({row.get('task_id') or row.get('name') or '?'}) has no text field "
                       f"{key!r}; is this a HumanEval-XL/MultiPL-E file?")
    return row[key]


def _fingerprint(files: list[Path], extra) -> str:
    h = hashlib.sha256(json.dumps(extra, sort_keys=True).encode())
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _rows_fingerprint(revision: str, rows: list[dict], extra) -> str:
    """What the data is for a Hub read: the resolved revision, the rows read and the selection made."""
    h = hashlib.sha256(json.dumps([revision, extra], sort_keys=True).encode())
    for r in rows:
        h.update(json.dumps(r, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def _text(row: dict, key: str, where: str, i: int) -> str:
    if not isinstance(row.get(key), str):
        raise MmxError(f"{where}, row {i} ({row.get('task_id') or row.get('name') or row.get('id') or '?'}): "
                       f"{key!r} is {type(row.get(key)).__name__}, not text; is this the right dataset?")
    return row[key]


# The 23 natural languages of HumanEval-XL, as the file stems (and the Hub script's split names) spell them.
HUMANEVAL_XL_NATURAL = ["English", "Russian", "Chinese", "German", "Spanish", "French", "Italian", "Portuguese",
                        "Greek", "Hungarian", "Dutch", "Finnish", "Indonesian", "Turkish", "Arabic", "Vietnamese",
                        "Bulgarian", "Persian", "Malay", "Hebrew", "Estonian", "Tagalog", "Afrikaans"]
HUMANEVAL_XL_COLUMNS = ("task_id", "prompt", "test", "entry_point")


def _humaneval_xl_problem(r: dict, code: str, pl: str, where: str, i: int) -> CodeProblem:
    canon = r.get("canonical_solution")
    if isinstance(canon, float) and math.isnan(canon):
        canon = None  # the non-Python files store NaN: no canonical solution
    return CodeProblem(id=_text(r, "task_id", where, i), language=code, programming_language=pl,
                       prompt=_text(r, "prompt", where, i), test=_text(r, "test", where, i),
                       entry_point=str(r.get("entry_point") or ""), canonical_solution=canon)


HUMANEVAL_XL_RAW = "https://raw.githubusercontent.com/FloatAI/humaneval-xl/main/data/"


@register_loader("humaneval_xl")
def load_humaneval_xl(root: Path | None = None, programming_language: str | None = None, name: str = "humaneval_xl",
                      languages=None, limit=None, source: str | None = None) -> CodeData:
    """``root``: the GitHub checkout's data/ folder (python/, java/, ...); else ``source``: the Hub id or a
    local copy of the Hub repository (data/<pl>/<Natural>.jsonl), default the catalogue's.
    ``languages``: natural-language codes or names (None: all 23)."""
    if not programming_language:
        raise MmxError(f"{name}: dataset needs 'programming_language' (python, java, ...)")
    ex = get_executor(programming_language)
    if root is not None:
        return _humaneval_xl_folder(Path(root), ex.name, name, languages, limit)
    src, revision = hub_id_and_revision("humaneval_xl", source)
    folder = Path(str(src)).expanduser() / "data" / ex.name
    if hub.is_local(src):
        stems = sorted(f.stem for f in folder.glob("*.jsonl"))
        if not stems:
            raise MmxError(f"{name}: no HumanEval-XL files in {folder}; a local source holds the Hub repository's "
                           "files (data/<programming language>/<Natural language>.jsonl)")
    else:
        stems = HUMANEVAL_XL_NATURAL
    by_code = {get_language(s).code: s for s in stems}
    want = pick_languages(by_code, languages, name, f"{src} data/{ex.name}", f"{ex.name} file for")
    problems, seen = {}, []
    for code in want:
        nl = by_code[code]
        where = f"{src} data/{ex.name}/{nl}.jsonl"
        try:
            ds = hub.load(src, benchmark="humaneval_xl", split=nl, revision=revision, streaming=limit is not None,
                          data_files={nl: f"data/{ex.name}/{nl}.jsonl"})
        except MmxError as e:
            if hub.is_local(src):
                raise
            # The Hub repository is a loading script (which datasets 5 does not run) whose data files could not
            # be confirmed; the same files from the GitHub repository, through the same json builder.
            url = f"{HUMANEVAL_XL_RAW}{ex.name}/{nl}.jsonl"
            try:
                from mmx.cache import default_cache_dir

                local = hub.fetch_url(url, default_cache_dir() / "humaneval-xl-origin" / ex.name / f"{nl}.jsonl",
                                      benchmark="humaneval_xl")
                ds = hub.load("json", benchmark="humaneval_xl", split=nl, streaming=limit is not None,
                              data_files={nl: str(local)})
            except MmxError as e2:
                raise MmxError(f"{e}; and from GitHub: {e2}. Download github.com/FloatAI/humaneval-xl and pass "
                               "--data-args root=DIR/data") from e2
            where = url
        rows = [r for _, r in hub.rows(ds, benchmark="humaneval_xl", where=where, columns=HUMANEVAL_XL_COLUMNS,
                                       limit=limit)]
        problems[code] = [_humaneval_xl_problem(r, code, ex.name, where, i) for i, r in enumerate(rows)]
        seen += rows
    fp = _rows_fingerprint(hub.resolved_revision(src, revision), seen, [ex.name, want, limit])
    return CodeData(name, ex.name, problems, fp, f"{src}/data/{ex.name}")


def _humaneval_xl_folder(root: Path, pl: str, name: str, languages, limit) -> CodeData:
    """The GitHub layout: ROOT/<pl>/<Natural>.jsonl."""
    folder = root / pl
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise MmxError(f"{name}: no HumanEval-XL files in {folder}; point dataset.root (or --data-args root=DIR) "
                       "at the folder holding python/, java/, ... (github.com/FloatAI/humaneval-xl, data/), "
                       "or leave root out to read the Hub (--data-args source=HUB_ID_OR_FOLDER)")
    by_code: dict[str, Path] = {}
    for f in files:
        try:
            by_code[get_language(f.stem).code] = f
        except MmxError as e:
            raise MmxError(f"{f}: file name is not a natural language mmx knows ({e})") from e
    want = pick_languages(by_code, languages, name, folder, f"{pl} file for")
    problems = {}
    for code in want:
        path = by_code[code]
        rows = _read_jsonl(path)[:limit]
        for i, r in enumerate(rows, 1):
            for key in ("task_id", "prompt", "test"):
                _need(r, key, path, i)
        problems[code] = [_humaneval_xl_problem(r, code, pl, f"{path}", i) for i, r in enumerate(rows, 1)]
    used = [by_code[c] for c in want]
    return CodeData(name, pl, problems, _fingerprint(used, [want, limit]), str(folder))


MULTIPL_E_COLUMNS = ("name", "language", "prompt", "tests", "stop_tokens")


def _multipl_e_problem(r: dict, nl: str, pl: str | None, where: str, i: int) -> tuple[CodeProblem, str]:
    ex = get_executor(_text(r, "language", where, i))
    if pl is not None and ex.name != get_executor(pl).name:
        raise MmxError(f"{where}: row {i} is {ex.name}, expected {pl} (one programming language per task)")
    stops = r.get("stop_tokens") or []
    return CodeProblem(id=_text(r, "name", where, i), language=nl, programming_language=ex.name,
                       prompt=_text(r, "prompt", where, i), test=_text(r, "tests", where, i),
                       stop=list(stops), style="multipl-e"), ex.name


@register_loader("multipl_e")
def load_multipl_e(path: Path | None = None, name: str = "multipl_e", languages=None, limit=None,
                   natural_language: str = "en", programming_language: str | None = None,
                   source: str | None = None, config: str | None = None, split: str = "test") -> CodeData:
    """``path``: a MultiPL-E JSONL file (or a folder of them); else ``source``: the Hub id (default the
    catalogue's, nuprl/MultiPL-E) or a local copy of it, read at ``config`` (e.g. humaneval-py) and ``split``."""
    nl = get_language(natural_language).code
    if languages is not None and [normalize_code(x) for x in languages] != [nl]:
        raise MmxError(f"{name}: {path or source or 'MultiPL-E'} holds {nl} prompts only; asked for "
                       f"{', '.join(languages)}")
    if path is None:
        return _multipl_e_hub(source, config, split, name, nl, programming_language, limit)
    path = Path(path)
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        raise MmxError(f"{name}: MultiPL-E data not found at {path}; pass --data-args path=FILE.jsonl")
    out, pl = [], programming_language
    for f in files:
        for i, r in enumerate(_read_jsonl(f), 1):
            for key in ("name", "language", "prompt", "tests"):
                _need(r, key, f, i)
            p, pl = _multipl_e_problem(r, nl, pl, f"{f}", i)
            out.append(p)
    out = out[:limit]
    return CodeData(name, pl or "", {nl: out}, _fingerprint(files, [nl, limit]), str(path))


def _multipl_e_hub(source, config, split, name, nl, pl, limit) -> CodeData:
    if not config:
        raise MmxError(f"{name}: reading MultiPL-E from the Hub needs its config, SRCDATA-LANG "
                       "(e.g. --data-args config=humaneval-py)")
    src, revision = hub_id_and_revision("multipl_e", source)
    ds = hub.load(src, benchmark="multipl_e", config=config, split=split, revision=revision,
                  streaming=limit is not None)
    where = f"{src}, config {config}, split {split}"
    rows = [r for _, r in hub.rows(ds, benchmark="multipl_e", where=where, columns=MULTIPL_E_COLUMNS, limit=limit)]
    out = []
    for i, r in enumerate(rows):
        p, pl = _multipl_e_problem(r, nl, pl, where, i)
        out.append(p)
    fp = _rows_fingerprint(hub.resolved_revision(src, revision), rows, [config, split, nl, limit])
    return CodeData(name, pl or "", {nl: out}, fp, where)


# ------------------------------------------------------------------------------------------ CRUXEval-X
HOLE = "????"  # where the model's answer goes in input_reasoning / output_reasoning
CRUXEVAL_X_COLUMNS = ("id", "code", "input_reasoning", "output_reasoning")
# mmx executor -> the dataset's split (the other splits, C++, D, Julia, Lua, R, Racket, Rust, Shell, have no
# mmx executor yet)
CRUXEVAL_X_SPLITS = {"python": "Python", "javascript": "JavaScript", "typescript": "TypeScript", "java": "Java",
                     "go": "Go", "csharp": "CS", "perl": "Perl", "php": "PHP", "ruby": "Ruby", "scala": "Scala",
                     "swift": "Swift"}


@dataclass
class ReasoningProblem:
    """One CRUXEval-X problem: a function, the call on its input and the value it returns."""

    id: str
    language: str  # natural language of the instructions ("en")
    programming_language: str  # executor name
    code: str  # the function (the row's code before its test)
    output_test: str  # the test with ???? where the output goes
    input_test: str  # the test with ???? where the input goes
    output: str  # the expected output as the test writes it
    input: str  # the input as the test writes it


def split_hole(code: str, template: str, where: str) -> tuple[str, str]:
    """(function, answer) of a row: ``code`` is function + test; ``template`` is the test with ???? in place
    of the answer. The function is what precedes the test; the answer is what the test has at the hole."""
    if template.count(HOLE) != 1:
        raise MmxError(f"{where}: the reasoning template should hold one {HOLE}, it has {template.count(HOLE)}")
    before, after = template.split(HOLE)
    body = code.rstrip()
    after = after.rstrip()
    if not body.endswith(after):
        raise MmxError(f"{where}: the code does not end with the test of its reasoning template")
    at = body.rfind(before, 0, len(body) - len(after))
    if at < 0:
        raise MmxError(f"{where}: the code does not hold the test of its reasoning template")
    return code[:at], body[at + len(before):len(body) - len(after)]


@register_loader("cruxeval_x")
def load_cruxeval_x(programming_language: str, name: str = "cruxeval_x", languages=None, limit=None,
                    source: str | None = None, split: str | None = None) -> CodeData:
    """``source``: the Hub id (default the catalogue's, xhwl/cruxeval-x) or a local copy of the repository;
    ``split``: the dataset's split (default the programming language's: Python, JavaScript, ...)."""
    ex = get_executor(programming_language)
    split = split or CRUXEVAL_X_SPLITS.get(ex.name)
    if not split:
        raise MmxError(f"{name}: CRUXEval-X has no {ex.name} split; it has "
                       f"{', '.join(sorted(CRUXEVAL_X_SPLITS))} (that mmx can run)")
    pick_languages(["en"], languages, name, "CRUXEval-X (English instructions only)")
    src, revision = hub_id_and_revision("cruxeval_x", source)
    ds = hub.load(src, benchmark="cruxeval_x", split=split, revision=revision, streaming=limit is not None)
    where = f"{src}, split {split}"
    rows = [r for _, r in hub.rows(ds, benchmark="cruxeval_x", where=where, columns=CRUXEVAL_X_COLUMNS, limit=limit)]
    out = []
    for i, r in enumerate(rows):
        at = f"{where}, row {i} (id {r.get('id')})"
        code, out_t, in_t = (_text(r, k, where, i) for k in ("code", "output_reasoning", "input_reasoning"))
        func, output = split_hole(code, out_t, at + " output_reasoning")
        _, given = split_hole(code, in_t, at + " input_reasoning")
        out.append(ReasoningProblem(id=str(r["id"]), language="en", programming_language=ex.name, code=func,
                                    output_test=out_t, input_test=in_t, output=output, input=given))
    fp = _rows_fingerprint(hub.resolved_revision(src, revision), rows, [split, limit])
    return CodeData(name, ex.name, {"en": out}, fp, where)
