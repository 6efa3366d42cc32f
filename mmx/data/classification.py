"""Zero-shot image classification data: Babel-ImageNet (ImageNet-1k class names in 298 languages) over a
local ImageNet validation folder, and the probe set's shapes and colours.

``ClassificationData.class_names[lang]`` maps the class indices a language covers to their names in that
language; each language is scored only on the images of its classes, among its classes (as
Babel-ImageNet does: most languages name a subset of the 1000 classes).
"""
from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mmx.data.text import read_text
from mmx.errors import MmxError
from mmx.languages import normalize_code, pick_languages
from mmx.registry import register_loader

WNIDS_FILE = Path(__file__).with_name("imagenet1k_wnids.txt")
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")
# ImageNet's images are gated everywhere: Babel-ImageNet (class names only, github.com/gregor-ge/Babel-ImageNet,
# no Hub dataset) cannot fetch them for the user.
IMAGENET_ACCESS = ("ImageNet's images are gated: accept the ImageNet terms of access at "
                   "https://huggingface.co/datasets/ILSVRC/imagenet-1k (or at https://image-net.org/download.php) "
                   "while logged in, set HF_TOKEN to a token of that account, download the validation images "
                   "and sort them into <wnid>/ folders")


def imagenet_wnids() -> list[str]:
    """The 1000 ImageNet-1k WordNet ids in class-index order (sorted wnids: torchvision/timm's order).
    Copied from timm's ``timm/data/_info/imagenet_synsets.txt``."""
    return WNIDS_FILE.read_text().split()


@dataclass
class ClassificationData:
    name: str
    image_ids: list[str]
    image_paths: list[Path]
    labels: list[int]  # class index of each image
    class_names: dict[str, dict[int, str]]  # language -> {class index: name}
    source_codes: dict[str, str] = field(default_factory=dict)
    fingerprint: str = ""
    source: str = ""

    @property
    def languages(self) -> list[str]:
        return list(self.class_names)


def _languages(name: str, source: Path, by_code: dict, languages) -> dict[str, str]:
    """canonical code -> the file's code, for the languages asked for."""
    canon: dict[str, str] = {}
    dropped = []
    for code in by_code:
        c = normalize_code(code, source)
        if c in canon:
            # Babel-ImageNet has Wikipedia variants of one language (EN and SIMPLE, BE and BE_X_OLD, NDS and
            # NDS_NL): keep the one whose own code is the language's code, so each language is reported once.
            keep = [x for x in (canon[c], code) if x.lower().replace("_", "-") == c]
            if not keep:
                raise MmxError(f"{source}: languages {canon[c]!r} and {code!r} are the same language ({c})")
            dropped.append((code if keep[0] == canon[c] else canon[c], c))
            canon[c] = keep[0]
        else:
            canon[c] = code
    wanted = None if languages is None else {normalize_code(x) for x in languages}
    dropped = [code for code, c in dropped if wanted is None or c in wanted]
    if dropped:
        print(f"note: {name}: left out {', '.join(dropped)} of {source.name}: variants of languages the file "
              "also has under their own code", file=sys.stderr)
    return {c: canon[c] for c in pick_languages(canon, languages, name, source, "class names for")}


def _fingerprint(source: Path, langs: list[str], ids: list[str], paths: list[Path]) -> str:
    h = hashlib.sha256(Path(source).read_bytes())
    h.update(json.dumps(langs).encode())
    for i, p in zip(ids, paths):
        h.update(f"{i}:{p.stat().st_size}\n".encode())
    return h.hexdigest()[:16]


def read_babel_imagenet(path: Path, name: str = "babel_imagenet") -> dict[str, tuple[list[int], list[str]]]:
    """Babel-ImageNet's ``babel_imagenet-298.json``: ``{LANG: [[class indices], [names]]}``, checked."""
    path = Path(path)
    try:
        obj = json.loads(read_text(path, name))
    except FileNotFoundError as e:
        raise MmxError(f"{name}: class-name file not found: {path} (Babel-ImageNet's babel_imagenet-298.json)") from e
    except json.JSONDecodeError as e:
        raise MmxError(f"{name}: {path} is not valid JSON ({e})") from e
    if not isinstance(obj, dict):
        raise MmxError(f"{name}: {path} should map language codes to [class indices, names]")
    for code, v in obj.items():
        ok = (isinstance(v, list) and len(v) == 2 and len(v[0]) == len(v[1])
              and all(isinstance(i, int) and 0 <= i < 1000 for i in v[0]))
        if not ok:
            raise MmxError(f"{name}: {path}: language {code!r} is not [[class indices 0..999], [names]] of equal length")
    return obj


# Left out, both halves are fetched: the class names from the Babel-ImageNet repository at a pinned commit (the
# one the public code index holds), the images from the Hub's ImageNet-1k validation split (gated: HF_TOKEN).
BABEL_JSON = ("https://raw.githubusercontent.com/gregor-ge/Babel-ImageNet/"
              "8f9b2781992e9a83ac8c1b8569577d8de5ab38d6/data/babel_imagenet-298.json")
IMAGENET_HUB = "ILSVRC/imagenet-1k"


@register_loader("babel_imagenet")
def load_babel_imagenet(path: Path | None = None, images: Path | None = None, name: str = "babel_imagenet",
                        languages=None, limit=None, source: str | None = None):
    """Class names from Babel-ImageNet's ``babel_imagenet-298.json`` (``path``; left out: fetched from its
    repository); images from an ImageNet validation folder in the usual layout ``<images>/<wnid>/*.JPEG``
    (as torchvision's ImageFolder reads it), or, ``images`` left out, from the Hub's ImageNet-1k validation
    split (``source``: its id or a local copy, default ILSVRC/imagenet-1k; gated). ``limit``: the first N
    images of each class (sorted by name in a folder, in row order from the Hub)."""
    if path is None:
        from mmx.cache import default_cache_dir
        from mmx.data.hub import fetch_url

        path = fetch_url(BABEL_JSON, default_cache_dir() / "babel-imagenet-origin" / "babel_imagenet-298.json",
                         benchmark=name)
    path = Path(path)
    obj = read_babel_imagenet(path, name)
    langs = _languages(name, path, obj, languages)
    class_names = {c: dict(zip(obj[code][0], obj[code][1])) for c, code in langs.items()}
    wnids = imagenet_wnids()
    needed = sorted({i for names in class_names.values() for i in names})
    if images is None:
        images, resolved = _imagenet_from_hub(source, needed, limit, name)
    else:
        images, resolved = Path(images), ""
    if not images.is_dir():
        raise MmxError(f"{name}: ImageNet validation folder not found: {images}; pass --data-args images=DIR "
                       "with DIR/<wnid>/*.JPEG (e.g. n01440764/ILSVRC2012_val_00000293.JPEG). " + IMAGENET_ACCESS)
    ids, paths, labels, empty = [], [], [], []
    for idx in needed:
        folder = images / wnids[idx]
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []
        if not files:
            empty.append(wnids[idx])
        for p in files[:limit]:
            ids.append(f"{wnids[idx]}/{p.name}")
            paths.append(p)
            labels.append(idx)
    if empty:
        raise MmxError(f"{name}: {len(empty)} of the {len(needed)} classes have no images under {images} "
                       f"(first: {images / empty[0]}); the folder needs ImageNet's validation layout "
                       "<wnid>/*.JPEG (sort the flat val images into class folders, e.g. with valprep.sh). " + IMAGENET_ACCESS)
    if not ids:
        raise MmxError(f"{name}: no images to classify from {path} (images: {images}): nothing to evaluate")
    fp = _fingerprint(path, list(langs) + [resolved], ids, paths)
    return ClassificationData(name, ids, paths, labels, class_names, langs, fp, str(path))


def _imagenet_from_hub(source: str | None, needed: list[int], limit: int | None, name: str) -> tuple[Path, str]:
    """The validation images of the ``needed`` classes (the first ``limit`` of each) from the Hub's
    ImageNet-1k (columns ``image``, ``label``: the class index in sorted-wnid order), written once as the
    bytes the repository holds under the mmx cache as <wnid>/<name>; returns (that folder, resolved id)."""
    from mmx.cache import default_cache_dir
    from mmx.data import hub

    src = source or IMAGENET_HUB
    resolved = hub.resolved_revision(src, None)
    out = default_cache_dir() / "hub-images" / name / hashlib.sha256(resolved.encode()).hexdigest()[:16]
    done = out / f".complete-{limit or 'all'}"
    if done.is_file():
        return out, resolved
    from datasets import Image as ImageFeature

    wnids, want = imagenet_wnids(), set(needed)
    count: dict[int, int] = {}
    ds = hub.load(src, benchmark=name, split="validation", streaming=True)
    ds = ds.cast_column("image", ImageFeature(decode=False))  # the stored JPEG bytes, not a re-encoding
    for i, row in hub.rows(ds, benchmark=name, where=f"{src} validation", columns=("image", "label")):
        label, img = row["label"], row["image"] or {}
        if not isinstance(label, int) or not 0 <= label < 1000:
            raise MmxError(f"{name} ({src} validation), row {i}: label {label!r} is not a class index 0..999")
        if label not in want or (limit and count.get(label, 0) >= limit):
            continue
        data = img.get("bytes") if isinstance(img, dict) else None
        if not data:
            raise MmxError(f"{name} ({src} validation), row {i}: no image bytes")
        file = out / wnids[label] / Path(img.get("path") or f"row{i:05d}.JPEG").name
        if not file.is_file():
            _check_image(data, f"{name} ({src} validation), row {i}")
            file.parent.mkdir(parents=True, exist_ok=True)
            tmp = file.with_suffix(file.suffix + ".part")
            tmp.write_bytes(data)
            tmp.replace(file)
        count[label] = count.get(label, 0) + 1
        if limit and len(count) == len(want) and all(v >= limit for v in count.values()):
            break  # streaming: nothing more is read
    out.mkdir(parents=True, exist_ok=True)
    done.write_text("ok\n")
    return out, resolved


def _check_image(data: bytes, where: str) -> None:
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
    except (UnidentifiedImageError, OSError) as e:
        raise MmxError(f"{where}: the image does not decode ({e})") from e


@register_loader("probe_attributes")
def load_probe_attributes(path: Path, images: Path, attribute: str = "shape", name: str = "probe_zeroshot",
                          languages=None, limit=None):
    """The probe set as a classification task: ``attribute`` shape or colour of each image. Reads
    ``assets/probe/vqa.json`` (images, attributes, and per language the accepted answers of each value,
    canonical first: those are the class names, from the probe generator's word forms)."""
    path, images = Path(path), Path(images)
    try:
        obj = json.loads(read_text(path, name))
        answers = {code: a[attribute] for code, a in obj["answers"].items()} if attribute in ("shape", "colour") else None
    except (FileNotFoundError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise MmxError(f"{name}: cannot read the probe's vqa.json at {path} ({type(e).__name__}: {e}); "
                       "regenerate it with assets/generate_probe_vqa.py") from e
    if answers is None:
        raise MmxError(f"{name}: attribute {attribute!r}: use shape or colour")
    classes = list(next(iter(answers.values())))  # attribute values in the generator's order
    langs = _languages(name, path, answers, languages)
    class_names = {c: {k: answers[code][v][0] for k, v in enumerate(classes)} for c, code in langs.items()}
    n = len(obj["images"]) if limit is None else min(limit, len(obj["images"]))
    ids = obj["images"][:n]
    paths = [images / i for i in ids]
    for i, p in zip(ids, paths):
        if not p.is_file():
            raise MmxError(f"{name}: image {p} of sample {i!r} is missing (dataset.images / --data-args images=DIR)")
    labels = [classes.index(a[attribute]) for a in obj["attributes"][:n]]
    if not ids:
        raise MmxError(f"{name}: no images to classify from {path} (images: {images}): nothing to evaluate")
    return ClassificationData(name, ids, paths, labels, class_names, langs,
                              _fingerprint(path, list(langs), ids, paths), str(path))
