"""Offline copies of the VQA sets' Hugging Face repositories, a few rows each, in the form the Hub holds them.

floschne/xgqa, floschne/maxm and floschne/multimodal-m3exam were uploaded with ``datasets``' push_to_hub:
a README.md whose YAML ``configs`` maps each split (one per language) to ``data/<split>-*.parquet``, and
parquet files whose image columns are datasets' Image feature (a struct of the encoded ``bytes`` and a
``path``). The columns and their nesting follow the repositories' dataset viewers and the code that loads
them (see the VQA entries of the data catalogue); the row values are made up, the images are tiny JPEG/PNG
files. Each writer returns the folder, to be given to the loader as ``source``.
"""
from __future__ import annotations

import io
from pathlib import Path

import datasets
from PIL import Image

RGB = {"red": (215, 35, 35), "green": (30, 150, 60), "blue": (35, 75, 215), "yellow": (245, 205, 0)}


def image_bytes(colour: str = "red", fmt: str = "JPEG", size: int = 16) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), RGB[colour]).save(buf, format=fmt)
    return buf.getvalue()


def image(colour: str = "red", fmt: str = "JPEG", path: str | None = None) -> dict:
    """An Image feature's stored value: the encoded file and its original name (None when uploaded from PIL)."""
    return {"bytes": image_bytes(colour, fmt), "path": path}


def write_repo(root: Path, features: datasets.Features, splits: dict[str, list[dict]]) -> Path:
    """data/<split>-00000-of-00001.parquet per split and the README that names them, as push_to_hub writes."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    lines = ["---", "configs:", "- config_name: default", "  data_files:"]
    for split, rows in splits.items():
        cols = {name: [row.get(name) for row in rows] for name in features}
        ds = datasets.Dataset.from_dict(cols, features=features)
        ds.to_parquet(str(root / "data" / f"{split}-00000-of-00001.parquet"))
        lines += [f"  - split: {split}", f"    path: data/{split}-*"]
    (root / "README.md").write_text("\n".join(lines + ["---", "", "Test copy of a Hub dataset.", ""]),
                                    encoding="utf-8")
    return root


XGQA = datasets.Features({
    "question_id": datasets.Value("string"), "image_id": datasets.Value("string"),
    "question": datasets.Value("string"), "answer": datasets.Value("string"),
    "full_answer": datasets.Value("string"), "image": datasets.Image()})


def xgqa_row(qid: str, image_id: str, question: str, answer: str, colour: str = "red") -> dict:
    return {"question_id": qid, "image_id": image_id, "question": question, "answer": answer,
            "full_answer": f"The answer is {answer}.", "image": image(colour)}


def write_xgqa(root: Path, splits: dict[str, list[dict]] | None = None) -> Path:
    """floschne/xgqa: one split per language, the same GQA questions (and English answers) in each."""
    if splits is None:
        splits = {
            "en": [xgqa_row("20968379", "n288870", "What color is the table?", "brown"),
                   xgqa_row("20968380", "n288871", "Is it a cat?", "no", "blue"),
                   xgqa_row("20968381", "n288870", "Is the table left of the chair?", "yes")],
            "de": [xgqa_row("20968379", "n288870", "Welche Farbe hat der Tisch?", "brown"),
                   xgqa_row("20968380", "n288871", "Ist es eine Katze?", "no", "blue"),
                   xgqa_row("20968381", "n288870", "Ist der Tisch links vom Stuhl?", "yes")],
            "bn": [xgqa_row("20968379", "n288870", "টেবিলের রং কী?", "brown")],
        }
    return write_repo(root, XGQA, splits)


MAXM = datasets.Features({
    "question_id": datasets.Value("string"), "image_id": datasets.Value("string"),
    "image_url": datasets.Value("string"), "question": datasets.Value("string"),
    "answers": datasets.List(datasets.Value("string")),
    "processed_answers": datasets.List(datasets.Value("string")),
    "is_collection": datasets.Value("bool"), "language": datasets.Value("string"), "image": datasets.Image()})


def maxm_row(split: str, n: int, image_id: str, question: str, answers: list[str], colour: str = "green") -> dict:
    return {"question_id": f"{split}_{image_id}_{n}", "image_id": image_id, "question": question,
            "image_url": f"https://open-images-dataset.s3.amazonaws.com/crossmodal-3600/{image_id}.jpg",
            "answers": answers, "processed_answers": [a.lower() for a in answers], "is_collection": False,
            "language": split, "image": image(colour)}


def write_maxm(root: Path, splits: dict[str, list[dict]] | None = None) -> Path:
    """floschne/maxm: splits en fr hi iw ro th zh (MaXM's own codes; iw is Hebrew)."""
    if splits is None:
        splits = {
            "en": [maxm_row("en", 0, "000411001ff7dd4f", "What color is the cat?", ["black", "dark"]),
                   maxm_row("en", 1, "0a4e6a0c2a9f3c11", "How many dogs are there?", ["2", "two"], "blue")],
            "iw": [maxm_row("iw", 0, "000411001ff7dd4f", "מה צבע החתול?", ["שחור"])],
            "th": [maxm_row("th", 0, "000411001ff7dd4f", "แมวสีอะไร", ["สีดำ", "ดำ"]),
                   maxm_row("th", 1, "0a4e6a0c2a9f3c11", "มีสุนัขกี่ตัว", ["2", "สอง"], "blue")],
        }
    return write_repo(root, MAXM, splits)


M3EXAM = datasets.Features({
    "question_text": datasets.Value("string"), "background_description": datasets.List(datasets.Value("string")),
    "answer_text": datasets.Value("string"), "options": datasets.List(datasets.Value("string")),
    "need_image": datasets.Value("string"), "language": datasets.Value("string"), "level": datasets.Value("string"),
    "subject": datasets.Value("string"), "subject_category": datasets.Value("string"),
    "year": datasets.Value("string"), "image_ids": datasets.List(datasets.Value("string")),
    "images": datasets.List(datasets.Image())})


def m3exam_row(language: str, question: str, options: list[str], answer: str, pictures: dict[str, str],
               background: list[str] | None = None, level: str = "low") -> dict:
    """``pictures``: image name (as the texts cite it) -> colour of that image."""
    return {"question_text": question, "background_description": background or [], "answer_text": answer,
            "options": options, "need_image": "yes", "language": language, "level": level, "subject": "math",
            "subject_category": "math", "year": "2020", "image_ids": list(pictures),
            "images": [image(c, "PNG" if n.endswith(".png") else "JPEG", n) for n, c in pictures.items()]}


def write_m3exam(root: Path, splits: dict[str, list[dict]] | None = None) -> Path:
    """floschne/multimodal-m3exam: the multimodal questions, a split per language named as M3Exam names it."""
    if splits is None:
        splits = {
            "english": [
                m3exam_row("english", "What colour is the shape? (image)[image-0.jpg]",
                           ["(1) red", "(2) green", "(3) blue"], "2", {"image-0.jpg": "green"}),
                m3exam_row("english", "Which one is larger?", ["A. the first", "B. the second"], "B",
                           {"image-1.png": "red", "image-2.png": "blue"},
                           background=["Look at (image)[image-2.png] and (image)[image-1.png]."])],
            "vietnamese": [
                m3exam_row("vietnamese", "Hình nào là hình vuông? (image)[image-0.jpg]",
                           ["A. Hình tròn", "B. Hình vuông", "C. Hình tam giác"], "B", {"image-0.jpg": "yellow"})],
        }
    return write_repo(root, M3EXAM, splits)
