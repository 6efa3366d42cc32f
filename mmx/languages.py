"""The one language table of mmx: codes, names, scripts, families and resource levels.

The data lives in ``languages.tsv`` next to this file (its header comment explains every column and
where the resource levels come from). ``get_language`` accepts, case-insensitively and with ``_``
treated like ``-``:

* any code or name listed for a language: ISO 639-1 ("de"), ISO 639-3 ("deu"), ISO 639-2/B ("ger"),
  English names ("German"), FLEURS codes ("cmn_hans_cn"), Babel-ImageNet/Wikipedia codes ("BAT_SMG",
  "SIMPLE"), XTD10's "jp";
* otherwise a BCP-47-like tag whose first subtag is a known code and whose other subtags are
  well-formed script/region/variant subtags ("pt-BR", "de-AT", "en_us", "sr-Latn", "zh-Hant-TW").

A script subtag that differs from the table's script ("zh-Hant", "sr-Latn") returns the same language
(same ``code``) with ``script`` set to that subtag; nothing else about the tag is kept.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from mmx.errors import MmxError

TABLE = Path(__file__).with_name("languages.tsv")
# script (4 letters), region (2 letters or 3 digits), variant (5-8 alphanumerics, or digit + 3)
_SUBTAG = re.compile(r"^(?:[a-z]{4}|[a-z]{2}|\d{3}|[a-z0-9]{5,8}|\d[a-z0-9]{3})$")


@dataclass(frozen=True)
class Language:
    code: str  # canonical tag used in reports: ISO 639-1 if there is one, else ISO 639-3
    iso639_3: str
    iso639_1: str | None
    name: str  # English name
    script: str  # ISO 15924
    family: str
    subfamily: str  # "" when none
    resource_level: int  # Joshi et al. (2020) class, 0..5
    uses_spaces: bool  # False for scripts written without spaces between words (zh, ja, th, ...)


class UnknownLanguageError(MmxError):
    """A language code or name that is not in mmx/languages.tsv."""


def _key(text: str) -> str:
    return text.strip().lower().replace("_", "-")


def read_table(path: Path = TABLE) -> list[tuple[Language, list[str]]]:
    """Parse the TSV into (language, aliases) rows, in file order."""
    with open(path, encoding="utf-8", newline="") as f:
        lines = [line for line in f if line.strip() and not line.startswith("#")]
    rows = []
    for rec in csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE):
        lang = Language(
            code=rec["code"],
            iso639_3=rec["iso639_3"],
            iso639_1=rec["iso639_1"] or None,
            name=rec["name"],
            script=rec["script"],
            family=rec["family"],
            subfamily=rec["subfamily"],
            resource_level=int(rec["resource_level"]),
            uses_spaces={"yes": True, "no": False}[rec["uses_spaces"]],
        )
        rows.append((lang, [a.strip() for a in rec["aliases"].split(",") if a.strip()]))
    return rows


@lru_cache(maxsize=None)
def _index() -> tuple[tuple[Language, ...], dict[str, Language], frozenset[str]]:
    """All languages, the lookup table (normalised key -> language) and the known scripts.

    Codes are indexed first and win over English names ("mon" is Mongolian, not the Mon language);
    any other clash is an error in the TSV.
    """
    rows = read_table()
    lookup: dict[str, Language] = {}

    def add(text: str, lang: Language, skip_if_code: bool = False) -> None:
        key = _key(text)
        other = lookup.get(key)
        if other is not None and other.code != lang.code:
            if skip_if_code:
                return
            raise ValueError(f"{TABLE.name}: {text!r} names both {other.code!r} and {lang.code!r}")
        lookup[key] = lang

    for lang, _ in rows:
        for code in (lang.code, lang.iso639_3, lang.iso639_1):
            if code:
                add(code, lang)
    for lang, aliases in rows:
        add(lang.name, lang, skip_if_code=True)
        for alias in aliases:
            add(alias, lang)
    scripts = frozenset(lang.script for lang, _ in rows) | {"Hans", "Hant", "Latn", "Cyrl", "Arab"}
    return tuple(lang for lang, _ in rows), lookup, scripts


def all_languages() -> list[Language]:
    return list(_index()[0])


def get_language(code: str) -> Language:
    """Resolve a code, tag or English name (see the module docstring) or raise UnknownLanguageError."""
    _, lookup, scripts = _index()
    key = _key(str(code))
    parts = key.split("-")
    lang = lookup.get(key)
    if lang is None and len(parts) > 1 and all(_SUBTAG.match(p) for p in parts[1:]):
        lang = lookup.get(parts[0])
    if lang is None:
        raise UnknownLanguageError(_unknown_message(code, lookup))
    script = next((p.title() for p in parts[1:] if len(p) == 4 and p.title() in scripts), None)
    if script and script != lang.script:
        lang = dataclasses.replace(lang, script=script)
    return lang


def normalize_code(code: str, where: object = None) -> str:
    """The canonical code; ``where`` (a file, a field) is named in the error when the code is unknown."""
    try:
        return get_language(code).code
    except UnknownLanguageError as e:
        if where is None:
            raise
        raise UnknownLanguageError(f"{where}: {e}") from e


def canonical_codes(codes, source: object, what: str = "languages") -> dict[str, str]:
    """canonical code -> the data's own code, refusing two codes of one language ("jp" and "ja")."""
    canon: dict[str, str] = {}
    for code in codes:
        c = normalize_code(code, source)
        if c in canon:
            raise MmxError(f"{source}: {what} {canon[c]!r} and {code!r} are the same language ({c})")
        canon[c] = code
    return canon


def pick_languages(have, languages, name: str, source: object, what: str = "data for") -> list[str]:
    """The requested languages (any code form) as canonical codes, or all of ``have`` when none were asked
    for; a requested language the data lacks is an error naming the task, the source and what it has."""
    have = list(have)
    if languages is None:
        return have
    want = [normalize_code(x) for x in languages]
    missing = [x for x in want if x not in have]
    if missing:
        listing = ", ".join(sorted(have)[:20]) + (f", ... ({len(have)} in all)" if len(have) > 20 else "")
        raise MmxError(f"{name}: no {what} language(s) {', '.join(missing)} in {source}; "
                       f"it has {listing or 'none'}")
    return want


def _unknown_message(code: str, lookup: dict[str, Language]) -> str:
    key = _key(str(code))
    close = difflib.get_close_matches(key, lookup, n=12, cutoff=0.6)
    close = close or difflib.get_close_matches(key, lookup, n=12, cutoff=0.0)
    seen: dict[str, str] = {}
    for match in close:  # one suggestion per language, best first
        seen.setdefault(lookup[match].code, f"{match!r} ({lookup[match].name})")
    hint = ", ".join(list(seen.values())[:3])
    return f"unknown language code {code!r}: did you mean {hint}? See `mmx languages` for the table."
