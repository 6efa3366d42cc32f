"""VQA answer normalisation per language, the VQA accuracy rule and exact match.

English follows the official VQA evaluation's answer processing (GT-Vision-Lab/VQA,
PythonEvaluationTools/vqaEvaluation/vqaEval.py, ``processPunctuation`` then ``processDigitArticle``),
so English numbers are comparable with published ones (``vqa_english``):
1. newlines and tabs to spaces, outer spaces stripped;
2. each of ``; / [ ] " { } ( ) = + \\ _ - > < @ ` , ? !`` is deleted when the answer has that character next
   to a space, or a comma between digits anywhere ("10,000" -> "10000"); otherwise it becomes a space;
3. every period not followed by a digit is deleted, not turned into a space ("U.S.A." -> "usa",
   "a.m." -> "am", "3.5" stays); the official regex ``(?!<=\\d)(\\.)(?!\\d)`` reads like a look-behind but is
   a look-ahead that never fails, so only the ``(?!\\d)`` part acts. (It also passes ``re.UNICODE`` as the
   count, which stops after 32 periods; answers never have that many, and mmx does not copy the limit.)
4. lower case, split on spaces; the number words none/zero..ten become digits; "a", "an", "the" are
   dropped; contracted forms written without their apostrophe get it back (its table, ``_CONTRACTIONS``,
   "dont" -> "don't"). Apostrophes, colons, "$" etc. are not in its list and stay
   ("don't" stays "don't", "12:30" stays).
mmx applies this to predictions and references alike (the official script leaves the references, already
normalised in the VQA annotation files, mostly untouched); before it, NFKC and native digits to ASCII,
which change no ASCII answer.

Other languages: ``normalize_answer(text, lang)``, in order:
1. NFKC (full-width letters and digits, compatibility forms), lower case, native decimal digits
   (Arabic-Indic, Devanagari, Thai, ...) to ASCII, thousands separators between digits dropped;
2. punctuation (Unicode category P*, and symbols S*) to spaces, except a decimal point between digits;
3. tokens: a one-token answer that is a number word becomes its digits ("zwei", "deux", "два" -> "2");
   in longer answers number words become digits and articles are dropped (as the official VQA
   evaluation does for English: "a", "an", "the"; MLQA's per-language article lists elsewhere);
   Arabic drops the prefixed article ال; Chinese/Japanese/Korean/Thai counters after a number go;
4. whitespace collapsed; for scripts written without spaces (zh, ja, th, ...) all spaces removed.

VQA accuracy (Antol et al. 2015, official evaluation): with the 10 annotators' answers, a prediction's
accuracy is min(#matching / 3, 1) averaged over the 10 subsets of 9 annotators; with another number of
annotator answers, min(#matching / 3, 1). Datasets with a set of accepted answers instead of annotators
(GQA, MaXM, ...) score 1 when any accepted answer matches (``vqa_accuracy(..., annotators=False)``).
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Number words 0..10 (more where the probe or common answers need them). The first word of a value
# is the canonical one (the probe set's answers use it).
_NUMBERS: dict[str, dict[int, tuple[str, ...]]] = {
    "en": {0: ("zero", "none"), 1: ("one",), 2: ("two",), 3: ("three",), 4: ("four",), 5: ("five",),
           6: ("six",), 7: ("seven",), 8: ("eight",), 9: ("nine",), 10: ("ten",), 11: ("eleven",),
           12: ("twelve",)},
    "de": {0: ("null", "keine", "kein"), 1: ("eins", "ein", "eine", "einer"), 2: ("zwei",), 3: ("drei",),
           4: ("vier",), 5: ("fünf",), 6: ("sechs",), 7: ("sieben",), 8: ("acht",), 9: ("neun",), 10: ("zehn",)},
    "fr": {0: ("zéro", "aucun", "aucune"), 1: ("un", "une"), 2: ("deux",), 3: ("trois",), 4: ("quatre",),
           5: ("cinq",), 6: ("six",), 7: ("sept",), 8: ("huit",), 9: ("neuf",), 10: ("dix",)},
    "es": {0: ("cero", "ninguno", "ninguna"), 1: ("uno", "una", "un"), 2: ("dos",), 3: ("tres",),
           4: ("cuatro",), 5: ("cinco",), 6: ("seis",), 7: ("siete",), 8: ("ocho",), 9: ("nueve",), 10: ("diez",)},
    "pt": {0: ("zero", "nenhum", "nenhuma"), 1: ("um", "uma"), 2: ("dois", "duas"), 3: ("três",), 4: ("quatro",),
           5: ("cinco",), 6: ("seis",), 7: ("sete",), 8: ("oito",), 9: ("nove",), 10: ("dez",)},
    "ru": {0: ("ноль", "нуль"), 1: ("один", "одна", "одно", "одну"), 2: ("два", "две"), 3: ("три",),
           4: ("четыре",), 5: ("пять",), 6: ("шесть",), 7: ("семь",), 8: ("восемь",), 9: ("девять",),
           10: ("десять",)},
    "uk": {0: ("нуль",), 1: ("один", "одна", "одне", "одну"), 2: ("два", "дві"), 3: ("три",), 4: ("чотири",),
           5: ("п’ять",), 6: ("шість",), 7: ("сім",), 8: ("вісім",), 9: ("дев’ять",),
           10: ("десять",)},
    "ar": {0: ("صفر",), 1: ("واحد", "واحدة"), 2: ("اثنان", "اثنتان", "اثنين", "اثنتين"), 3: ("ثلاثة", "ثلاث"),
           4: ("أربعة", "أربع"), 5: ("خمسة", "خمس"), 6: ("ستة", "ست"), 7: ("سبعة", "سبع"),
           8: ("ثمانية", "ثماني"), 9: ("تسعة", "تسع"), 10: ("عشرة", "عشر")},
    "hi": {0: ("शून्य",), 1: ("एक",), 2: ("दो",), 3: ("तीन",), 4: ("चार",), 5: ("पाँच", "पांच"), 6: ("छह", "छः"),
           7: ("सात",), 8: ("आठ",), 9: ("नौ",), 10: ("दस",)},
    "zh": {0: ("零",), 1: ("一",), 2: ("两", "二", "兩"), 3: ("三",), 4: ("四",), 5: ("五",), 6: ("六",),
           7: ("七",), 8: ("八",), 9: ("九",), 10: ("十",)},
    "ja": {0: ("ゼロ", "零"), 1: ("一つ", "一", "ひとつ"), 2: ("二つ", "二", "ふたつ"), 3: ("三つ", "三", "みっつ"),
           4: ("四つ", "四", "よっつ"), 5: ("五つ", "五", "いつつ"), 6: ("六つ", "六"), 7: ("七つ", "七"),
           8: ("八つ", "八"), 9: ("九つ", "九"), 10: ("十", "とお")},
    "ko": {0: ("영", "공"), 1: ("하나", "한", "일"), 2: ("둘", "두", "이"), 3: ("셋", "세", "삼"), 4: ("넷", "네", "사"),
           5: ("다섯", "오"), 6: ("여섯", "육"), 7: ("일곱", "칠"), 8: ("여덟", "팔"), 9: ("아홉", "구"), 10: ("열", "십")},
    "tr": {0: ("sıfır",), 1: ("bir",), 2: ("iki",), 3: ("üç",), 4: ("dört",), 5: ("beş",), 6: ("altı",),
           7: ("yedi",), 8: ("sekiz",), 9: ("dokuz",), 10: ("on",)},
    "sw": {0: ("sifuri",), 1: ("moja", "mmoja"), 2: ("mbili", "miwili", "wawili"), 3: ("tatu", "mitatu", "watatu"),
           4: ("nne", "minne", "wanne"), 5: ("tano", "mitano", "watano"), 6: ("sita",), 7: ("saba",),
           8: ("nane",), 9: ("tisa",), 10: ("kumi",)},
    "el": {0: ("μηδέν",), 1: ("ένα", "ένας", "μία", "μια"), 2: ("δύο",), 3: ("τρία", "τρεις"),
           4: ("τέσσερα", "τέσσερις"), 5: ("πέντε",), 6: ("έξι",), 7: ("επτά", "εφτά"), 8: ("οκτώ", "οχτώ"),
           9: ("εννέα", "εννιά"), 10: ("δέκα",)},
    "th": {0: ("ศูนย์",), 1: ("หนึ่ง",), 2: ("สอง",), 3: ("สาม",), 4: ("สี่",), 5: ("ห้า",), 6: ("หก",),
           7: ("เจ็ด",), 8: ("แปด",), 9: ("เก้า",), 10: ("สิบ",)},
    "vi": {0: ("không",), 1: ("một",), 2: ("hai",), 3: ("ba",), 4: ("bốn",), 5: ("năm",), 6: ("sáu",),
           7: ("bảy",), 8: ("tám",), 9: ("chín",), 10: ("mười",)},
    "id": {0: ("nol",), 1: ("satu",), 2: ("dua",), 3: ("tiga",), 4: ("empat",), 5: ("lima",), 6: ("enam",),
           7: ("tujuh",), 8: ("delapan",), 9: ("sembilan",), 10: ("sepuluh",)},
    "bn": {0: ("শূন্য",), 1: ("এক",), 2: ("দুই",), 3: ("তিন",), 4: ("চার",), 5: ("পাঁচ",), 6: ("ছয়",),
           7: ("সাত",), 8: ("আট",), 9: ("নয়",), 10: ("দশ",)},
    "it": {0: ("zero",), 1: ("uno", "una"), 2: ("due",), 3: ("tre",), 4: ("quattro",), 5: ("cinque",),
           6: ("sei",), 7: ("sette",), 8: ("otto",), 9: ("nove",), 10: ("dieci",)},
    "ro": {0: ("zero",), 1: ("unu", "una", "o"), 2: ("doi", "două"), 3: ("trei",), 4: ("patru",), 5: ("cinci",),
           6: ("șase",), 7: ("șapte",), 8: ("opt",), 9: ("nouă",), 10: ("zece",)},
    "he": {0: ("אפס",), 1: ("אחד", "אחת"), 2: ("שניים", "שתיים", "שני", "שתי"), 3: ("שלושה", "שלוש"),
           4: ("ארבעה", "ארבע"), 5: ("חמישה", "חמש"), 6: ("שישה", "שש"), 7: ("שבעה", "שבע"),
           8: ("שמונה",), 9: ("תשעה", "תשע"), 10: ("עשרה", "עשר")},
}
# Articles dropped from multi-word answers (VQA's English list; MLQA's lists for es/de; others added).
_ARTICLES: dict[str, frozenset[str]] = {k: frozenset(v.split()) for k, v in {
    "en": "a an the",
    "de": "der die das des dem den ein eine einer eines einem einen",
    "fr": "le la les l un une des du de",
    "es": "el la los las un una unos unas",
    "pt": "o a os as um uma uns umas",
    "it": "il lo la i gli le l un uno una",
    "el": "ο η το οι τα του της των τον την",
    "ro": "un o niște",
    "sw": "",
}.items()}
# Counters/classifiers that follow a number (zh 个, ja つ/個, ko 개, th classifiers): dropped after digits.
_COUNTER_RE = {lang: re.compile(r"\s*(\S+?)\s*(?:" + "|".join(words) + r")\s*") for lang, words in {
    "zh": ("个", "個", "颗", "顆", "只", "隻", "张", "張", "枚"), "ja": ("個", "本", "枚", "匹"), "ko": ("개",),
    "th": ("วง", "รูป", "ดวง", "อัน", "ชิ้น", "ตัว")}.items()}
# Apostrophes inside a word are dropped, not split on: п’ять, don't -> пять, dont.
_APOSTROPHE = re.compile(r"(?<=\w)['’ʼ](?=\w)")


def base_lang(lang: str) -> str:
    """mmx's canonical code of a language tag; unknown tags pass through lower-cased."""
    try:
        from mmx.languages import get_language

        return get_language(lang).code
    except Exception:
        return lang.lower().split("-")[0].split("_")[0]


@lru_cache(maxsize=None)
def _number_map(lang: str) -> dict[str, str]:
    out = {}
    for value, words in _NUMBERS.get(lang, {}).items():
        for w in words:
            out[_APOSTROPHE.sub("", unicodedata.normalize("NFKC", w).lower())] = str(value)
    return out


def number_word(lang: str, value: int) -> str:
    """The canonical word for a small number in a language (the probe set's count answers)."""
    return _NUMBERS[base_lang(lang)][value][0]


@lru_cache(maxsize=None)
def _uses_spaces(lang: str) -> bool:
    try:
        from mmx.languages import get_language

        return get_language(lang).uses_spaces
    except Exception:
        return lang not in ("zh", "ja", "th", "lo", "km", "my", "bo")


def _digits(text: str) -> str:
    # Any decimal digit (Arabic-Indic ٣, Devanagari ३, Thai ๓, ...) to ASCII.
    return "".join(str(unicodedata.decimal(ch)) if ch.isdigit() and unicodedata.decimal(ch, None) is not None
                   else ch for ch in text)


_THOUSANDS = re.compile(r"(?<=\d)[,\u066c](?=\d{3}\b)")
_DECIMAL = re.compile(r"(?<=\d)[.\u066b](?=\d)")


def _strip_punct(text: str) -> str:
    text = _APOSTROPHE.sub("", _THOUSANDS.sub("", text))
    text = _DECIMAL.sub("\0", text)  # protect decimal points
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        # Marks (M*) stay: they are part of Devanagari/Thai/Arabic letters.
        out.append(" " if cat[0] in "PS" or cat in ("Cc", "Cf") and ch != "\0" else ch)
    return "".join(out).replace("\0", ".")


# --- English: the official VQA evaluation's rules (see the module docstring) -------------------------------

_VQA_PUNCT = (";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!")
_VQA_COMMA_NUMBER = re.compile(r"\d,\d")
_VQA_PERIOD = re.compile(r"\.(?!\d)")
_VQA_NUMBERS = {w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine ten".split())}
_VQA_NUMBERS["none"] = "0"
_VQA_ARTICLES = frozenset(("a", "an", "the"))
# vqaEval.py's contractions table, as data: "written-form restored-form" pairs, as in its last commit (a013f00).
# Keys with capitals ("Im", "Ive") can never match (answers are lower-cased); they are kept so the table stays
# the official one, its oddities included ("somebody'd" -> "somebodyd").
_CONTRACTIONS = dict(zip(*[iter("""
aint ain't  arent aren't  cant can't  couldve could've  couldnt couldn't  couldn'tve couldn't've  couldnt've
couldn't've  didnt didn't  doesnt doesn't  dont don't  hadnt hadn't  hadnt've hadn't've  hadn'tve hadn't've
hasnt hasn't  havent haven't  hed he'd  hed've he'd've  he'dve he'd've  hes he's  howd how'd  howll how'll
hows how's  Id've I'd've  I'dve I'd've  Im I'm  Ive I've  isnt isn't  itd it'd  itd've it'd've  it'dve
it'd've  itll it'll  let's let's  maam ma'am  mightnt mightn't  mightnt've mightn't've  mightn'tve
mightn't've  mightve might've  mustnt mustn't  mustve must've  neednt needn't  notve not've  oclock o'clock
oughtnt oughtn't  ow's'at 'ow's'at  'ows'at 'ow's'at  'ow'sat 'ow's'at  shant shan't  shed've she'd've
she'dve she'd've  she's she's  shouldve should've  shouldnt shouldn't  shouldnt've shouldn't've  shouldn'tve
shouldn't've  somebody'd somebodyd  somebodyd've somebody'd've  somebody'dve somebody'd've  somebodyll
somebody'll  somebodys somebody's  someoned someone'd  someoned've someone'd've  someone'dve someone'd've
someonell someone'll  someones someone's  somethingd something'd  somethingd've something'd've
something'dve something'd've  somethingll something'll  thats that's  thered there'd  thered've there'd've
there'dve there'd've  therere there're  theres there's  theyd they'd  theyd've they'd've  they'dve they'd've
theyll they'll  theyre they're  theyve they've  twas 'twas  wasnt wasn't  wed've we'd've  we'dve we'd've
weve we've  werent weren't  whatll what'll  whatre what're  whats what's  whatve what've  whens when's
whered where'd  wheres where's  whereve where've  whod who'd  whod've who'd've  who'dve who'd've  wholl
who'll  whos who's  whove who've  whyll why'll  whyre why're  whys why's  wont won't  wouldve would've
wouldnt wouldn't  wouldnt've wouldn't've  wouldn'tve wouldn't've  yall y'all  yall'll y'all'll  y'allll
y'all'll  yall'd've y'all'd've  y'alld've y'all'd've  y'all'dve y'all'd've  youd you'd  youd've you'd've
you'dve you'd've  youll you'll  youre you're  youve you've
""".split())] * 2))


def vqa_english(text: str) -> str:
    """An English answer processed as the official VQA evaluation does (module docstring, steps 1-4)."""
    text = text.replace("\n", " ").replace("\t", " ").strip()
    # The choice between deleting and spacing is made on the answer as given, for every character alike.
    delete_all = _VQA_COMMA_NUMBER.search(text) is not None
    out = text
    for p in _VQA_PUNCT:
        out = out.replace(p, "" if delete_all or p + " " in text or " " + p in text else " ")
    out = _VQA_PERIOD.sub("", out)
    words = [_VQA_NUMBERS.get(w, w) for w in out.lower().split()]
    return " ".join(_CONTRACTIONS.get(w, w) for w in words if w not in _VQA_ARTICLES)


def normalize_answer(text: str, lang: str = "en") -> str:
    """Normalised form of an answer in language ``lang`` (see the module docstring)."""
    code = base_lang(lang)
    if code == "en":
        return vqa_english(_digits(unicodedata.normalize("NFKC", str(text or ""))))
    t = unicodedata.normalize("NFKC", str(text or "")).lower()
    if code == "tr":
        t = t.replace("i̇", "i")  # lower() of dotted capital İ leaves a combining dot
    t = _strip_punct(_digits(t))
    numbers = _number_map(code)
    tokens = t.split()
    if len(tokens) == 1:
        tokens = [numbers.get(tokens[0], tokens[0])]
    else:
        arts = _ARTICLES.get(code, frozenset())
        tokens = [numbers.get(w, w) for w in tokens if w not in arts]
    if code == "ar":  # the definite article is a prefix: الأحمر -> أحمر
        tokens = [w[2:] if w.startswith("ال") and len(w) > 3 else w for w in tokens]
    t = " ".join(tokens)
    if not _uses_spaces(code):
        t = t.replace(" ", "")
        if t in numbers:
            t = numbers[t]
    counter = _COUNTER_RE.get(code)
    if counter is not None:  # "3个", "三つ", "3 개", "สามดวง" -> "3"
        m = counter.fullmatch(t)
        if m and (m.group(1).isdigit() or m.group(1) in numbers):
            t = numbers.get(m.group(1), m.group(1))
    return t.strip()


def exact_match(prediction: str, references: list[str]) -> float:
    """1.0 when the prediction equals a reference up to case, NFKC and surrounding space/final punctuation."""
    def light(s: str) -> str:
        return unicodedata.normalize("NFKC", str(s or "")).strip().rstrip(".。!！?？").strip().lower()

    p = light(prediction)
    return float(bool(p) and any(p == light(r) for r in references))


def vqa_accuracy(prediction: str, answers: list[str], lang: str = "en", annotators: bool = True) -> float:
    """VQA accuracy of one prediction. ``answers``: the annotators' answers (repeats count), or, with
    ``annotators=False``, a set of accepted answers (1.0 when any matches)."""
    pred = normalize_answer(prediction, lang)
    if not pred:
        return 0.0
    refs = [normalize_answer(a, lang) for a in answers]
    if not annotators:
        return float(pred in refs)
    if len(refs) == 10:  # official: average over the 10 leave-one-annotator-out subsets
        return sum(min(sum(r == pred for j, r in enumerate(refs) if j != i) / 3.0, 1.0) for i in range(10)) / 10.0
    return min(sum(r == pred for r in refs) / 3.0, 1.0)
