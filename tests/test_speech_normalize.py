"""The normalisers against the references published WER comes from: English against Whisper's own
EnglishTextNormalizer (the whisper-normalizer wheel's copy, with openai-whisper's spelling table) on a broad
table and through jiwer on a corpus; other languages against transformers' BasicTextNormalizer, plus the
documented differences (combining marks kept, Turkish i, Greek final sigma) on hand-checked examples."""
import re

import jiwer
import pytest

from mmx.metrics.asr import error_counts
from mmx.metrics.normalize import basic_normalize, english_normalize, normalize, normalizer_info, spelling_table

wn = pytest.importorskip("whisper_normalizer.english")  # pinned in requirements-nodeps.txt

_REFERENCE = wn.EnglishTextNormalizer()


def whisper_english(text: str) -> str:
    return re.sub(r"\s+", " ", _REFERENCE(text)).strip()


# Numbers, currencies, decimals, ordinals, contractions, titles, British spellings, hyphens, fillers,
# brackets, symbols and diacritics. (The reference package adds rules for "kinda", "sorta", "dunno" and
# "cause" that Whisper does not have: those words are left out.)
ENGLISH = [
    "A hundred and one dalmatians", "one hundred and five thousand", "two thousand and twenty four",
    "nineteen eighty four", "nineteen ninety", "one two three", "a million and a half", "one and a half",
    "It costs $5.50, 10% off.", "twenty dollars and fifty cents", "ten thousand dollars", "three pounds fifty",
    "two point five million", "zero point seven five", "€5 and £10 and ¢50", "fifty percent", "50 %",
    "the first, second and third place", "the twenty first century", "1st 2nd 3rd 4th 21st",
    "the 1960s and the nineteen sixties", "twelve dozen eggs", "sixty-six", "twenty-one", "ninety nine problems",
    "I won't go [noise] (laughs) to Dr. Smith's house", "We're gonna wanna know, y'all", "Hmm, uh, um, OK.",
    "I'd've thought he'd been there", "she's got it, it's done", "Mr. and Mrs. Jones, Jr.", "St. Louis at 3.30 p.m.",
    "It's 9:30 o'clock", "Ms. O'Neil's café", "let's go, ma'am",
    "The colour of the theatre; the grey organisation", "analysed, realised, travelled, kilometres, centre",
    "We apologise for the behaviour of our neighbours", "a well-known state-of-the-art e-mail",
    "e-mail me at john@example.com", "30°C & 50 % + 2 = #1", "1,000,000 cafés naïve cœur Æsop",
    "  spaces\tand\nnewlines  ", "UPPER case Words", "<unk> tokens and [inaudible] parts", "",
]


@pytest.mark.parametrize("text", ENGLISH)
def test_english_is_whispers_normaliser(text):
    assert english_normalize(text) == whisper_english(text)
    assert normalize(text, "en-US") == whisper_english(text)


def test_a_hundred_and_one_keeps_its_and():
    # The rewrite this replaces turned "a hundred and one" into "a hundred one".
    assert english_normalize("A hundred and one colours, Mr. Smith") == "a 101 colors mister smith"


def test_spelling_table_is_whispers():
    table = spelling_table()
    assert len(table) == 1739  # openai-whisper's whisper/normalizers/english.json
    assert table["colour"] == "color" and table["organisation"] == "organization"


# Nine reference/hypothesis pairs that say the same thing, spelled differently: Whisper's normaliser makes
# them (nearly) equal, which is what published English WER is computed on. The last pair keeps one real error.
SPELLED_DIFFERENTLY = [
    ("The colour of the theatre was grey.", "The color of the theater was gray."),
    ("I paid twenty dollars for it.", "I paid $20 for it."),
    ("It grew by two point five percent.", "It grew by 2.5%."),
    ("She was born in nineteen ninety.", "She was born in 1990."),
    ("We analysed the organisation's behaviour.", "We analyzed the organization's behavior."),
    ("Mr Smith lives at twenty one Baker Street.", "Mister Smith lives at 21 Baker Street."),
    ("It is the twenty first century.", "It's the 21st century."),
    ("They travelled one thousand kilometres.", "They traveled 1000 kilometers."),
    ("Uh, the neighbours' cat sat on the mat.", "The neighbors' cat sat on a mat."),
]


def _corpus_wer(pairs, lang="en"):
    counts = [error_counts(r, h, lang) for r, h in pairs]
    return sum(c["wer_errors"] for c in counts) / sum(c["wer_words"] for c in counts)


def test_wer_on_spelling_variants_equals_whisper_through_jiwer():
    refs = [whisper_english(r) for r, _ in SPELLED_DIFFERENTLY]
    hyps = [whisper_english(h) for _, h in SPELLED_DIFFERENTLY]
    reference_wer = jiwer.wer(refs, hyps)
    wer = _corpus_wer(SPELLED_DIFFERENTLY)
    assert wer == pytest.approx(reference_wer), wer
    assert wer < 0.05, wer  # one real error ("the" -> "a") in about 50 words
    # Whisper's basic rules alone (no English number/spelling rules) count the variants as errors.
    basic = _corpus_wer(SPELLED_DIFFERENTLY, "de")
    assert basic > 0.3, basic


def test_corpus_wer_through_jiwer_on_a_broad_table():
    pairs = [(t, u) for t, u in zip(ENGLISH, reversed(ENGLISH)) if whisper_english(t)]
    refs = [whisper_english(r) for r, _ in pairs]
    hyps = [whisper_english(h) for _, h in pairs]
    assert _corpus_wer(pairs) == pytest.approx(jiwer.wer(refs, hyps))


# --- other languages ----------------------------------------------------------------------------------------

# Texts without combining marks after NFKC, in languages without special lower-casing: mmx's basic
# normaliser must give exactly transformers' BasicTextNormalizer (Whisper's) here.
BASIC = [
    ("Ein grünes Dreieck oben! (leise) [Lärm]", "de"), ("Un triángulo verde arriba, ¿sí?", "es"),
    ("L'été « chaud » — très.", "fr"), ("Один зелёный треугольник, сверху.", "ru"), ("Żółć; gęślą jaźń…", "pl"),
    ("上边有一个绿色的三角形。", "zh"), ("三角形が「一つ」あります！", "ja"), ("위쪽에 <unk> 삼각형이 있습니다.", "ko"),
    ("Tiếng Việt: một, hai, ba.", "vi"), ("Ελλάδα, καλημέρα!", "el-no-sigma"), ("100 % & 5$ + 3€ = €8", "de"),
    ("e-mail: a@b.c / x_y", "nl"), ("ÀÉÎÕÜ ÇÑ", "pt"), ("ＡＢＣ １２３", "ja"), ("‘quoted’ “text” «ici»", "fr"),
    ("שלום, עולם!", "he"), ("Merhaba DÜNYA", "az-latn-no-i"), ("tab\tand\nnew line", "sv"), ("", "de"),
]


@pytest.mark.parametrize("text, lang", BASIC)
def test_basic_equals_transformers_basic_normalizer(text, lang):
    from transformers.models.whisper.english_normalizer import BasicTextNormalizer

    lang = lang.split("-")[0] if lang != "el-no-sigma" else "und"  # no final sigma in that text, no dotted I
    ref = " ".join(BasicTextNormalizer()(text).split())
    assert basic_normalize(text, lang) == ref


@pytest.mark.parametrize("text, lang, expected", [
    ("ΟΔΟΣ Σας.", "el", "οδοσ σασ"),  # final sigma folded: ς and σ compare equal
    ("İSTANBUL ILIK", "tr", "istanbul ılık"),  # Turkish dotted/dotless i
    ("ऊपर एक हरा त्रिभुज है।", "hi", "ऊपर एक हरा त्रिभुज है"),  # vowel signs (marks) kept, danda removed
    ("มีสามเหลี่ยมสีเขียว", "th", "มีสามเหลี่ยมสีเขียว"),  # tone marks kept
    ("مثلث أخضر، واحد في الأعلى؟", "ar", "مثلث أخضر واحد في الأعلى"),
])
def test_documented_differences_from_whisper_basic(text, lang, expected):
    from transformers.models.whisper.english_normalizer import BasicTextNormalizer

    assert basic_normalize(text, lang) == expected
    assert normalize(text, lang) == expected
    if lang in ("hi", "th"):  # Whisper's rules would split these words at every mark
        assert len(BasicTextNormalizer()(text).split()) > len(expected.split())


def test_results_name_the_normaliser():
    from pathlib import Path

    from mmx.tasks.asr import ASR
    from mmx.tasks.base import TaskSpec
    from mmx.tasks.tts import TTS

    info = normalizer_info()
    assert info["en"].startswith("whisper-english (transformers 5.") and "whisper-normalizer 0.1.15" in info["en"]
    assert "whisper-basic" in info["other"]
    for kind in (ASR, TTS):
        spec = TaskSpec(name="t", kind="asr", path=Path("t.yaml"), dataset={}, languages=None, metrics=[],
                        primary_metric="err")
        assert kind(spec).result_extras() == {"normalizer": info}
