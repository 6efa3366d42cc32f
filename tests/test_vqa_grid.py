"""Question language x answer language (issue 13 section 6): the VQA kind's ``answer_languages`` asks each
question once per answer language; results.json's ``answer_grid`` and the report's grid table."""
import json
import sys
from pathlib import Path

import pytest

from mmx.models.tiny_vlm import build_tiny_vlm
from mmx.tasks.base import load_task
from mmx.registry import get_task_kind

sys.path.insert(0, str(Path(__file__).parent))
from test_vqa_e2e import _colour_of, records  # noqa: E402
from test_vqa_models import ChatServer, decode_images, text_of  # noqa: E402
from cli_runner import cli  # noqa: E402



def test_grid_samples_prompts_and_references():
    kind = get_task_kind("vqa")(load_task("probe_vqa"))
    data = kind.load(["de", "fr"], 4, {"answer_languages": "question+en"})
    assert data.languages == ["de", "fr"]  # English only lent its answers
    assert len(data.samples) == 2 * 4 * 2
    by_id = {s.id: s for s in data.samples}
    own, en = by_id["de/probe_000/colour@question"], by_id["de/probe_000/colour@en"]
    assert own.answers[0] == "grün" and en.answers == ["green"]  # probe_000 is a green triangle
    assert kind.prompt(own) == "Welche Farbe haben die Formen? Antworte mit einem Wort auf Deutsch."
    assert kind.prompt(en) == "Welche Farbe haben die Formen? Answer with one word in English."
    assert kind.answer_language(own) == "de" and kind.answer_language(en) == "en"
    # the default is unchanged: one sample per question, no suffix
    plain = get_task_kind("vqa")(load_task("probe_vqa")).load(["de"], 4, {})
    assert [s.id for s in plain.samples][:1] == ["de/probe_000/colour"] and len(plain.samples) == 4


def test_bad_answer_languages_are_refused():
    from mmx.errors import MmxError

    kind = get_task_kind("vqa")(load_task("probe_vqa"))
    with pytest.raises(MmxError, match="answer_languages"):
        kind.load(["de"], 2, {"answer_languages": "question+xx-notalanguage"})
    with pytest.raises(MmxError, match="once"):
        kind.load(["de"], 2, {"answer_languages": "en+en"})


def test_grid_end_to_end_with_a_model_that_answers_in_english(tmp_path, capsys):
    # The server reads the image: colour questions get the English colour word whatever language is asked
    # for, count questions an English sentence, the rest nothing.
    seen = []

    def answer(body):
        q = text_of(body)
        seen.append(q)
        if q.startswith(("What colour", "Welche Farbe")):
            return 200, _colour_of(decode_images(body)[0]).capitalize() + "."
        if q.startswith(("How many", "Wie viele")):
            return 200, "I can see some shapes in this picture, I think."
        return 200, ""

    with ChatServer(answer) as srv:
        code, out, err = cli(capsys, "evaluate", "--tasks", "probe_vqa", "--model", "openai-vlm:english-bot",
                             "--model-args", f"base_url={srv.url}", "--languages", "en,de", "--limit", 12,
                             "--data-args", "answer_languages=question+en", "--output", tmp_path / "run",
                             "--no-progress", "--no-cache")
    assert code == 0, err
    assert "Wie viele Formen sind zu sehen? Answer with one word in English." in seen
    recs = records(tmp_path / "run", "probe_vqa")
    assert len(recs) == 2 * 12 * 2
    task = json.loads((tmp_path / "run" / "results.json").read_text())["tasks"]["probe_vqa"]
    grid = task["answer_grid"]
    # 12 questions per cell, 3 of them colour (green, blue, green): right in English, never in German
    assert grid["de"]["question"]["metrics"]["vqa_acc"] == 0.0
    assert grid["de"]["en"]["metrics"]["vqa_acc"] == pytest.approx(3 / 12)
    assert grid["en"]["question"]["metrics"]["vqa_acc"] == grid["en"]["en"]["metrics"]["vqa_acc"] == pytest.approx(3 / 12)
    assert grid["de"]["question"]["answer_language"] == "de" and grid["de"]["en"]["answer_language"] == "en"
    # the count sentences are identifiable English: right language when English is asked for, wrong for German
    assert grid["de"]["question"]["metrics"]["lang_fidelity"] == 0.0
    assert grid["de"]["en"]["metrics"]["lang_fidelity"] == 1.0
    assert grid["de"]["question"]["n"]["lang_fidelity"] >= 3
    # consistency on the same items (question@entry): en solves the 3 own-language colour questions de misses
    assert list(task["consistency"]) == ["vqa_acc"]  # the primary metric only (exact_match is 0/1 too)
    c = task["consistency"]["vqa_acc"]
    assert c["shared_items"]["de"]["en"] == 24
    assert (c["solved_only"]["en"]["de"], c["solved_only"]["de"]["en"]) == (3, 0)
    assert c["mcnemar_p"]["en"]["de"] == pytest.approx(0.25)
    assert c["kappa"]["en"]["de"] == pytest.approx(0.6)  # p_o 21/24, p_e 0.6875
    assert c["differing_items"]["en"]["de"] == [f"probe_00{i}/colour@question" for i in range(3)]

    code, md, err = cli(capsys, "report", tmp_path / "run", "--format", "md")
    assert code == 0, err
    assert "Question language x answer language: vqa_acc / lang_fidelity" in md
    assert "| de | 0.0 / 0.0 | 25.0 / 100.0 |" in md


def test_grid_on_a_tiny_random_vlm(tmp_path, capsys):
    tiny = build_tiny_vlm(tmp_path / "tiny", seed=0)
    code, out, err = cli(capsys, "evaluate", "--tasks", "probe_vqa", "--model", f"hf-vlm:{tiny}",
                         "--languages", "de,sw", "--limit", 2, "--data-args", "answer_languages=question+en",
                         "--output", tmp_path / "run", "--no-progress")
    assert code == 0, err
    task = json.loads((tmp_path / "run" / "results.json").read_text())["tasks"]["probe_vqa"]
    assert set(task["languages"]) == {"de", "sw"}
    assert {lang: sorted(row) for lang, row in task["answer_grid"].items()} == {"de": ["en", "question"],
                                                                                "sw": ["en", "question"]}
    assert all(c["n"]["vqa_acc"] == 2 for row in task["answer_grid"].values() for c in row.values())
