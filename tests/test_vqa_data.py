"""VQA loaders on small fixtures in the datasets' released layouts, and the probe set's questions."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from mmx.data.vqa import load_evjvqa, load_m3exam, load_maxm, load_probe_vqa, load_xgqa
from mmx.errors import MmxError
from mmx.metrics.vqa import normalize_answer

ROOT = Path(__file__).resolve().parents[1]
PROBE = ROOT / "assets" / "probe"


def _img(path: Path, colour="red"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), colour).save(path)


def _gqa(qid, image, question, answer):
    return {qid: {"imageId": image, "question": question, "answer": answer, "fullAnswer": f"It is {answer}.",
                  "isBalanced": True, "groups": {"global": None, "local": "14-table_color"},
                  "entailed": [], "equivalent": [qid], "semantic": [], "annotations": {},
                  "types": {"structural": "query", "semantic": "attr", "detailed": "colorObj"},
                  "semanticStr": "select: table ->query: color"}}


@pytest.fixture
def xgqa(tmp_path):
    zs = tmp_path / "xGQA" / "data" / "zero_shot"
    zs.mkdir(parents=True)
    (zs / "testdev_balanced_questions_en.json").write_text(json.dumps(
        {**_gqa("20968379", "n288870", "What color is the table?", "brown"),
         **_gqa("20968380", "n288871", "Is it a cat?", "no")}))
    (zs / "testdev_balanced_questions_de.json").write_text(json.dumps(
        {**_gqa("20968379", "n288870", "Welche Farbe hat der Tisch?", "brown")}, ensure_ascii=False))
    fs = tmp_path / "xGQA" / "data" / "few_shot" / "de"
    fs.mkdir(parents=True)
    (fs / "test.json").write_text(json.dumps(_gqa("1", "n288871", "Ist es eine Katze?", "no")))
    (fs / "dev.json").write_text(json.dumps(_gqa("2", "n288871", "Ist es ein Hund?", "yes")))
    for i in ("n288870", "n288871"):
        _img(tmp_path / "gqa" / "images" / f"{i}.jpg")
    return tmp_path


def test_xgqa_zero_shot_folder(xgqa):
    d = load_xgqa(path=xgqa / "xGQA/data/zero_shot", images=xgqa / "gqa/images")
    assert d.languages == ["de", "en"]
    de = [s for s in d.samples if s.language == "de"]
    assert de[0].id == "de/20968379" and de[0].question == "Welche Farbe hat der Tisch?"
    assert de[0].answers == ["brown"] and de[0].answer_language == "en"  # GQA's answers are English
    assert de[0].images == [xgqa / "gqa/images/n288870.jpg"] and not de[0].annotators
    assert len(d.fingerprint) == 16
    only = load_xgqa(path=xgqa / "xGQA/data/zero_shot", images=xgqa / "gqa/images", languages=["deu"])
    assert only.languages == ["de"]
    one = load_xgqa(path=xgqa / "xGQA/data/zero_shot", images=xgqa / "gqa/images", limit=1)
    assert len(one.samples) == 2  # 1 per language


def test_xgqa_few_shot_split_and_single_file(xgqa):
    d = load_xgqa(path=xgqa / "xGQA/data/few_shot", images=xgqa / "gqa/images", split="dev")
    assert [(s.id, s.answers) for s in d.samples] == [("de/2", ["yes"])]
    d = load_xgqa(path=xgqa / "xGQA/data/zero_shot/testdev_balanced_questions_en.json", images=xgqa / "gqa/images")
    assert [s.id for s in d.samples] == ["en/20968379", "en/20968380"]


def test_xgqa_missing_image_and_language_are_clear(xgqa):
    (xgqa / "gqa/images/n288871.jpg").unlink()
    with pytest.raises(MmxError, match=r"n288871\.jpg of sample 'en/20968380' is missing"):
        load_xgqa(path=xgqa / "xGQA/data/zero_shot", images=xgqa / "gqa/images")
    with pytest.raises(MmxError, match="no questions in language.*ko"):
        load_xgqa(path=xgqa / "xGQA/data/zero_shot", images=xgqa / "gqa/images", languages=["ko"])


def test_maxm_release_format(tmp_path):
    (tmp_path / "maxm").mkdir()
    for split, q, answers in (("th", "แมวสีอะไร", ["สีดำ", "ดำ"]), ("iw", "מה צבע החתול?", ["שחור"])):
        (tmp_path / "maxm" / f"maxm_v1_{split}.json").write_text(json.dumps({
            "dataset": "maxm", "version": "v1", "split": split,
            "annotations": [{"image_id": "000411001ff7dd4f", "image_url": "https://example/x.jpg",
                             "qa_pairs": [{"question_id": f"{split}_q1", "question": q, "answers": answers,
                                           "processed_answers": answers, "is_collection": False}]}]},
            ensure_ascii=False))
    _img(tmp_path / "xm3600" / "000411001ff7dd4f.jpg")
    d = load_maxm(path=tmp_path / "maxm", images=tmp_path / "xm3600")
    assert d.languages == ["he", "th"]  # MaXM's "iw" is Hebrew
    th = next(s for s in d.samples if s.language == "th")
    assert th.id == "th/th_q1" and th.answers == ["สีดำ", "ดำ"] and th.answer_language is None
    assert th.images == [tmp_path / "xm3600" / "000411001ff7dd4f.jpg"]


def test_evjvqa_languages_by_script(tmp_path):
    (tmp_path / "evjvqa_public_test.json").write_text(json.dumps({
        "images": [{"id": 7, "filename": "7.jpg"}],
        "annotations": [
            {"id": 1, "image_id": 7, "question": "what color is the shirt of the man?", "answer": "blue"},
            {"id": 2, "image_id": 7, "question": "người đàn ông mặc áo màu gì?", "answer": "màu xanh"},
            {"id": 3, "image_id": 7, "question": "男性のシャツは何色ですか？", "answer": "青"}]},
        ensure_ascii=False))
    _img(tmp_path / "images" / "7.jpg")
    d = load_evjvqa(tmp_path / "evjvqa_public_test.json", tmp_path / "images")
    assert [(s.id, s.language, s.answers) for s in d.samples] == [
        ("en/1", "en", ["blue"]), ("vi/2", "vi", ["màu xanh"]), ("ja/3", "ja", ["青"])]


def test_evjvqa_empty_reference_is_refused(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({
        "images": [{"id": 7, "filename": "7.jpg"}],
        "annotations": [{"id": 1, "image_id": 7, "question": "what?", "answer": "  "}]}))
    _img(tmp_path / "7.jpg")
    with pytest.raises(MmxError, match="sample 'en/1' has an empty reference answer"):
        load_evjvqa(tmp_path / "a.json", tmp_path)


def test_m3exam_multimodal_layout(tmp_path):
    mm = tmp_path / "data" / "multimodal-questions"
    (mm / "images-vietnamese").mkdir(parents=True)
    _img(mm / "images-vietnamese" / "image-1.png")
    _img(mm / "images-vietnamese" / "image-2.png", "blue")
    (mm / "vietnamese-questions-image.json").write_text(json.dumps([
        {"question_text": "Hình nào là hình vuông? [image-1.png]", "background_description": ["Xem hình [image-2.png]"],
         "answer_text": "B", "options": ["A. Hình tròn", "B. Hình vuông", "C. Hình tam giác"], "need_image": "yes",
         "language": "vietnamese", "level": "low", "subject": "math", "subject_category": "math", "year": "2020"},
        {"question_text": "2 + 2 = ?", "background_description": [], "answer_text": "3",
         "options": ["(1) 3", "(2) 5", "(3) 4"], "need_image": "no", "language": "vietnamese", "level": "low"},
    ], ensure_ascii=False))
    d = load_m3exam(path=mm)
    a, b = d.samples
    assert a.language == "vi" and a.options == ["Hình tròn", "Hình vuông", "Hình tam giác"] and a.answer_index == 1
    assert a.images == [mm / "images-vietnamese/image-2.png", mm / "images-vietnamese/image-1.png"]
    assert a.question.startswith("Xem hình [image-2.png]\nHình nào")
    assert b.options == ["3", "5", "4"] and b.answer_index == 2 and b.images == []


def test_m3exam_answer_not_among_options(tmp_path):
    (tmp_path / "thai-questions-image.json").write_text(json.dumps([
        {"question_text": "?", "background_description": [], "answer_text": "5", "options": ["(1) a", "(2) b"]}]))
    with pytest.raises(MmxError, match="no valid answer among its 2 options"):
        load_m3exam(path=tmp_path / "thai-questions-image.json")


def test_probe_vqa_file_is_generated_and_consistent():
    # The committed file is exactly what the generator writes (deterministic), from captions.json.
    sys.path.insert(0, str(ROOT / "assets"))
    import generate_probe_vqa as gen

    assert gen.render(PROBE) == (PROBE / "vqa.json").read_bytes()
    cap = json.loads((PROBE / "captions.json").read_text())
    d = load_probe_vqa(PROBE / "vqa.json", PROBE / "images")
    assert sorted(d.languages) == sorted(cap["captions"])
    assert len(d.samples) == 4 * len(cap["images"]) * len(cap["captions"])
    for s in d.samples:
        _, image, kind = s.id.split("/")
        attr = cap["attributes"][cap["images"].index(image + ".png")]
        if kind == "count":  # the number word and the digits normalise to the same answer
            assert normalize_answer(s.answers[0], s.language) == str(attr["count"]), s.id
    de = {s.id: s for s in d.samples if s.language == "de"}
    first = cap["attributes"][0]  # green triangle, 1, top
    assert (first["colour"], first["shape"], first["position"]) == ("green", "triangle", "top")
    assert de["de/probe_000/colour"].answers[0] == "grün" and de["de/probe_000/shape"].answers[0] == "Dreieck"
    assert de["de/probe_000/position"].answers == ["oben"] and de["de/probe_000/count"].answers == ["eins"]


def test_probe_vqa_generator_cli_is_deterministic(tmp_path):
    (tmp_path / "captions.json").write_bytes((PROBE / "captions.json").read_bytes())
    subprocess.run([sys.executable, str(ROOT / "assets" / "generate_probe_vqa.py"), "--probe", str(tmp_path)],
                   check=True, capture_output=True)
    assert (tmp_path / "vqa.json").read_bytes() == (PROBE / "vqa.json").read_bytes()
