"""Output-language fidelity: the language and script of a generated text, against the expected ones.

Language: py3langid (a maintained fork of langid.py, Lui & Baldwin 2012; 97 languages, its naive-Bayes
model ships inside the wheel, numpy only), with probabilities normalised so a confidence can be read.
A larger identifier from a local file is used when MMX_LID_MODEL points at one: a fastText model such as
GlotLID (labels ``__label__deu_Latn``) or lid.176 (``__label__de``), read with the ``fasttext`` package.
Script: the Unicode script of the majority of the text's letters (ISO 15924), from unicodedata.

A text too short to identify (fewer than MIN_LETTERS letters: numbers, "yes", a name) gets no language
verdict, with the reason, instead of a guess; its script is still judged when it has letters. An expected
language the identifier does not know is judged by script only, and says so.

Per sample the scores are ``lang_fidelity`` (1 or 0, only when the language was identifiable) and
``script_fidelity`` (only when the text has letters): means over the samples that carry them, defined
once in mmx/metrics/defs.py, so they aggregate (a share of 0/1 samples gets a Wilson interval), get CIs and
gate in `mmx compare` like any other metric.
"""
from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from mmx.errors import MmxError

# Fewer letters than this get no language verdict: short strings are where character n-gram identifiers are
# least reliable. A character of a dense script (a CJK ideograph, a kana, a Hangul syllable) carries more.
MIN_LETTERS = 12
MIN_DENSE = 5
DENSE = {"Hani", "Hira", "Kana", "Hang"}
MIN_CONFIDENCE = 0.5  # below this the identifier's best guess is reported but not trusted

# Unicode script name (first word of a character's name) -> ISO 15924
_SCRIPTS = {
    "LATIN": "Latn", "CYRILLIC": "Cyrl", "GREEK": "Grek", "ARABIC": "Arab", "HEBREW": "Hebr",
    "DEVANAGARI": "Deva", "BENGALI": "Beng", "GURMUKHI": "Guru", "GUJARATI": "Gujr", "ORIYA": "Orya",
    "TAMIL": "Taml", "TELUGU": "Telu", "KANNADA": "Knda", "MALAYALAM": "Mlym", "SINHALA": "Sinh",
    "THAI": "Thai", "LAO": "Laoo", "TIBETAN": "Tibt", "MYANMAR": "Mymr", "GEORGIAN": "Geor",
    "ARMENIAN": "Armn", "ETHIOPIC": "Ethi", "KHMER": "Khmr", "HANGUL": "Hang", "HIRAGANA": "Hira",
    "KATAKANA": "Kana", "CJK": "Hani", "THAANA": "Thaa", "MONGOLIAN": "Mong", "SYRIAC": "Syrc",
    "TIFINAGH": "Tfng", "NKO": "Nkoo", "CHEROKEE": "Cher", "VAI": "Vaii", "JAVANESE": "Java", "BALINESE": "Bali",
}
# a table script -> the character scripts that write it (Japanese mixes kana and kanji; Korean may use hanja)
_WRITES = {"Jpan": {"Hira", "Kana", "Hani"}, "Kore": {"Hang", "Hani"}, "Hans": {"Hani"}, "Hant": {"Hani"},
           "Hani": {"Hani"}}
# mmx codes whose identifier label differs
_LABEL = {"fil": "tl", "nb": "no", "sr-Latn": "sr"}


@dataclass(frozen=True)
class Identified:
    language: str | None  # the identifier's label (ISO 639-1/3), None when not identifiable
    confidence: float
    script: str | None  # ISO 15924 of most letters, None without letters
    reason: str = ""  # why there is no language verdict


def script_of(text: str) -> tuple[str | None, int]:
    """(majority script of the letters, number of letters)."""
    counts: dict[str, int] = {}
    for ch in text:
        if ch.isalpha():
            name = unicodedata.name(ch, "")
            s = _SCRIPTS.get(name.split(" ", 1)[0]) if name else None
            if s:
                counts[s] = counts.get(s, 0) + 1
    if not counts:
        return None, 0
    return max(counts, key=counts.get), sum(counts.values())


@lru_cache(maxsize=1)
def _langid():
    from py3langid.langid import _load_identifier

    return _load_identifier(norm_probs=True)


@lru_cache(maxsize=1)
def _fasttext(path: str):
    try:
        import fasttext
    except ImportError as e:
        raise MmxError(f"MMX_LID_MODEL={path}: reading a fastText LID model needs `pip install fasttext-wheel`") from e
    if not os.path.isfile(path):
        raise MmxError(f"MMX_LID_MODEL={path}: no such file (a GlotLID or lid.176 .bin)")
    return fasttext.load_model(path)


def parse_fasttext_label(label: str) -> str:
    """``__label__deu_Latn`` (GlotLID) or ``__label__de`` (lid.176) -> the language part."""
    return label.removeprefix("__label__").split("_", 1)[0]


def identifier_name() -> str:
    path = os.environ.get("MMX_LID_MODEL")
    if path:
        return f"fasttext:{os.path.basename(path)}"
    from importlib.metadata import version

    return f"py3langid {version('py3langid')}"


def known_labels() -> set[str]:
    if os.environ.get("MMX_LID_MODEL"):
        return {parse_fasttext_label(x) for x in _fasttext(os.environ["MMX_LID_MODEL"]).get_labels()}
    return set(_langid().labels)


def identify(text: str) -> Identified:
    script, letters = script_of(text or "")
    need = MIN_DENSE if script in DENSE else MIN_LETTERS
    if letters < need:
        return Identified(None, 0.0, script, f"too short to identify ({letters} letters < {need})")
    path = os.environ.get("MMX_LID_MODEL")
    if path:
        labels, probs = _fasttext(path).predict(" ".join(text.split()), k=1)
        lang, conf = parse_fasttext_label(labels[0]), float(probs[0])
    else:
        lang, conf = _langid().classify(text)
    if conf < MIN_CONFIDENCE:
        return Identified(None, conf, script, f"identifier unsure (best guess {lang}, p={conf:.2f})")
    return Identified(lang, conf, script)


def _expected_label(code: str) -> str:
    return _LABEL.get(code, code.split("-", 1)[0])


def fidelity(text: str, expected: str) -> tuple[dict[str, float], dict]:
    """Per-sample scores and extra for a generated ``text`` that should be in language ``expected``."""
    from mmx.languages import get_language

    try:
        want_script = get_language(expected).script
    except MmxError:
        want_script = None
    got = identify(text)
    scores: dict[str, float] = {}
    extra = {"lid": got.language, "lid_confidence": round(got.confidence, 3), "lid_script": got.script}
    if got.script is not None and want_script:
        scores["script_fidelity"] = float(got.script == want_script or got.script in _WRITES.get(want_script, ()))
    label = _expected_label(expected)
    if got.language is None:
        extra["lid_note"] = got.reason
    elif label not in known_labels():
        extra["lid_note"] = f"{identifier_name()} does not know {expected}: judged by script only"
    else:
        scores["lang_fidelity"] = float(got.language == label)
    return scores, extra
