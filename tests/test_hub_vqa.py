"""xGQA, MaXM and M3Exam from their Hub repositories' form (tests/hub_fixtures_vqa.py), through the loaders'
``datasets`` path with ``source=<local folder>``; the catalogue default; EVJVQA's local-only error; one
task end to end with `mmx evaluate --data-args source=...`."""
import json
import shutil
import sys
from pathlib import Path

import datasets
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
import hub_fixtures_vqa as fx  # noqa: E402
from cli_runner import cli  # noqa: E402

from mmx.data import catalog, hub  # noqa: E402
from mmx.data.vqa import load_evjvqa, load_m3exam, load_maxm, load_xgqa  # noqa: E402
from mmx.errors import MmxError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def caches(tmp_path, monkeypatch):
    """datasets' prepared copies and mmx's image folder live in this test's tmp_path."""
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets")
    monkeypatch.setenv("MMX_CACHE_DIR", str(tmp_path / "mmx-cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return tmp_path / "mmx-cache"


@pytest.fixture
def spy_load(monkeypatch):
    """Records each hub.load call's source, revision and streaming flag (and still loads)."""
    calls = []
    real = hub.load

    def load(source, **kw):
        calls.append({"source": str(source), **kw})
        return real(source, **kw)

    monkeypatch.setattr(hub, "load", load)
    return calls


def test_xgqa_rows_map_to_samples(tmp_path, caches):
    src = fx.write_xgqa(tmp_path / "xgqa")
    d = load_xgqa(source=str(src))
    assert d.languages == ["bn", "de", "en"]
    de = {s.id: s for s in d.samples if s.language == "de"}
    s = de["de/20968379"]
    assert s.question == "Welche Farbe hat der Tisch?" and s.answers == ["brown"] and s.answer_language == "en"
    assert s.extra == {"full_answer": "The answer is brown.", "image_id": "n288870"} and s.options is None
    # the image is the row's own bytes, written once under the cache, shared by the questions that use it
    assert s.images[0].read_bytes() == fx.image_bytes("red")
    assert s.images[0].is_relative_to(caches / "vqa-images" / "xgqa") and s.images[0].name.startswith("n288870-")
    assert de["de/20968381"].images == s.images and de["de/20968380"].images != s.images
    assert de["de/20968380"].images[0].read_bytes() == fx.image_bytes("blue")
    assert [x.id for x in d.samples if x.language == "en"] == ["en/20968379", "en/20968380", "en/20968381"]
    assert len(d.fingerprint) == 16 and d.source == str(src.resolve())


def test_xgqa_languages_limit_and_unknown_language(tmp_path, spy_load):
    src = str(fx.write_xgqa(tmp_path / "xgqa"))
    only = load_xgqa(source=src, languages=["deu"])
    assert only.languages == ["de"] and len(only.samples) == 3
    one = load_xgqa(source=src, limit=1)
    assert sorted(s.id for s in one.samples) == ["bn/20968379", "de/20968379", "en/20968379"]
    assert spy_load[-1]["streaming"] is True and spy_load[0]["streaming"] is False  # --limit streams
    with pytest.raises(MmxError, match=r"no questions in language\(s\) ko in .*xgqa; it has bn, de, en"):
        load_xgqa(source=src, languages=["ko"])
    with pytest.raises(MmxError, match="only its few-shot test split, not 'dev'"):
        load_xgqa(source=src, split="dev")


def test_limit_reads_only_the_rows_it_needs(tmp_path, monkeypatch, spy_load):
    # The third English row's image is broken: --limit 2 never reads it, a full load names it.
    rows = [fx.xgqa_row("1", "n1", "Is it red?", "yes"), fx.xgqa_row("2", "n2", "Is it blue?", "no", "blue"),
            {**fx.xgqa_row("3", "n3", "Is it green?", "no"), "image": {"bytes": b"\xff\xd8 not a jpeg", "path": None}}]
    src = str(fx.write_xgqa(tmp_path / "xgqa", {"en": rows}))
    assert [s.id for s in load_xgqa(source=src, limit=2).samples] == ["en/1", "en/2"]
    with pytest.raises(MmxError, match=r"xgqa \(.*xgqa, split en\), row 2: the image \(n3\) will not decode"):
        load_xgqa(source=src)
    # offline, streaming cannot read the local cache: --limit then reads the prepared copy
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert len(load_xgqa(source=src, limit=1).samples) == 1 and spy_load[-1]["streaming"] is False


def test_missing_column_is_named(tmp_path):
    feats = datasets.Features({k: v for k, v in fx.XGQA.items() if k != "answer"})
    rows = [{k: v for k, v in fx.xgqa_row("1", "n1", "Is it red?", "yes").items() if k != "answer"}]
    src = fx.write_repo(tmp_path / "xgqa", feats, {"en": rows})
    with pytest.raises(MmxError, match=r"xgqa \(split en\): column\(s\) answer missing; the data has question_id"):
        load_xgqa(source=str(src))


def test_images_are_written_once_and_keyed_by_revision(tmp_path, caches):
    src = fx.write_xgqa(tmp_path / "xgqa")
    a = load_xgqa(source=str(src), languages=["en"])
    stamp = {p: p.stat().st_mtime_ns for s in a.samples for p in s.images}
    b = load_xgqa(source=str(src), languages=["en"])
    assert {p: p.stat().st_mtime_ns for s in b.samples for p in s.images} == stamp
    assert a.fingerprint == b.fingerprint
    assert load_xgqa(source=str(src), languages=["en"], limit=1).fingerprint != a.fingerprint
    assert load_xgqa(source=str(src), languages=["de"]).fingerprint != a.fingerprint
    other = shutil.copytree(src, tmp_path / "copy")  # another source (revision): its own folder and fingerprint
    c = load_xgqa(source=str(other), languages=["en"])
    assert c.samples[0].images[0].parent != a.samples[0].images[0].parent and c.fingerprint != a.fingerprint
    assert len(list((caches / "vqa-images" / "xgqa").iterdir())) == 2


def test_maxm_rows_map_to_samples(tmp_path):
    d = load_maxm(source=str(fx.write_maxm(tmp_path / "maxm")))
    assert d.languages == ["en", "he", "th"]  # MaXM's split "iw" is Hebrew
    th = {s.id: s for s in d.samples if s.language == "th"}
    s = th["th/th_000411001ff7dd4f_0"]
    assert s.question == "แมวสีอะไร" and s.answers == ["สีดำ", "ดำ"] and s.answer_language is None
    assert s.extra == {"is_collection": False, "image_id": "000411001ff7dd4f", "processed_answers": ["สีดำ", "ดำ"]}
    assert s.images[0].read_bytes() == fx.image_bytes("green") and s.images[0].suffix == ".jpg"
    assert th["th/th_0a4e6a0c2a9f3c11_1"].answers == ["2", "สอง"]
    assert [x.id for x in load_maxm(source=str(tmp_path / "maxm"), languages=["he"]).samples] == [
        "he/iw_000411001ff7dd4f_0"]


def test_m3exam_rows_map_to_samples(tmp_path):
    d = load_m3exam(source=str(fx.write_m3exam(tmp_path / "m3")))
    assert d.languages == ["en", "vi"]  # splits named "english", "vietnamese"
    en = {s.id: s for s in d.samples if s.language == "en"}
    a, b = en["en/0"], en["en/1"]
    assert a.options == ["red", "green", "blue"] and a.answer_index == 1 and a.answers == ["green"]
    assert a.extra == {"level": "low", "subject": "math", "labels": ["1", "2", "3"]}
    assert a.images[0].read_bytes() == fx.image_bytes("green") and a.images[0].suffix == ".jpg"
    # images in the order the texts cite them: the background names image-2 before image-1
    assert b.question == "Look at (image)[image-2.png] and (image)[image-1.png].\nWhich one is larger?"
    assert [p.read_bytes() for p in b.images] == [fx.image_bytes("blue", "PNG"), fx.image_bytes("red", "PNG")]
    assert b.options == ["the first", "the second"] and b.answer_index == 1
    vi = next(s for s in d.samples if s.language == "vi")
    assert vi.id == "vi/0" and vi.options[vi.answer_index] == "Hình vuông"
    assert load_m3exam(source=str(tmp_path / "m3"), languages=["vie"]).languages == ["vi"]


def test_m3exam_split_of_several_languages_uses_the_language_column(tmp_path):
    rows = [fx.m3exam_row(lang, f"Q{i} (image)[image-0.jpg]", ["(1) a", "(2) b"], "1", {"image-0.jpg": "red"})
            for i, lang in enumerate(["thai", "english", "thai", "thai"])]
    src = str(fx.write_repo(tmp_path / "m3", fx.M3EXAM, {"test": rows}))
    d = load_m3exam(source=src, limit=2)
    assert [(s.id, s.question) for s in d.samples] == [("th/0", "Q0 (image)[image-0.jpg]"),
                                                       ("en/0", "Q1 (image)[image-0.jpg]"),
                                                       ("th/1", "Q2 (image)[image-0.jpg]")]
    with pytest.raises(MmxError, match=r"no questions in language\(s\) sw .*it has en, th"):
        load_m3exam(source=src, languages=["sw"])


def test_m3exam_images_that_do_not_match_their_ids(tmp_path):
    row = fx.m3exam_row("english", "Q? (image)[image-0.jpg]", ["(1) a", "(2) b"], "1", {"image-0.jpg": "red"})
    row["image_ids"] = ["image-0.jpg", "image-1.jpg"]
    src = str(fx.write_repo(tmp_path / "m3", fx.M3EXAM, {"english": [row]}))
    with pytest.raises(MmxError, match=r"m3exam \(.*m3, split english\), row 0: 2 image_ids but 1 images"):
        load_m3exam(source=src)


def test_no_source_reads_the_catalogue_hub_id_and_revision(monkeypatch, spy_load, tmp_path):
    entry = {"title": "xGQA", "modality": "vqa", "hub": {"id": "floschne/xgqa", "revision": "a" * 40},
             "licence": "CC-BY-4.0", "languages": ["en"], "provenance": {"*": "native"}}
    table = catalog.Catalog.model_validate({"benchmarks": {"xgqa": entry}})
    monkeypatch.setattr(catalog, "catalog", lambda path=None: table)

    def offline(source, **kw):  # stands in for the Hub
        raise MmxError(f"offline test: {source}@{kw['revision']}")

    monkeypatch.setattr(hub, "load", offline)
    with pytest.raises(MmxError, match=f"offline test: floschne/xgqa@{'a' * 40}"):
        load_xgqa()
    with pytest.raises(MmxError, match=f"offline test: floschne/xgqa@{'a' * 40}"):
        load_xgqa(source="floschne/xgqa")
    with pytest.raises(MmxError, match="offline test: someone/xgqa-fork@None"):  # another id: no pinned revision
        load_xgqa(source="someone/xgqa-fork")


def test_benchmark_tasks_read_the_hub_by_default():
    for task in ("xgqa", "maxm", "m3exam"):
        spec = yaml.safe_load((ROOT / "tasks" / "vqa" / f"{task}.yaml").read_text())
        assert spec["dataset"] == {"loader": task}, task
    assert yaml.safe_load((ROOT / "tasks" / "vqa" / "evjvqa.yaml").read_text())["dataset"]["path"]


def test_evjvqa_is_local_only_and_says_where_to_get_it(tmp_path):
    with pytest.raises(MmxError, match=r"annotation file not found: .*nope\.json\. EVJVQA is not on the Hugging Face "
                                       r"Hub from its authors: get it from the VLSP 2022 EVJVQA organisers"):
        load_evjvqa(tmp_path / "nope.json", tmp_path)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from mmx.models.tiny_vlm import build_tiny_vlm

    return build_tiny_vlm(tmp_path_factory.mktemp("vlm") / "tiny", seed=0)


def test_xgqa_task_end_to_end_from_a_hub_folder(tiny, tmp_path, capsys):
    src = fx.write_xgqa(tmp_path / "xgqa")
    code, out, err = cli(capsys, "evaluate", "--tasks", "xgqa", "--model", f"hf-vlm:{tiny}", "--data-args",
                         f"source={src}", "--limit", 2, "--output", tmp_path / "run", "--no-progress")
    assert code == 0, err
    task = json.loads((tmp_path / "run" / "results.json").read_text())["tasks"]["xgqa"]
    assert sorted(task["languages"]) == ["bn", "de", "en"]
    assert {lang: v["n"]["vqa_acc"] for lang, v in task["languages"].items()} == {"bn": 1, "de": 2, "en": 2}
    recs = [json.loads(x) for x in (tmp_path / "run" / "samples" / "xgqa.jsonl").read_text().splitlines()]
    ref = {r["id"]: r["reference"] for r in recs}
    assert ref["de/20968379"] in ("brown", ["brown"]) and ref["en/20968380"] in ("no", ["no"])
    assert all(r["extra"]["answer_language"] == "en" for r in recs)
    # issue 13.2: the catalogue's provenance per language, grouped, the groups' difference, in the report
    assert task["provenance"]["benchmark"] == "xgqa"
    assert task["provenance"]["languages"] == {"bn": "human-translated", "de": "human-translated", "en": "native"}
    assert set(task["groups"]["provenance"]) == {"human-translated", "native"}
    assert "native - human-translated" in task["provenance"]["differences"]
    code, out, err = cli(capsys, "report", tmp_path / "run", "--format", "md")
    assert code == 0 and "By data provenance" in out and "native - human-translated" in out
