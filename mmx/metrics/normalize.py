"""Text normalisers applied to reference and hypothesis before WER/CER, as Whisper's evaluation does
(Radford et al. 2022, appendix C; openai/whisper ``whisper/normalizers``), so English WER is comparable
with published numbers.

english (English only): Whisper's own ``EnglishTextNormalizer``, not a rewrite. The class is the copy that
transformers ships (``transformers.models.whisper.english_normalizer``, the same code as openai-whisper's
up to formatting); its British->American spelling table (``english.json``, 1,739 words) is a hub file, not in
the transformers wheel, so it is read from the ``whisper-normalizer`` wheel, which ships openai-whisper's
``whisper/normalizers/english.json`` byte for byte. (That package's own ``EnglishTextNormalizer`` is not a
faithful copy: it adds rules for "kinda", "sorta", "dunno" and "cause", so it is not used.) It drops
fillers (uh, um, hmm, ...) and bracketed text, expands contractions and titles, turns spelled-out numbers,
ordinals, currencies and decimals into digits ("a hundred and one" -> "101", "two point five" -> "2.5",
"twenty dollars" -> "$20"), strips diacritics and maps British spellings to American ones.

basic (every other language): Whisper's ``BasicTextNormalizer`` rules, written here with two changes that
caseless and non-Latin scripts need, so not transformers' class itself:
  NFKC; drop text in [brackets], <angle brackets> and (parentheses); punctuation and symbols (Unicode
  categories P*, S*) become spaces; lower-case; collapse whitespace.
  - Whisper also turns combining marks (M*) into spaces. That splits the words of abugidas (Devanagari
    vowel signs, Thai tone marks, ...) into fragments ("हरा" -> "ह र"), so WER there would count fragments;
    mmx keeps marks.
  - Lower-casing is language-aware: Turkish/Azerbaijani dotted and dotless i (``İ``->``i``, ``I``->``ı``);
    Greek final sigma is folded to ``σ``, since lower-casing ``ΟΔΟΣ`` gives ``οδοσ``, not ``οδος``.
  Everywhere else (no combining marks, not tr/az/el) the result equals transformers' BasicTextNormalizer
  up to outer spaces; tests/test_speech_normalize.py checks that on a broad table.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from mmx.errors import MmxError

_BRACKETS = re.compile(r"[<\[][^>\]]*[>\]]")
_PARENS = re.compile(r"\(([^)]+?)\)")
_SPACES = re.compile(r"\s+")
SPELLING_TABLE = ("whisper-normalizer", "whisper_normalizer", "normalizers/english.json")  # pip name, module, file


def lower(text: str, language: str | None = None) -> str:
    base = (language or "").split("-")[0].split("_")[0].lower()
    if base in ("tr", "az", "tur", "aze"):
        text = text.replace("I", "ı").replace("İ", "i")
    text = text.lower()
    if base in ("el", "ell", "gre"):
        text = text.replace("ς", "σ")
    return text


def remove_symbols(text: str, keep: str = "") -> str:
    """Punctuation and symbols to spaces (combining marks are kept: see the module docstring)."""
    return "".join(" " if unicodedata.category(c)[0] in "PS" and c not in keep else c for c in text)


def basic_normalize(text: str, language: str | None = None) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = _PARENS.sub("", _BRACKETS.sub("", text))
    text = lower(remove_symbols(text), language)
    return _SPACES.sub(" ", text).strip()


@lru_cache(maxsize=1)
def spelling_table() -> dict[str, str]:
    """Whisper's British->American spelling table (openai-whisper's english.json, via whisper-normalizer)."""
    import json
    from importlib.resources import files

    pip_name, module, path = SPELLING_TABLE
    try:
        return json.loads(files(module).joinpath(path).read_text(encoding="utf-8"))
    except (ModuleNotFoundError, FileNotFoundError) as e:
        raise MmxError(f"English WER needs Whisper's spelling table from the {pip_name} package ({e}); "
                       f"install it with `pip install --no-deps {pip_name}` (mmx pins it in requirements-ci.txt)"
                       ) from e


@lru_cache(maxsize=1)
def _english():
    from transformers.models.whisper.english_normalizer import EnglishTextNormalizer

    return EnglishTextNormalizer(spelling_table())


def english_normalize(text: str) -> str:
    """Whisper's English normaliser (see the module docstring), outer spaces stripped."""
    return _SPACES.sub(" ", _english()(text)).strip()


def normalize(text: str, language: str) -> str:
    """The normaliser mmx scores with: Whisper's English one for English, basic rules for every other language."""
    from mmx.languages import UnknownLanguageError, get_language

    try:
        code = get_language(language).code
    except UnknownLanguageError:
        code = language
    return english_normalize(text) if code == "en" else basic_normalize(text, code)


def normalizer_info() -> dict[str, str]:
    """What results.json records about the normalisers (the ASR and TTS task kinds' ``result_extras``)."""
    from importlib.metadata import PackageNotFoundError, version

    def ver(pkg: str) -> str:
        try:
            return version(pkg)
        except PackageNotFoundError:
            return "not installed"

    return {"en": f"whisper-english (transformers {ver('transformers')} EnglishTextNormalizer + english.json "
                  f"from {SPELLING_TABLE[0]} {ver(SPELLING_TABLE[0])})",
            "other": "whisper-basic (mmx: Whisper's BasicTextNormalizer rules, combining marks kept, "
                     "language-aware lower-casing)"}
