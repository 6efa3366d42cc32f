"""Visual question answering data: the probe set's questions, xGQA, MaXM, VLSP-EVJVQA and M3Exam's
multimodal questions.

xGQA, MaXM and M3Exam read their Hugging Face Hub repositories by default (``source``: a Hub id, or a local
folder holding the repository's files; default: the data catalogue's id and revision, mmx/data/catalog.yaml):
floschne/xgqa, floschne/maxm and floschne/multimodal-m3exam, the M5 benchmark's parquet copies of the
released sets (github.com/floschne/m5b), one split per language, images embedded in the rows. Those images
are written once, as their original bytes, under ``<mmx cache>/vqa-images/<benchmark>/<revision key>/``,
because VQASample holds image paths (the task reads and cache-keys images by file). Their released layouts
on disk stay readable with ``path`` (+ ``images``): xGQA's GitHub files (the zero-shot test-dev set, which
the Hub copy does not hold), MaXM v1's JSON with XM3600 images, M3Exam's unzipped GitHub download.
VLSP-EVJVQA has no Hub repository from its authors and is read from its release files only.

Every loader returns a VQAData of VQASamples whose ``language`` is mmx's canonical code of the question's
language; ``answer_language`` is the language the reference answers are written in (xGQA translated
only the questions, so its answers are English), which picks the answer normaliser.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from mmx.data import hub
from mmx.data.text import read_text
from mmx.errors import MmxError
from mmx.languages import UnknownLanguageError, normalize_code, pick_languages
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


def finish(name: str, samples: list[VQASample], sources: list, languages: list[str] | None,
           limit: int | None, key: str | None = None) -> VQAData:
    """Keep the asked-for languages and the first ``limit`` samples of each; check ids, answers and images.
    The fingerprint hashes the source files, or ``key`` (Hub data: the resolved revision, languages, limit)."""
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
    if key is not None:
        h.update(key.encode())
    else:
        for src in sources:
            h.update(Path(src).read_bytes())
    h.update(json.dumps([[s.id, s.language] for s in samples]).encode())
    for p in sorted({p for s in samples for p in s.images}):
        h.update(f"{p.name}:{p.stat().st_size}\n".encode())
    return VQAData(name, samples, h.hexdigest()[:16], ", ".join(map(str, sources)))


# ---------------------------------------------------------------- Hub repositories

_IMAGE_EXT = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp", "BMP": "bmp", "TIFF": "tif", "MPO": "jpg"}


def _hub_source(benchmark: str, source: str | None) -> tuple[str, str | None]:
    """A local folder as given; a Hub id (default: the catalogue's) with the catalogue's pinned revision."""
    if source and hub.is_local(source):
        return str(Path(source).expanduser().resolve()), None
    from mmx.data.catalog import hub_id_and_revision

    return hub_id_and_revision(benchmark, source)


def image_dir(benchmark: str, revision: str, cache: Path | None = None) -> Path:
    """Where a Hub set's embedded images are written: keyed by the revision the source resolved to."""
    from mmx.cache import default_cache_dir

    key = hashlib.sha256(revision.encode()).hexdigest()[:16]
    return Path(cache or default_cache_dir()) / "vqa-images" / benchmark / key


class _Images:
    """Writes a row's image (datasets' undecoded ``{"bytes", "path"}``) once, as its original bytes, named by
    the set's image id and a hash of the bytes (a local folder whose files change gets new names), under
    ``image_dir`` of the revision the source resolved to (known once the first rows are read)."""

    def __init__(self, benchmark: str, src: str, revision: str | None):
        self.benchmark, self.src, self.revision = benchmark, src, revision
        self.folder: Path | None = None
        self.seen: dict[tuple, Path] = {}  # xGQA repeats each image for ~30 questions

    def save(self, value: Any, stem: str, where: str) -> Path:
        data = value.get("bytes") if isinstance(value, dict) else None
        if not data and isinstance(value, dict) and value.get("path") and Path(value["path"]).is_file():
            data = Path(value["path"]).read_bytes()  # a local parquet may point at files instead of embedding
        if not data:
            raise MmxError(f"{where}: the row has no image bytes ({type(value).__name__}); "
                           "is this the right dataset and revision?")
        memo = (stem, len(data), bytes(data[-32:]))  # cheaper than hashing every row's bytes
        if memo in self.seen:
            return self.seen[memo]
        if self.folder is None:
            self.folder = image_dir(self.benchmark, hub.resolved_revision(self.src, self.revision))
        digest = hashlib.sha256(data).hexdigest()[:12]
        safe = re.sub(r"[^\w.-]+", "_", stem)[:80] or "image"
        done = sorted(self.folder.glob(f"{safe}-{digest}.*")) if self.folder.is_dir() else []
        if done:
            path = done[0]
        else:
            from PIL import Image

            try:  # decode fully now: a broken image fails here naming its row, not inside the model
                with Image.open(io.BytesIO(data)) as im:
                    fmt = im.format or ""
                    im.load()
            except Exception as e:  # PIL raises many types for bad data
                raise MmxError(f"{where}: the image ({stem}) will not decode ({type(e).__name__}: {e}); "
                               "the download may be damaged: fetch the set again") from e
            path = self.folder / f"{safe}-{digest}.{_IMAGE_EXT.get(fmt, fmt.lower() or 'img')}"
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)  # atomic: a parallel run never reads half a file
        self.seen[memo] = path
        return path


def _undecoded(ds):
    """Rows with images as stored (``{"bytes", "path"}``), not PIL images: they are written to disk as is."""
    import datasets

    if not isinstance(ds, datasets.IterableDataset):
        ds = ds.to_iterable_dataset()
    return ds.decode(False)


def _split_language(split: str) -> str | None:
    try:
        return normalize_code(split)
    except UnknownLanguageError:  # not a language code or name ("test"): the split holds several languages
        return None


def hub_rows(benchmark: str, src: str, revision: str | None, columns: tuple[str, ...], languages, limit,
             language_column: str | None = None) -> Iterator[tuple[str, str, int, dict]]:
    """(language, split, row number, row) of the wanted languages, the first ``limit`` of each.

    These repositories hold one split per language (named by its code, or by its name for M3Exam); a split
    that is not a language is read whole and each row's ``language_column`` says its language. With
    ``limit`` the splits stream, so only the rows used are downloaded (not when HF_HUB_OFFLINE is set:
    streaming cannot read the local cache)."""
    streaming = limit is not None and not hub.offline()
    splits = hub.load(src, benchmark=benchmark, split=None, revision=revision, streaming=streaming)
    by_lang = {lang: s for s in splits for lang in [_split_language(s)] if lang}
    mixed = [s for s in splits if not _split_language(s)]
    if mixed and not language_column:
        raise MmxError(f"{benchmark} ({src}): split(s) {', '.join(mixed)} are not languages; the loader expects "
                       "one split per language. Is this the right dataset and revision?")
    want = None if languages is None else {normalize_code(x) for x in languages}
    if not mixed:
        want = pick_languages(sorted(by_lang), languages, benchmark, src, "questions in")
    for lang, split in sorted(by_lang.items()):
        if want is None or lang in want:
            where = f"split {split}"
            for i, row in hub.rows(_undecoded(splits[split]), benchmark=benchmark, where=where,
                                   columns=columns, limit=limit):
                yield lang, split, i, row
    count: dict[str, int] = {}  # every language the mixed splits hold, wanted or not
    for split in mixed:
        cols = tuple(dict.fromkeys((*columns, language_column)))
        for i, row in hub.rows(_undecoded(splits[split]), benchmark=benchmark, where=f"split {split}",
                               columns=cols):
            lang = normalize_code(row[language_column], f"{benchmark} split {split} row {i} {language_column}")
            count[lang] = count.get(lang, 0) + 1
            if (want is None or lang in want) and (limit is None or count[lang] <= limit):
                yield lang, split, i, row
    if mixed and languages is not None:  # a wanted language no row had
        pick_languages(sorted({*count, *by_lang}), languages, benchmark, src, "questions in")


def hub_key(src: str, revision: str | None, languages, limit) -> str:
    """What the data fingerprint of a Hub load rests on: the resolved revision, languages and limit."""
    langs = None if languages is None else sorted(normalize_code(x) for x in languages)
    return json.dumps([hub.resolved_revision(src, revision), langs, limit])


def _hub_finish(name: str, samples, src: str, revision, languages, limit) -> VQAData:
    return finish(name, samples, [src], languages, limit, key=hub_key(src, revision, languages, limit))


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
def load_xgqa(source: str | None = None, path: Path | None = None, images: Path | None = None, name: str = "xgqa",
              languages=None, limit=None, split: str = "test"):
    """xGQA from the Hub (``source``, default floschne/xgqa): one split per language (bn de en id ko pt ru
    zh), rows ``{question, answer, full_answer, image_id, image}``; that copy is xGQA's few-shot test split
    (9,666 questions on 300 images per language). ``path`` (+ ``images``) reads xGQA's GitHub files instead
    (the zero-shot test-dev set and the few-shot dev/train splits). Answers are GQA's English answers in
    every language (only the questions were translated)."""
    if path is not None:
        if images is None:
            raise MmxError(f"{name}: path= reads xGQA's GitHub files; also give images= (GQA's images folder)")
        return _xgqa_files(Path(path), Path(images), name, languages, limit, split)
    if split != "test":
        raise MmxError(f"{name}: the Hub copy of xGQA holds only its few-shot test split, not {split!r}; for the "
                       "dev/train splits give path= (xGQA's GitHub data/few_shot) and images= (GQA's images)")
    src, rev = _hub_source("xgqa", source)
    imgs, samples = _Images("xgqa", src, rev), []
    for lang, part, i, row in hub_rows("xgqa", src, rev, ("question", "answer", "image_id", "image"), languages,
                                       limit):
        where = f"{name} ({src}, split {part}), row {i}"
        qid = row.get("question_id")
        samples.append(VQASample(id=f"{lang}/{i if qid in (None, '') else qid}", language=lang,
                                 question=row["question"], answers=[row["answer"]], answer_language="en",
                                 images=[imgs.save(row["image"], str(row["image_id"]), where)],
                                 extra={"full_answer": row.get("full_answer"), "image_id": row["image_id"]}))
    return _hub_finish(name, samples, src, rev, languages, limit)


def _xgqa_files(path: Path, images: Path, name: str, languages, limit, split: str) -> VQAData:
    """xGQA (github.com/adapter-hub/xGQA): questions in GQA's format,
    ``{question_id: {"imageId", "question", "answer", "fullAnswer", ...}}``, one file per language.
    ``path``: ``data/zero_shot/`` (``testdev_balanced_questions_<lang>.json``), ``data/few_shot/``
    (``<lang>/<split>.json``, split test/dev/train_N) or one such file. Images: GQA's ``images/<imageId>.jpg``.
    Answers are GQA's English answers for every language (only the questions were translated)."""
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
def load_maxm(source: str | None = None, path: Path | None = None, images: Path | None = None, name: str = "maxm",
              languages=None, limit=None):
    """MaXM from the Hub (``source``, default floschne/maxm): one split per language (en fr hi iw ro th zh;
    ``iw`` is Hebrew), rows ``{image_id, image_url, question, answers, processed_answers, image, ...}``,
    the XM3600 image embedded. ``path`` (+ ``images``) reads the released MaXM v1 JSON instead. A prediction
    is right when it matches any of the accepted ``answers``."""
    if path is not None:
        if images is None:
            raise MmxError(f"{name}: path= reads MaXM v1's JSON files; also give images= (XM3600's images folder)")
        return _maxm_files(Path(path), Path(images), name, languages, limit)
    src, rev = _hub_source("maxm", source)
    imgs, samples = _Images("maxm", src, rev), []
    for lang, part, i, row in hub_rows("maxm", src, rev, ("question", "answers", "image_id", "image"), languages,
                                       limit):
        where = f"{name} ({src}, split {part}), row {i}"
        qid = row.get("question_id")
        answers = row["answers"]
        if isinstance(answers, str):
            answers = [answers]
        samples.append(VQASample(id=f"{lang}/{i if qid in (None, '') else qid}", language=lang,
                                 question=row["question"], answers=list(answers or []),
                                 images=[imgs.save(row["image"], str(row["image_id"]), where)],
                                 extra={"is_collection": row.get("is_collection"), "image_id": row["image_id"],
                                        "processed_answers": row.get("processed_answers")}))
    return _hub_finish(name, samples, src, rev, languages, limit)


def _maxm_files(path: Path, images: Path, name: str, languages, limit) -> VQAData:
    """MaXM v1 (github.com/google-research-datasets/maxm): one JSON per language,
    ``{"dataset", "version", "split": LANG, "annotations": [{"image_id", "image_url",
    "qa_pairs": [{"question_id", "question", "answers", "processed_answers", "is_collection"}]}]}``.
    ``path``: the folder of those files or one file. Images are XM3600's ``<image_id>.jpg``."""
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


EVJVQA_PAPER = "https://arxiv.org/abs/2302.11752"


@register_loader("evjvqa")
def load_evjvqa(path: Path, images: Path, name: str = "evjvqa", languages=None, limit=None):
    """VLSP 2022 EVJVQA: ``{"images": [{"id", "filename"}], "annotations": [{"id", "image_id", "question",
    "answer"}]}`` (COCO-like); questions in English, Vietnamese or Japanese, answered in the same language.
    Its authors publish it through the VLSP 2022 shared task, not on the Hugging Face Hub: read from disk only."""
    if not Path(path).is_file():
        raise MmxError(f"{name}: annotation file not found: {path}. EVJVQA is not on the Hugging Face Hub from its "
                       f"authors: get it from the VLSP 2022 EVJVQA organisers (paper: {EVJVQA_PAPER}), then point "
                       "the task at it (MMX_DATA=DIR with DIR/evjvqa/, or --data-args path=FILE,images=DIR)")
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


def _m3_sample(q: dict, sid: str, lang: str, image_of) -> VQASample:
    """One M3Exam question; ``image_of(name)`` is the path of the image a text names as ``[image-N.png]``
    (``None`` for the Hub rows' images that no text names: they are appended after the named ones)."""
    opts = q.get("options") or []
    labels, options = zip(*[_m3_option(o) for o in opts]) if opts else ((), ())
    answer = str(q.get("answer_text") or "").strip().strip("()")
    idx = next((j for j, lab in enumerate(labels) if lab is not None and lab.lower() == answer.lower()), None)
    if idx is None and answer.isdigit() and all(lab is None for lab in labels):
        idx = int(answer) - 1  # unlabelled options: the answer is a 1-based position
    background = list(q.get("background_description") or [])
    texts = background + [q.get("question_text") or ""] + list(options)
    names = list(dict.fromkeys(m for t in texts for m in _M3_IMAGE.findall(t)))
    return VQASample(
        id=sid, language=lang, question="\n".join([*background, q.get("question_text") or ""]).strip(),
        images=image_of(names), answers=[options[idx]] if idx is not None and 0 <= idx < len(options) else [],
        options=list(options), answer_index=idx,
        extra={"level": q.get("level"), "subject": q.get("subject"), "labels": list(labels)})


@register_loader("m3exam")
def load_m3exam(source: str | None = None, path: Path | None = None, images: Path | None = None,
                name: str = "m3exam", languages=None, limit=None):
    """M3Exam's multimodal questions. From the Hub (``source``, default floschne/multimodal-m3exam): rows
    ``{question_text, background_description, options, answer_text, language, level, subject, ..., image_ids,
    images}``, ``images[k]`` the picture named ``image_ids[k]`` (``image-0.jpg``) in the texts. ``path``
    reads M3Exam's unzipped GitHub download instead: ``data/multimodal-questions/<language>-questions-image.json``
    (a list of such questions, no images in them) with images ``images-<language>/image-N.png``; ``path``:
    that folder or one file; ``images``: the image folder (default: ``images-<language>`` next to the file).
    Texts name their images as ``[image-N.png]``; options are ``(1) ...`` or ``A. ...``."""
    if path is not None:
        return _m3exam_files(Path(path), images, name, languages, limit)
    src, rev = _hub_source("m3exam", source)
    imgs, samples, count = _Images("m3exam", src, rev), [], {}
    cols = ("question_text", "options", "answer_text", "image_ids", "images")
    for lang, part, i, row in hub_rows("m3exam", src, rev, cols, languages, limit, language_column="language"):
        where = f"{name} ({src}, split {part}), row {i}"
        ids, pics = list(row["image_ids"] or []), list(row["images"] or [])
        if len(ids) != len(pics):
            raise MmxError(f"{where}: {len(ids)} image_ids but {len(pics)} images")
        by_name = dict(zip(ids, pics))

        def image_of(names, by_name=by_name, where=where):
            order = [n for n in names if n in by_name] + [n for n in by_name if n not in names]
            return [imgs.save(by_name[n], f"{lang}-{Path(n).stem}", where) for n in order]

        n = count[lang] = count.get(lang, -1) + 1  # the question's place among its language's, as on GitHub
        samples.append(_m3_sample(row, f"{lang}/{n}", lang, image_of))
    return _hub_finish(name, samples, src, rev, languages, limit)


def _m3exam_files(path: Path, images, name: str, languages, limit) -> VQAData:
    files = sorted(path.glob("*-questions-image.json")) if path.is_dir() else [path]
    if not files:
        raise MmxError(f"{name}: no <language>-questions-image.json files in {path}")
    samples = []
    for f in files:
        rows = _read_json(f, name, "question file")
        if not isinstance(rows, list):
            raise MmxError(f"{name}: {f} should hold a list of questions")
        lang_name = f.name.split("-questions")[0]
        img_dir = Path(images) if images else f.parent / f"images-{lang_name}"
        for i, q in enumerate(rows):
            lang = normalize_code(q.get("language") or lang_name, f)
            samples.append(_m3_sample(q, f"{lang}/{q.get('id', i)}", lang,
                                      lambda names, d=img_dir: [d / n for n in names]))
    return finish(name, samples, files, languages, limit)
