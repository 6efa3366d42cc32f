"""VQA accuracy rule and the per-language answer normaliser, against hand-computed values."""
import pytest

from mmx.metrics.vqa import exact_match, normalize_answer, number_word, vqa_accuracy


def test_vqa_rule_ten_annotators_leave_one_out():
    # 3 of 10 say "2": leaving out one of those 3 leaves 2 matches (2/3), leaving out another annotator
    # leaves 3 (1.0): (3 * 2/3 + 7 * 1) / 10 = 0.9
    answers = ["2"] * 3 + ["3"] * 7
    assert vqa_accuracy("2", answers) == pytest.approx(0.9)
    # 1 of 10: (1 * 0 + 9 * 1/3) / 10 = 0.3
    assert vqa_accuracy("3", ["3"] + ["4"] * 9) == pytest.approx(0.3)
    # 2 of 10: (2 * 1/3 + 8 * 2/3) / 10 = 0.6
    assert vqa_accuracy("dog", ["dog", "dog"] + ["cat"] * 8) == pytest.approx(0.6)
    # 4 or more of 10: always 1
    assert vqa_accuracy("yes", ["yes"] * 4 + ["no"] * 6) == 1.0
    assert vqa_accuracy("maybe", ["yes"] * 10) == 0.0


def test_vqa_rule_other_annotator_counts_and_accepted_sets():
    assert vqa_accuracy("red", ["red", "red", "blue"]) == pytest.approx(2 / 3)  # min(2/3, 1), no subsets
    assert vqa_accuracy("red", ["red"]) == pytest.approx(1 / 3)
    # Accepted-answer sets (GQA, MaXM, probe): any match counts fully.
    assert vqa_accuracy("red", ["red"], annotators=False) == 1.0
    assert vqa_accuracy("crimson", ["red", "scarlet"], annotators=False) == 0.0


def test_vqa_rule_applies_the_normaliser():
    # "Two." -> "2"; official VQA: number words to digits, punctuation and articles dropped.
    assert vqa_accuracy("Two.", ["2"] * 3 + ["3"] * 7) == pytest.approx(0.9)
    assert vqa_accuracy("The dog?", ["dog"] * 10) == 1.0
    assert vqa_accuracy("The dog!", ["dog"] * 10) == 1.0  # "!" is in the official punctuation list
    assert vqa_accuracy("", ["2"] * 10) == 0.0  # an empty answer never matches


@pytest.mark.parametrize("text,lang,expected", [
    ("Two", "en", "2"), ("the red circle.", "en", "red circle"), ("ＲＥＤ", "en", "red"), ("1,000", "en", "1000"),
    ("2.5", "en", "2.5"), ("don't", "en", "don't"), ("dont", "en", "don't"),
    ("zwei", "de", "2"), ("Drei!", "de", "3"), ("eins", "de", "1"), ("der rote Kreis", "de", "rote kreis"),
    ("deux", "fr", "2"), ("Un chat", "fr", "chat"), ("Une", "fr", "1"),
    ("tres", "es", "3"), ("la estrella", "es", "estrella"),
    ("два", "ru", "2"), ("п’ять", "uk", "5"), ("п'ять", "uk", "5"),
    ("٣", "ar", "3"), ("ثلاثة", "ar", "3"), ("الأحمر", "ar", "أحمر"),
    ("दो", "hi", "2"), ("२", "hi", "2"),
    ("两个", "zh", "2"), ("3个", "zh", "3"), ("红 色。", "zh", "红色"), ("３", "zh", "3"),
    ("三つ", "ja", "3"), ("赤い。", "ja", "赤い"),
    ("세 개", "ko", "3"), ("둘", "ko", "2"),
    ("Üç", "tr", "3"), ("İki", "tr", "2"),
    ("mbili", "sw", "2"), ("miwili", "sw", "2"),
    ("τρία", "el", "3"), ("สามดวง", "th", "3"), ("๓", "th", "3"),
])
def test_normaliser_per_language(text, lang, expected):
    assert normalize_answer(text, lang) == expected


def test_normaliser_keeps_languages_apart():
    # "un" is 1 in French but stays a word in English; a language tag in any form picks the same rules.
    assert normalize_answer("un", "fr") == "1"
    assert normalize_answer("un", "en") == "un"
    assert normalize_answer("zwei", "deu") == normalize_answer("zwei", "de-AT") == "2"


def test_number_words_round_trip_through_the_normaliser():
    for lang in ("en", "de", "fr", "es", "ru", "uk", "ar", "hi", "zh", "ja", "ko", "tr", "sw", "el", "th"):
        for n in (1, 2, 3):
            assert normalize_answer(number_word(lang, n), lang) == str(n), (lang, n)


def test_exact_match_is_light():
    assert exact_match("Red.", ["red"]) == 1.0
    assert exact_match("two", ["2"]) == 0.0  # no number normalisation in exact match
    assert exact_match("", [""]) == 0.0


# --- English: the official VQA evaluation (GT-Vision-Lab/VQA, vqaEval.py) -----------------------------------

# Expected values worked out by hand from vqaEval.py's processPunctuation and processDigitArticle.
OFFICIAL_EN = [
    ("U.S.A.", "usa"), ("the U.S.", "us"), ("a.m.", "am"), ("12:30 p.m.", "12:30 pm"), ("e.g.", "eg"),
    ("Mr. Smith", "mr smith"), ("yes.", "yes"), ("end of sentence.", "end of sentence"), ("5.", "5"),
    ("3.5", "3.5"), (".5", ".5"), ("1.000", "1.000"), ("10,000", "10000"), ("1,2", "12"),
    ("10,000 dollars, maybe", "10000 dollars maybe"), ("yes, it is", "yes it is"), ("red,white", "red white"),
    ("two", "2"), ("Two.", "2"), ("TEN", "10"), ("none", "0"), ("zero", "0"), ("eleven", "eleven"),
    ("three dogs", "3 dogs"), ("one of the two", "1 of 2"), ("the cat", "cat"), ("an apple", "apple"), ("a", ""),
    ("a man's hat", "man's hat"), ("dont", "don't"), ("cant", "can't"), ("weve", "we've"), ("isnt", "isn't"),
    ("oclock", "o'clock"), ("whats", "what's"), ("Im", "im"), ("don't", "don't"), ("it's", "it's"),
    ("why?", "why"), ("what ?", "what"), ("yes!", "yes"), ("ten-year-old", "10 year old"),
    ("black/white", "black white"), ("black / white", "black white"), ("(left)", "left"), ("left (side)", "left side"),
    ('say "hi"', "say hi"), ("x=y+z", "x y z"), ("<3", "3"), ("hello@world", "hello world"),
    ("under_score", "under score"), ("$5", "$5"), ("50%", "50%"), (" tab\tand\nnewline ", "tab and newline"),
]


def _official_punctuation(text: str) -> str:
    """vqaEval.py's processPunctuation, transcribed directly (the test's oracle)."""
    import re

    punct = [";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!"]
    out = text
    for p in punct:
        if (p + " " in text or " " + p in text) or re.search(r"(\d)(\,)(\d)", text) is not None:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    return re.compile(r"(?!<=\d)(\.)(?!\d)").sub("", out, re.UNICODE)


def _official_digit_article(text: str) -> str:
    """vqaEval.py's processDigitArticle, transcribed directly (its contractions table is the data under test
    elsewhere: see test_contractions_table_spot_checks)."""
    from mmx.metrics.vqa import _CONTRACTIONS

    manual = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
              "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
    out = []
    for word in text.lower().split():
        word = manual.setdefault(word, word)
        if word not in ["a", "an", "the"]:
            out.append(word)
    for i, word in enumerate(out):
        if word in _CONTRACTIONS:
            out[i] = _CONTRACTIONS[word]
    return " ".join(out)


def _official(text: str) -> str:
    return _official_digit_article(_official_punctuation(text.replace("\n", " ").replace("\t", " ").strip()))


@pytest.mark.parametrize("text, expected", OFFICIAL_EN)
def test_english_follows_the_official_vqa_rules(text, expected):
    assert normalize_answer(text, "en") == expected
    assert _official(text) == expected


def test_english_equals_the_official_rules_on_random_answers():
    import random

    rng = random.Random(0)
    alphabet = list("abcdeT .,.,'’?!;:/-()\"=+_<>@`[]$%\\") + ["1", "2", "0", " the ", " a ", "two", "ten", "dont",
                                                             "isnt", "U.S.", "p.m.", "10,000", " "]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert normalize_answer(text, "en") == _official(text), repr(text)


def test_contractions_table_spot_checks():
    from mmx.metrics.vqa import _CONTRACTIONS

    # 120 entries in vqaEval.py's table; a few read off it, with its mix of straight and curly apostrophes.
    assert len(_CONTRACTIONS) == 120
    assert _CONTRACTIONS["dont"] == "don't" and _CONTRACTIONS["cant"] == "can't" and _CONTRACTIONS["weve"] == "we've"
    assert _CONTRACTIONS["somebody'd"] == "somebodyd" and _CONTRACTIONS["twas"] == "'twas"
    assert _CONTRACTIONS["y'allll"] == "y'all'll" and _CONTRACTIONS["youve"] == "you've"


def _official_accuracy(prediction: str, gt_answers: list[str]) -> float:
    """vqaEval.py's evaluate() for one question, transcribed directly: the prediction is processed, the
    annotators' answers (already normalised in the annotation files) get processPunctuation when they differ,
    and accuracy is the mean over annotators of min(1, #other annotators matching / 3)."""
    res = _official_digit_article(_official_punctuation(prediction.replace("\n", " ").replace("\t", " ").strip()))
    answers = [{"answer": a, "answer_id": i + 1} for i, a in enumerate(gt_answers)]
    if len(set(gt_answers)) > 1:
        for d in answers:
            d["answer"] = _official_punctuation(d["answer"])
    accs = []
    for datum in answers:
        others = [item for item in answers if item != datum]
        matching = [item for item in others if item["answer"] == res]
        accs.append(min(1, float(len(matching)) / 3))
    return float(sum(accs)) / len(accs)


def test_ten_annotator_accuracy_equals_the_official_formula_on_random_cases():
    import random

    rng = random.Random(1)
    gt_vocab = ["2", "3", "dog", "red", "yes", "no", "usa", "10000", "don't"]  # normalised, as in the files
    predictions = ["Two.", "2", "three", "The dog", "dog?", "red", "Red.", "yes", "no", "U.S.A.", "10,000", "dont",
                   "cat", "", "a dog!"]
    for _ in range(2000):
        weights = [rng.random() ** 3 for _ in gt_vocab]
        gts = rng.choices(gt_vocab, weights=weights, k=10)
        pred = rng.choice(predictions)
        assert vqa_accuracy(pred, gts) == pytest.approx(_official_accuracy(pred, gts), abs=1e-12), (pred, gts)
