"""Offline copies of the vision benchmarks' repositories, a few rows each, in the form the Hub holds them.

- XM3600 (floschne/xm3600) and xFlickrCO (floschne/xflickrco): what ``push_to_hub`` of a DatasetDict with one
  split per language writes: ``data/<split>-00000-of-00001.parquet`` with datasets' Image feature (a struct of
  the encoded ``bytes`` and ``path``) and a README whose YAML lists the splits' files.
- XTD10: its GitHub repository's text files (XTD10/, MIC/, STAIR/: one caption per line) and COCO-named images.
- MVL-SIB (WueNLP/mvl-sib): ``data/sib200/<lang>/{train,dev,test}.tsv`` (index_id, category, text) and
  ``data/images/sib200/<topic>_<n>.jpg``.

Each writer takes a folder (pytest's tmp_path) and returns what it wrote, for the tests to compare against.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from PIL import Image

XM3600_ROWS = [  # image_id, locale, {language: captions}
    ("000411001ff7dd4f", "ar", {"en": ["A dog on a sofa.", "A brown dog."], "de": ["Ein Hund."],
                                "fil": ["Isang aso."]}),
    ("00053b4d9d1c7d5c", "bn", {"en": ["A red car."], "de": ["Ein rotes Auto.", "Ein Auto."], "fil": []}),
    ("0005c3a8b1d9e2f1", "cs", {"en": ["Two cats."], "de": ["Zwei Katzen."], "fil": ["Dalawang pusa."]}),
]
XFLICKRCO_ROWS = [  # id, {language: sentence}
    ("1007129816", {"en": "A man in an orange hat.", "de": "Ein Mann mit orangefarbenem Hut.",
                    "ja": "オレンジ色の帽子の男性。"}),
    ("391895", {"en": "A man riding a motorbike.", "de": "Ein Mann fährt Motorrad.", "ja": "バイクに乗る男性。"}),
]


def jpeg(seed: int, size=(16, 12)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (seed * 53 % 256, seed * 97 % 256, seed * 31 % 256)).save(buf, format="JPEG")
    return buf.getvalue()


def _readme(root: Path, splits: list[str]) -> None:
    lines = ["---", "configs:", "- config_name: default", "  data_files:"]
    for s in splits:
        lines += [f"  - split: {s}", f"    path: data/{s}-*"]
    (root / "README.md").write_text("\n".join(lines + ["---", "", "Test fixture.", ""]), encoding="utf-8")


def _parquet(root: Path, split: str, rows: dict, features) -> None:
    from datasets import Dataset

    (root / "data").mkdir(parents=True, exist_ok=True)
    Dataset.from_dict(rows, features=features).to_parquet(str(root / "data" / f"{split}-00000-of-00001.parquet"))


def write_xm3600(root: Path, rows=XM3600_ROWS, bad_image: int | None = None) -> dict[str, bytes]:
    """floschne/xm3600's layout; returns image_id -> the JPEG bytes stored. ``bad_image``: that row's image
    bytes are cut short (will not decode)."""
    from datasets import Features, Image as ImageFeature, Sequence, Value

    feats = Features({"image": ImageFeature(), "image_id": Value("string"), "image_locale": Value("string"),
                      "captions": Sequence(Value("string")), "captions_tokenized": Sequence(Value("string")),
                      "captions_tokenized_lowercase": Sequence(Value("string"))})
    stored = {iid: jpeg(i) for i, (iid, _, _) in enumerate(rows)}
    if bad_image is not None:
        iid = rows[bad_image][0]
        stored[iid] = stored[iid][:40]
    langs = list(rows[0][2])
    for lang in langs:
        caps = [r[2][lang] for r in rows]
        _parquet(root, lang, {
            "image": [{"bytes": stored[iid], "path": f"{iid}.jpg"} for iid, _, _ in rows],
            "image_id": [iid for iid, _, _ in rows], "image_locale": [loc for _, loc, _ in rows],
            "captions": caps, "captions_tokenized": [[c.lower() for c in cl] for cl in caps],
            "captions_tokenized_lowercase": [[c.lower() for c in cl] for cl in caps]}, feats)
    _readme(root, langs)
    return stored


def write_xflickrco(root: Path, rows=XFLICKRCO_ROWS) -> dict[str, bytes]:
    """floschne/xflickrco's layout; returns id -> the JPEG bytes stored."""
    from datasets import Features, Image as ImageFeature, Value

    feats = Features({"id": Value("string"), "image": ImageFeature(), "sentences": Value("string")})
    stored = {iid: jpeg(10 + i) for i, (iid, _) in enumerate(rows)}
    langs = list(rows[0][1])
    for lang in langs:
        _parquet(root, lang, {"id": [iid for iid, _ in rows],
                              "image": [{"bytes": stored[iid], "path": None} for iid, _ in rows],
                              "sentences": [r[1][lang] for r in rows]}, feats)
    _readme(root, langs)
    return stored


XTD10_IMAGES = ["COCO_train2014_000000061844.jpg", "COCO_train2014_000000061849.jpg",
                "COCO_train2014_000000061850.jpg"]
XTD10_CAPTIONS = {"en": ["a man with a red helmet", "a cat on a bed", "two buses"],
                  "de": ["ein Mann mit rotem Helm", "eine Katze auf einem Bett", "zwei Busse"],
                  "jp": ["赤いヘルメットの男性", "ベッドの上の猫", "二台のバス"]}


def write_xtd10(root: Path, images: Path) -> None:
    """XTD10's GitHub layout (English in XTD10/, German in MIC/, Japanese in STAIR/) and its COCO images."""
    from mmx.data.retrieval import XTD10_FILES

    (root / "XTD10").mkdir(parents=True, exist_ok=True)
    (root / "XTD10" / "test_image_names.txt").write_text("\n".join(XTD10_IMAGES) + "\n", encoding="utf-8")
    for code, lines in XTD10_CAPTIONS.items():
        f = root / XTD10_FILES[code]
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    images.mkdir(parents=True, exist_ok=True)
    for i, n in enumerate(XTD10_IMAGES):
        (images / n).write_bytes(jpeg(20 + i))


MVL_SIB_TOPICS = ("entertainment", "geography", "health", "politics", "science", "sports", "travel")
MVL_SIB_TEST = [  # index_id, category, {language: text}
    (12, "science", {"eng_Latn": "The telescope found a new planet.", "deu_Latn": "Das Teleskop fand einen Planeten.",
                     "zho_Hant": "望遠鏡發現了一顆新行星。"}),
    (40, "sports", {"eng_Latn": "The team won the final.", "deu_Latn": "Die Mannschaft gewann das Finale.",
                    "zho_Hant": "球隊贏得了決賽。"}),
    (77, "travel", {"eng_Latn": "Book the train early.", "deu_Latn": "Buchen Sie den Zug früh.",
                    "zho_Hant": "提早預訂火車票。"}),
]


def write_mvl_sib(root: Path, rows=MVL_SIB_TEST, per_topic: int = 2) -> None:
    """WueNLP/mvl-sib's files: per language SIB-200's TSVs (train and dev hold other sentences) and the
    topic images ``<topic>_<n>.jpg`` (the real set has 10 per topic; ``per_topic`` here)."""
    langs = list(rows[0][2])
    for lang in langs:
        d = root / "data" / "sib200" / lang
        d.mkdir(parents=True, exist_ok=True)
        for split, part in (("train", [(1, "health", {lang: "train sentence"})]),
                            ("dev", [(2, "politics", {lang: "dev sentence"})]), ("test", rows)):
            with open(d / f"{split}.tsv", "w", encoding="utf-8", newline="") as f:
                w = csv.writer(f, delimiter="\t", lineterminator="\n")
                w.writerow(["index_id", "category", "text"])
                for idx, cat, texts in part:
                    w.writerow([idx, cat, texts[lang]])
    img = root / "data" / "images" / "sib200"
    img.mkdir(parents=True, exist_ok=True)
    for t, topic in enumerate(MVL_SIB_TOPICS):
        for n in range(per_topic):
            (img / f"{topic}_{n}.jpg").write_bytes(jpeg(40 + t * 10 + n))
