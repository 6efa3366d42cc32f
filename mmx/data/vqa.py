"""Visual question answering data: the probe set's questions, xGQA, MaXM, VLSP-EVJVQA and M3Exam's
multimodal questions, each read from its released layout on disk.

Every loader returns a VQAData of VQASamples whose ``language`` is mmx's canonical code of the question's
language; ``answer_language`` is the language the reference answers are written in (xGQA translated
only the questions, so its answers are English), which picks the answer normaliser.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmx.data.text import read_text
from mmx.errors import MmxError
from mmx.languages import normalize_code, pick_languages
from mmx.registry import register_loader


@dataclass
class VQASample:
    id: str
    language: str
    question: str
    images: list[Path]
    answers: list[str]  # annotators' answers (annotators=True) or the accepted answers
    annotators: bool = False
    options: list[str] | None = None  # multiple choice
    answer_index: int | None = None
    answer_language: str | None = None  # default: the question's language
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class VQAData:
    name: str
    samples: list[VQASample]
    fingerprint: str = ""
    source: str = ""

    @property
    def languages(self) -> list[str]:
        return sorted({s.language for s in self.samples})


def _read_json(path: Path, name: str, what: str) -> Any:
    try:
        return json.loads(read_text(Path(path), name))
    except FileNotFoundError as e:
        raise MmxError(f"{name}: {what} not found: {path}") from e
    except json.JSONDecodeError as e:
        raise MmxError(f"{name}: {path} is not valid JSON ({e})") from e


def finish(name: str, samples: list[VQASample], sources: list[Path], languages: list[str] | None,
           limit: int | None) -> VQAData:
    """Keep the asked-for languages and the first ``limit`` samples of each; check ids, answers and images."""
    have = sorted({s.language for s in samples})
    if languages is not None:
        want = pick_languages(have, languages, name, ", ".join(map(str, sources)), "questions in")
        samples = [s for s in samples if s.language in want]
    if limit is not None:
        count: dict[str, int] = {}
        kept = []
        for s in samples:
            count[s.language] = count.get(s.language, 0) + 1
            if count[s.language] <= limit:
                kept.append(s)
        samples = kept
    if not samples:
        raise MmxError(f"{name}: no questions{' in ' + ', '.join(languages) if languages else ''} in "
                       f"{', '.join(map(str, sources))}: nothing to evaluate")
    seen: set[str] = set()
    for s in samples:
        if s.id in seen:
            raise MmxError(f"{name}: sample id {s.id!r} occurs twice in {', '.join(map(str, sources))}")
        seen.add(s.id)
        if s.options is None and not any(a and str(a).strip() for a in s.answers):
            raise MmxError(f"{name}: sample {s.id!r} has an empty reference answer in {', '.join(map(str, sources))}; "
                           "fix or drop that question")
        if s.options is not None and not (s.answer_index is not None and 0 <= s.answer_index < len(s.options)):
            raise MmxError(f"{name}: sample {s.id!r} has no valid answer among its {len(s.options)} options")
        for p in s.images:
            if not p.is_file():
                raise MmxError(f"{name}: image {p} of sample {s.id!r} is missing; point dataset.images "
                               "(or --data-args images=DIR) at the folder that holds the images")
    h = hashlib.sha256()
    for src in sources:
        h.update(Path(src).read_bytes())
    h.update(json.dumps([[s.id, s.language] for s in samples]).encode())
    for p in sorted({p for s in samples for p in s.images}):
        h.update(f"{p.name}:{p.stat().st_size}\n".encode())
    return VQAData(name, samples, h.hexdigest()[:16], ", ".join(map(str, sources)))


@register_loader("probe_vqa")
def load_probe_vqa(path: Path, images: Path, name: str = "probe_vqa", languages=None, limit=None):
    """``assets/probe/vqa.json`` (written by assets/generate_probe_vqa.py): ``{"images", "attributes", "types",
    "questions": {lang: {type: question}}, "answers": {lang: {type: {value: [accepted answers]}}}}``.
    One sample per image, question type and language, ids ``LANG/probe_000/colour``."""
    obj = _read_json(path, name, "question file")
    if not isinstance(obj, dict) or not all(k in obj for k in ("images", "attributes", "questions", "answers")):
        raise MmxError(f"{name}: {path} should hold images, attributes, questions and answers "
                       "(regenerate it with assets/generate_probe_vqa.py)")
    samples = []
    for code, qs in obj["questions"].items():
        lang = normalize_code(code, path)
        for image, attr in zip(obj["images"], obj["attributes"]):
            stem = image.rsplit(".", 1)[0]
            for kind in obj.get("types", list(qs)):
                samples.append(VQASample(id=f"{lang}/{stem}/{kind}", language=lang, question=qs[kind],
                                         images=[Path(images) / image],
                                         answers=list(obj["answers"][code][kind][str(attr[kind])]),
                                         extra={"type": kind}))
    return finish(name, samples, [Path(path)], languages, limit)


_XGQA_ZERO = "testdev_balanced_questions_{lang}.json"


@register_loader("xgqa")
def load_xgqa(path: Path, images: Path, name: str = "xgqa", languages=None, limit=None, split: str = "test"):
    """xGQA (github.com/adapter-hub/xGQA): questions in GQA's format,
    ``{question_id: {"imageId", "question", "answer", "fullAnswer", ...}}``, one file per language.
    ``path``: ``data/zero_shot/`` (``testdev_balanced_questions_<lang>.json``), ``data/few_shot/``
    (``<lang>/<split>.json``, split test/dev/train_N) or one such file. Images: GQA's ``images/<imageId>.jpg``.
    Answers are GQA's English answers for every language (only the questions were translated)."""
    path = Path(path)
    files: list[tuple[str, Path]] = []
    if path.is_file():
        m = re.search(r"_([A-Za-z-]+)\.json$", path.name)
        lang = m.group(1) if m else path.parent.name
        files.append((lang, path))
    elif path.is_dir():
        for f in sorted(path.glob(_XGQA_ZERO.format(lang="*"))):
            files.append((f.stem.rsplit("_", 1)[1], f))
        if not files:
            files = [(d.name, d / f"{split}.json") for d in sorted(path.iterdir()) if (d / f"{split}.json").is_file()]
    if not files:
        raise MmxError(f"{name}: no xGQA question files at {path}: expected data/zero_shot/ with "
                       f"{_XGQA_ZERO.format(lang='<lang>')}, data/few_shot/<lang>/{split}.json, or one such file")
    samples = []
    for code, f in files:
        lang = normalize_code(code, f)
        obj = _read_json(f, name, "question file")
        if not isinstance(obj, dict):
            raise MmxError(f"{name}: {f} should map question ids to GQA question records")
        for qid, q in obj.items():
            try:
                samples.append(VQASample(id=f"{lang}/{qid}", language=lang, question=q["question"],
                                         images=[Path(images) / f"{q['imageId']}.jpg"], answers=[q["answer"]],
                                         answer_language="en",
                                         extra={"full_answer": q.get("fullAnswer"), "types": q.get("types")}))
            except (KeyError, TypeError) as e:
                raise MmxError(f"{name}: {f}: question {qid!r} is not a GQA record (missing {e})") from e
    return finish(name, samples, [f for _, f in files], languages, limit)


@register_loader("maxm")
def load_maxm(path: Path, images: Path, name: str = "maxm", languages=None, limit=None):
    """MaXM v1 (github.com/google-research-datasets/maxm): one JSON per language,
    ``{"dataset", "version", "split": LANG, "annotations": [{"image_id", "image_url",
    "qa_pairs": [{"question_id", "question", "answers", "processed_answers", "is_collection"}]}]}``.
    ``path``: the folder of those files or one file. Images are XM3600's ``<image_id>.jpg``."""
    path = Path(path)
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files:
        raise MmxError(f"{name}: no MaXM JSON files in {path}")
    samples = []
    for f in files:
        obj = _read_json(f, name, "MaXM file")
        if not isinstance(obj, dict) or "annotations" not in obj or "split" not in obj:
            raise MmxError(f"{name}: {f} is not a MaXM file (needs 'split' and 'annotations')")
        lang = normalize_code(obj["split"], f)
        for ann in obj["annotations"]:
            img = Path(images) / f"{ann['image_id']}.jpg"
            for qa in ann.get("qa_pairs", []):
                samples.append(VQASample(id=f"{lang}/{qa['question_id']}", language=lang, question=qa["question"],
                                         images=[img], answers=list(qa.get("answers") or []),
                                         extra={"is_collection": qa.get("is_collection"),
                                                "processed_answers": qa.get("processed_answers")}))
    return finish(name, samples, files, languages, limit)


def _evjvqa_language(text: str) -> str:
    """EVJVQA mixes English, Vietnamese and Japanese questions without a language field: tell them by script."""
    if re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", text):
        return "ja"
    if re.search(r"[ăâđêôơưĂÂĐÊÔƠƯ]|[\u0300-\u0323]|[àáảãạèéẻẽẹìíỉĩịòóỏõọùúủũụỳýỷỹỵ]", text.lower()):
        return "vi"
    return "en"


@register_loader("evjvqa")
def load_evjvqa(path: Path, images: Path, name: str = "evjvqa", languages=None, limit=None):
    """VLSP 2022 EVJVQA: ``{"images": [{"id", "filename"}], "annotations": [{"id", "image_id", "question",
    "answer"}]}`` (COCO-like); questions in English, Vietnamese or Japanese, answered in the same language."""
    obj = _read_json(path, name, "annotation file")
    if not isinstance(obj, dict) or "images" not in obj or "annotations" not in obj:
        raise MmxError(f"{name}: {path} should hold 'images' and 'annotations' (the EVJVQA layout)")
    files = {im["id"]: im["filename"] for im in obj["images"]}
    samples = []
    for a in obj["annotations"]:
        if a["image_id"] not in files:
            raise MmxError(f"{name}: {path}: annotation {a['id']} names image_id {a['image_id']} "
                           "that is not in 'images'")
        lang = _evjvqa_language(a["question"])
        samples.append(VQASample(id=f"{lang}/{a['id']}", language=lang, question=a["question"],
                                 images=[Path(images) / files[a["image_id"]]], answers=[a.get("answer", "")]))
    return finish(name, samples, [Path(path)], languages, limit)


_M3_IMAGE = re.compile(r"\[(image-[^\]\s]+\.(?:png|jpe?g|gif|bmp|webp))\]", re.I)
_M3_LABEL = re.compile(r"^\s*(?:\(\s*([A-Za-z0-9١-٩ก-ฮ一-十]+)\s*\)|([A-Za-z0-9])\s*[.)．、:])\s*")


def _m3_option(text: str) -> tuple[str | None, str]:
    m = _M3_LABEL.match(text)
    if not m:
        return None, text.strip()
    return (m.group(1) or m.group(2)), text[m.end():].strip()


@register_loader("m3exam")
def load_m3exam(path: Path, images: Path | None = None, name: str = "m3exam", languages=None, limit=None):
    """M3Exam's multimodal questions: ``data/multimodal-questions/<language>-questions-image.json`` (a list of
    ``{"question_text", "background_description": [...], "options": ["(1) ...", ...], "answer_text": "1",
    "language", "level", "subject", ...}``) with images ``images-<language>/image-N.png`` referenced in the
    texts as ``[image-N.png]``. ``path``: that folder or one file; ``images``: the image folder (default:
    ``images-<language>`` next to the file)."""
    path = Path(path)
    files = sorted(path.glob("*-questions-image.json")) if path.is_dir() else [path]
    if not files:
        raise MmxError(f"{name}: no <language>-questions-image.json files in {path}")
    samples = []
    for f in files:
        rows = _read_json(f, name, "question file")
        if not isinstance(rows, list):
            raise MmxError(f"{name}: {f} should hold a list of questions")
        lang_name = f.name.split("-questions")[0]
        for i, q in enumerate(rows):
            lang = normalize_code(q.get("language") or lang_name, f)
            img_dir = Path(images) if images else f.parent / f"images-{lang_name}"
            sid = f"{lang}/{q.get('id', i)}"
            labels, options = zip(*[_m3_option(o) for o in q.get("options") or []]) if q.get("options") else ((), ())
            answer = str(q.get("answer_text", "")).strip().strip("()")
            idx = next((j for j, lab in enumerate(labels) if lab is not None and lab.lower() == answer.lower()), None)
            if idx is None and answer.isdigit() and all(lab is None for lab in labels):
                idx = int(answer) - 1  # unlabelled options: the answer is a 1-based position
            texts = list(q.get("background_description") or []) + [q.get("question_text", "")] + list(options)
            names = list(dict.fromkeys(m for t in texts for m in _M3_IMAGE.findall(t)))
            samples.append(VQASample(
                id=sid, language=lang, question="\n".join([*q.get("background_description", []),
                                                           q.get("question_text", "")]).strip(),
                images=[img_dir / n for n in names], answers=[options[idx]] if idx is not None else [],
                options=list(options), answer_index=idx,
                extra={"level": q.get("level"), "subject": q.get("subject"), "labels": list(labels)}))
    return finish(name, samples, files, languages, limit)
