"""The vision benchmarks' Hub loaders on offline copies of their repositories (tests/hub_fixtures_vision.py):
XM3600 and xFlickrCO (parquet, one split per language, embedded images), XTD10 (its GitHub files) and
MVL-SIB (its TSVs and topic images), through the same code that reads the Hub, and one task end to end."""
import json
import sys
from pathlib import Path

import pytest
from PIL import Image

from mmx.data.retrieval import load_mvl_sib, load_xflickrco, load_xm3600, load_xtd10
from mmx.errors import MmxError

sys.path.insert(0, str(Path(__file__).parent))
import hub_fixtures_vision as fx  # noqa: E402
from cli_runner import cli  # noqa: E402


@pytest.fixture(autouse=True)
def _private_caches(tmp_path, monkeypatch):
    """Each test its own mmx cache (the images written from the parquet files) and datasets cache."""
    import datasets

    monkeypatch.setenv("MMX_CACHE_DIR", str(tmp_path / "mmx-cache"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf-datasets"))


def test_xm3600_fields_images_and_fingerprint(tmp_path):
    stored = fx.write_xm3600(tmp_path / "xm")
    d = load_xm3600(str(tmp_path / "xm"))
    assert d.languages == ["en", "de", "fil"]
    assert d.image_ids == [r[0] for r in fx.XM3600_ROWS]
    assert d.captions["en"] == [["A dog on a sofa.", "A brown dog."], ["A red car."], ["Two cats."]]
    assert d.captions["fil"] == [["Isang aso."], [], ["Dalawang pusa."]]  # an image without a Filipino caption
    # the images are the bytes the parquet holds, written once under the cache keyed by the data's revision
    assert [p.read_bytes() for p in d.image_paths] == [stored[i] for i in d.image_ids]
    assert all(p.suffix == ".jpg" and "hub-images" in str(p) for p in d.image_paths)
    assert d.source.startswith("local:") and len(d.fingerprint) == 16
    again = load_xm3600(str(tmp_path / "xm"))
    assert again.fingerprint == d.fingerprint and again.image_paths == d.image_paths
    sub = load_xm3600(str(tmp_path / "xm"), languages=["deu"])
    assert sub.languages == ["de"] and sub.source_codes == {"de": "de"} and sub.fingerprint != d.fingerprint


def test_xm3600_limit_reads_only_the_first_rows(tmp_path):
    fx.write_xm3600(tmp_path / "xm")
    d = load_xm3600(str(tmp_path / "xm"), limit=2, languages=["en", "de"])
    assert d.image_ids == [r[0] for r in fx.XM3600_ROWS[:2]]
    assert d.captions["de"] == [["Ein Hund."], ["Ein rotes Auto.", "Ein Auto."]]
    # only the two images asked for were decoded and written
    assert sorted(p.name for p in d.image_paths[0].parent.iterdir()) == sorted(f"{i}.jpg" for i in d.image_ids)
    assert d.fingerprint != load_xm3600(str(tmp_path / "xm"), limit=3, languages=["en", "de"]).fingerprint


def test_xm3600_google_release_still_reads(tmp_path):
    row = {"image/key": "abc", "en": {"caption": ["A dog."]}, "de": {"caption": ["Ein Hund."]}}
    (tmp_path / "captions.jsonl").write_text(json.dumps(row) + "\n")
    (tmp_path / "images").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "images" / "abc.jpg")
    d = load_xm3600(str(tmp_path / "captions.jsonl"), tmp_path / "images")
    assert d.image_ids == ["abc.jpg"] and d.captions == {"en": [["A dog."]], "de": [["Ein Hund."]]}


def test_language_the_set_lacks(tmp_path):
    fx.write_xm3600(tmp_path / "xm")
    with pytest.raises(MmxError, match=r"no captions for language\(s\) ko .*it has de, en, fil"):
        load_xm3600(str(tmp_path / "xm"), languages=["ko"])


def test_image_that_will_not_decode_names_the_row(tmp_path):
    fx.write_xm3600(tmp_path / "xm", bad_image=1)
    with pytest.raises(MmxError, match=r"split en, row 1\): image '00053b4d9d1c7d5c' will not decode"):
        load_xm3600(str(tmp_path / "xm"), languages=["en"])


def test_missing_column_names_split_and_columns(tmp_path):
    from datasets import Dataset

    fx.write_xflickrco(tmp_path / "xf")
    for f in (tmp_path / "xf" / "data").glob("*.parquet"):  # e.g. another revision that renamed the column
        Dataset.from_parquet(str(f)).rename_column("sentences", "caption").to_parquet(str(f))
    with pytest.raises(MmxError, match=r"xflickrco \(.*split en\): column\(s\) sentences missing; the data has "
                                       r"id, image, caption"):
        load_xflickrco(str(tmp_path / "xf"))


def test_xflickrco_one_sentence_per_image(tmp_path):
    stored = fx.write_xflickrco(tmp_path / "xf")
    d = load_xflickrco(str(tmp_path / "xf"), languages=["ja", "en"])
    assert d.languages == ["ja", "en"] and d.image_ids == ["1007129816", "391895"]
    assert d.captions["ja"] == [["オレンジ色の帽子の男性。"], ["バイクに乗る男性。"]]
    assert [p.read_bytes() for p in d.image_paths] == [stored["1007129816"], stored["391895"]]


def test_xtd10_repository_files(tmp_path):
    fx.write_xtd10(tmp_path / "xtd", tmp_path / "coco")
    d = load_xtd10(str(tmp_path / "xtd"), tmp_path / "coco")
    assert sorted(d.languages) == ["de", "en", "ja"] and d.source_codes["ja"] == "jp"  # STAIR's "jp"
    assert d.image_ids == fx.XTD10_IMAGES
    assert d.captions["de"] == [[c] for c in fx.XTD10_CAPTIONS["de"]]
    assert load_xtd10(str(tmp_path / "xtd"), tmp_path / "coco", limit=2).captions["ja"] == [["赤いヘルメットの男性"],
                                                                                          ["ベッドの上の猫"]]
    (tmp_path / "xtd" / "MIC" / "test_1kcaptions_de.txt").write_text("nur eine Zeile\n")
    with pytest.raises(MmxError, match=r"test_1kcaptions_de.txt has 1 captions for the 3 images"):
        load_xtd10(str(tmp_path / "xtd"), tmp_path / "coco")



@pytest.fixture
def origin(tmp_path, monkeypatch):
    """XTD10's origin served over HTTP from a temp folder: the repository's files under /raw/ and the image
    archive (images/<name>, as CLIP_benchmark's archive holds them) at /images.tar.gz."""
    import functools
    import http.server
    import tarfile
    import threading

    from mmx.data import retrieval

    site = tmp_path / "site"
    fx.write_xtd10(site / "raw", tmp_path / "stage" / "images")
    site.mkdir(exist_ok=True)
    with tarfile.open(site / "images.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "stage" / "images", arcname="images")
    served = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            served.append(self.path)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(site)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}"
    monkeypatch.setattr(retrieval, "XTD10_RAW", f"{url}/raw/")
    monkeypatch.setattr(retrieval, "XTD10_IMAGES", f"{url}/images.tar.gz")
    monkeypatch.setenv("MMX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    yield served
    srv.shutdown()


def test_xtd10_with_no_source_is_fetched_from_its_origin_once(origin, tmp_path, monkeypatch):
    d = load_xtd10(None, None, languages=["de", "ja"])
    assert sorted(d.languages) == ["de", "ja"] and d.image_ids == fx.XTD10_IMAGES
    assert d.captions["de"] == [[c] for c in fx.XTD10_CAPTIONS["de"]]
    assert [p.read_bytes() for p in d.image_paths] == [fx.jpeg(20 + i) for i in range(len(fx.XTD10_IMAGES))]
    fetched = sorted(origin)
    assert any("test_1kcaptions_de.txt" in x for x in fetched) and not any("_en.txt" in x for x in fetched)
    assert not (tmp_path / "cache" / "xtd10-origin" / "images.tar.gz").exists()  # unpacked, then removed
    origin.clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a second run reads the cache only
    assert load_xtd10(None, None, languages=["de", "ja"]).captions == d.captions and origin == []
    with pytest.raises(MmxError, match=r"test_1kcaptions_en.txt is not cached .*HF_HUB_OFFLINE.*mmx data download xtd10"):
        load_xtd10(None, None, languages=["en"])


def test_mvl_sib_topics(tmp_path):
    fx.write_mvl_sib(tmp_path / "mvl")
    d = load_mvl_sib(str(tmp_path / "mvl"))
    assert sorted(d.languages) == ["de", "en", "zh"] and d.source_codes["zh"] == "zho_Hant"
    assert len(d.image_ids) == 14 and d.image_ids[:2] == ["entertainment/entertainment_0.jpg",
                                                         "entertainment/entertainment_1.jpg"]
    assert d.image_groups[8] == "science" and d.image_ids[8] == "science/science_0.jpg"
    # each test sentence sits under an image of its topic (train/dev sentences are not read)
    assert d.captions["en"][8] == ["The telescope found a new planet."]
    assert d.captions["en"][10] == ["The team won the final."] and d.captions["en"][12] == ["Book the train early."]
    assert sum(map(len, d.captions["de"])) == 3
    lim = load_mvl_sib(str(tmp_path / "mvl"), limit=1, languages=["eng"])
    assert lim.languages == ["en"] and sum(map(len, lim.captions["en"])) == 1
    tsv = tmp_path / "mvl" / "data" / "sib200" / "deu_Latn" / "test.tsv"
    tsv.write_text(tsv.read_text().replace("\tsports\t", "\tsport\t"))
    with pytest.raises(MmxError, match=r"deu_Latn/test.tsv row 2 \(index_id 40\): topic 'sport'"):
        load_mvl_sib(str(tmp_path / "mvl"), languages=["de"])


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    from mmx.models.tiny import build_tiny

    return build_tiny("open_clip", tmp_path_factory.mktemp("oc") / "m", seed=0)


def test_xm3600_task_end_to_end(tiny_clip, tmp_path, capsys):
    fx.write_xm3600(tmp_path / "xm")
    code, out, err = cli(capsys, "evaluate", "--tasks", "xm3600_retrieval", "--model", tiny_clip,
                         "--data-args", f"source={tmp_path / 'xm'}", "--output", tmp_path / "r", "--no-progress")
    assert code == 0, err
    task = json.loads((tmp_path / "r" / "results.json").read_text())["tasks"]["xm3600_retrieval"]
    assert sorted(task["languages"]) == ["de", "en", "fil"]
    assert task["languages"]["en"]["n"]["t2i_r1"] == 4 and task["languages"]["fil"]["n"]["i2t_r1"] == 2
    assert task["languages"]["en"]["metrics"]["t2i_r10"] == 1.0  # 3 images: every caption's image is in the top 10


def test_mvl_sib_task_scores_topics(tiny_clip, tmp_path, capsys):
    """Text->image R@1 is whether the nearest image is of the sentence's topic: recomputed from the model."""
    from mmx.data.images import load_image
    from mmx.models.clip import OpenClip

    fx.write_mvl_sib(tmp_path / "mvl")
    code, out, err = cli(capsys, "evaluate", "--tasks", "mvl_sib", "--model", tiny_clip, "--languages", "en",
                         "--data-args", f"source={tmp_path / 'mvl'}", "--output", tmp_path / "r", "--no-progress")
    assert code == 0, err
    en = json.loads((tmp_path / "r" / "results.json").read_text())["tasks"]["mvl_sib"]["languages"]["en"]
    d = load_mvl_sib(str(tmp_path / "mvl"), languages=["en"])
    model = OpenClip(tiny_clip.split(":", 1)[1])
    img = model.encode_images([load_image(p, i, "t") for i, p in zip(d.image_ids, d.image_paths)])
    texts = [(t, d.image_groups[i]) for i, caps in enumerate(d.captions["en"]) for t in caps]
    txt = model.encode_texts([t for t, _ in texts])
    best = (txt @ img.T).argmax(1).tolist()
    want = sum(d.image_groups[b] == topic for b, (_, topic) in zip(best, texts)) / len(texts)
    assert en["n"]["t2i_r1"] == 3 and en["metrics"]["t2i_r1"] == pytest.approx(want, abs=1e-9)
