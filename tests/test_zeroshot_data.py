"""Zero-shot classification data: the ImageNet-1k class order, Babel-ImageNet's real file, an ImageNet-val
folder in the usual layout, and the probe set's shape/colour classes."""
import json
from pathlib import Path

import pytest
from PIL import Image

from mmx.data.classification import (imagenet_wnids, load_babel_imagenet, load_probe_attributes,
                                     read_babel_imagenet)
from mmx.errors import MmxError
from mmx.languages import get_language

ROOT = Path(__file__).resolve().parents[1]
PROBE = ROOT / "assets" / "probe"


def test_imagenet_wnids_are_the_sorted_1k_order():
    w = imagenet_wnids()
    assert len(w) == 1000 and len(set(w)) == 1000 and w == sorted(w)
    assert w[0] == "n01440764" and w[1] == "n01443537" and w[999] == "n15075141"  # tench, goldfish, toilet tissue
    try:
        import timm.data

        info = Path(timm.data.__file__).parent / "_info" / "imagenet_synsets.txt"
        assert info.read_text().split() == w
    except ImportError:
        pass


@pytest.fixture
def babel(shared_data) -> Path:
    return shared_data / "babel-imagenet" / "babel_imagenet-298.json"


def test_real_babel_imagenet_file(babel):
    obj = read_babel_imagenet(babel)
    assert len(obj) == 298
    codes = {get_language(c).code for c in obj}  # every code resolves in mmx's language table
    assert len(codes) == 295  # SIMPLE, BE_X_OLD and NDS_NL are variants of en, be and nds
    idx, names = obj["EN"]
    assert idx == list(range(1000)) and names[1] == "goldfish"
    de = dict(zip(*obj["DE"]))
    assert de[1] == "Goldfisch" and len(de) < 1000  # a language names a subset of the classes
    assert min(len(v[0]) for v in obj.values()) == 10


def _imagenet_val(root: Path, classes, per_class=2):
    w = imagenet_wnids()
    for c in classes:
        for j in range(per_class):
            d = root / w[c]
            d.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (16, 16), (c % 256, j * 40, 7)).save(d / f"ILSVRC2012_val_{c:05d}{j}.JPEG")


def test_babel_imagenet_loader_on_a_val_folder(babel, tmp_path):
    obj = read_babel_imagenet(babel)
    want = sorted(set(obj["TN"][0]) | set(obj["KSH"][0]))
    _imagenet_val(tmp_path / "val", want)
    d = load_babel_imagenet(babel, tmp_path / "val", languages=["tn", "ksh"])
    assert d.languages == ["tn", "ksh"] and d.source_codes == {"tn": "TN", "ksh": "KSH"}
    assert d.class_names["tn"] == dict(zip(obj["TN"][0], obj["TN"][1]))
    assert len(d.image_ids) == 2 * len(want) and sorted(set(d.labels)) == want
    w = imagenet_wnids()
    for i, p, y in zip(d.image_ids, d.image_paths, d.labels):
        assert p.parent.name == w[y] and i == f"{w[y]}/{p.name}"
    assert len(load_babel_imagenet(babel, tmp_path / "val", languages=["tn"], limit=1).image_ids) == 10


def test_babel_imagenet_wikipedia_variants_are_reported_once(babel, tmp_path, capsys):
    _imagenet_val(tmp_path / "val", range(1000), per_class=1)
    d = load_babel_imagenet(babel, tmp_path / "val", languages=["en", "be", "nds"])
    assert d.source_codes == {"en": "EN", "be": "BE", "nds": "NDS"}
    assert "left out SIMPLE, BE_X_OLD, NDS_NL" in capsys.readouterr().err


def test_babel_imagenet_missing_classes_are_named(babel, tmp_path):
    obj = read_babel_imagenet(babel)
    _imagenet_val(tmp_path / "val", obj["TN"][0][1:])
    with pytest.raises(MmxError, match=r"1 of the 10 classes have no images .*n01518878"):  # class 9: ostrich
        load_babel_imagenet(babel, tmp_path / "val", languages=["tn"])
    with pytest.raises(MmxError, match="no class names for language.*fil"):  # Filipino: not in Babel-ImageNet
        load_babel_imagenet(babel, tmp_path / "val", languages=["fil"])
    with pytest.raises(MmxError, match="ImageNet validation folder not found"):
        load_babel_imagenet(babel, tmp_path / "nope", languages=["tn"])


def test_babel_file_format_errors(tmp_path):
    (tmp_path / "b.json").write_text(json.dumps({"EN": [[0, 1], ["tench"]]}))
    with pytest.raises(MmxError, match="language 'EN' is not"):
        read_babel_imagenet(tmp_path / "b.json")
    with pytest.raises(MmxError, match="class-name file not found"):
        read_babel_imagenet(tmp_path / "none.json")


def test_probe_attribute_classes_per_language():
    d = load_probe_attributes(PROBE / "vqa.json", PROBE / "images", attribute="shape")
    assert len(d.languages) == 15 and len(d.image_ids) == 48
    # classes in sorted order of the attribute's values
    assert d.class_names["en"] == {0: "circle", 1: "square", 2: "star", 3: "triangle"}
    assert d.class_names["de"] == {0: "Kreis", 1: "Quadrat", 2: "Stern", 3: "Dreieck"}
    assert d.class_names["ja"][2] == "星"
    cap = json.loads((PROBE / "captions.json").read_text())
    assert d.image_ids == cap["images"]
    assert [d.class_names["en"][y] for y in d.labels] == [a["shape"] for a in cap["attributes"]]
    c = load_probe_attributes(PROBE / "vqa.json", PROBE / "images", attribute="colour", languages=["ru"])
    assert c.class_names == {"ru": {0: "синий", 1: "зелёный", 2: "оранжевый", 3: "фиолетовый", 4: "красный",
                                    5: "жёлтый"}}
    for lang, names in load_probe_attributes(PROBE / "vqa.json", PROBE / "images", "colour").class_names.items():
        assert len(set(names.values())) == 6, lang  # distinct names: the task is well posed in every language
    with pytest.raises(MmxError, match="attribute 'size'"):
        load_probe_attributes(PROBE / "vqa.json", PROBE / "images", attribute="size")


def _imagenet_hub_copy(root: Path, rows) -> None:
    """ILSVRC/imagenet-1k's validation split as parquet (columns image {bytes, path} and label), in one file
    under data/ as the Hub's parquet layout keeps it."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    recs = []
    for name, label, colour in rows:
        buf = io.BytesIO()
        Image.new("RGB", (16, 16), colour).save(buf, format="JPEG")
        recs.append({"image": {"bytes": buf.getvalue(), "path": name}, "label": label})
    (root / "data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(recs), root / "data" / "validation-00000-of-00001.parquet")


def test_babel_imagenet_images_from_the_hub_copy_and_names_from_the_repository(babel, tmp_path, monkeypatch):
    import functools
    import http.server
    import threading

    from mmx.data import classification

    obj = read_babel_imagenet(babel)
    tn = sorted(obj["TN"][0])  # Setswana names 10 classes
    other = next(i for i in range(1000) if i not in tn)
    rows = [(f"ILSVRC2012_val_{k:08d}.JPEG", label, (k, 9, 9))
            for k, label in enumerate([tn[0], other, tn[0], tn[1], tn[0]] + tn[1:])]
    _imagenet_hub_copy(tmp_path / "imagenet", rows)
    site = tmp_path / "site"
    site.mkdir()
    (site / "babel_imagenet-298.json").write_bytes(babel.read_bytes())
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(
        type("H", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *a: None}), directory=str(site)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    monkeypatch.setattr(classification, "BABEL_JSON", f"http://127.0.0.1:{srv.server_address[1]}/babel_imagenet-298.json")
    monkeypatch.setenv("MMX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    try:
        d = load_babel_imagenet(languages=["tn"], limit=2, source=str(tmp_path / "imagenet"))
    finally:
        srv.shutdown()
    w = imagenet_wnids()
    assert d.languages == ["tn"] and sorted(set(d.labels)) == tn
    first = [i for i in d.image_ids if i.startswith(w[tn[0]] + "/")]
    assert first == [f"{w[tn[0]]}/ILSVRC2012_val_00000000.JPEG", f"{w[tn[0]]}/ILSVRC2012_val_00000002.JPEG"]  # limit 2
    assert not any(i.startswith(w[other]) for i in d.image_ids)  # a class no asked language names is not written
    stored = {r[0]: r for r in rows}
    for i, p in zip(d.image_ids, d.image_paths):  # the repository's bytes, not a re-encoding
        assert Image.open(p).getpixel((8, 8))[1] < 40 and p.name in stored
    # a bad row is named
    _imagenet_hub_copy(tmp_path / "bad", [("a.JPEG", tn[0], (1, 1, 1)), ("b.JPEG", 1000, (1, 1, 1))])
    with pytest.raises(MmxError, match=r"row 1: label 1000 is not a class index"):
        load_babel_imagenet(babel, languages=["tn"], source=str(tmp_path / "bad"))
