"""Image-text retrieval data: XM3600 and xFlickrCO from the Hub, XTD10 from its repository files, MVL-SIB
from its Hub files, and the probe set (and the Babel-ImageNet repository's XTD10 / xFlickrCO JSON).

All loaders return a RetrievalData whose caption languages are mmx's canonical codes
(the dataset's own code is kept in ``source_codes``), e.g. XTD10's "jp" becomes "ja".
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from mmx.data.text import read_text
from mmx.errors import MmxError
from mmx.languages import canonical_codes, normalize_code, pick_languages
from mmx.registry import register_loader


@dataclass
class RetrievalData:
    name: str
    image_ids: list[str]
    image_paths: list[Path]
    captions: dict[str, list[list[str]]]  # language -> per image, its captions (may be empty)
    source_codes: dict[str, str] = field(default_factory=dict)
    fingerprint: str = ""
    source: str = ""
    # Images of one group are all relevant to each caption of any of them (MVL-SIB: a sentence matches every
    # image of its topic); None: only the image a caption belongs to (mmx/tasks/retrieval.py reads this).
    image_groups: list[str] | None = None

    @property
    def languages(self) -> list[str]:
        return list(self.captions)


def _select(name: str, source: Path, images: list[str], image_dir: Path, by_code: dict[str, list[list[str]]],
            languages: list[str] | None, limit: int | None) -> RetrievalData:
    canon = canonical_codes(by_code, source)
    if not images or not by_code:
        raise MmxError(f"{name}: {source} holds no {'images' if not images else 'captions'}: nothing to evaluate")
    want = pick_languages(canon, languages, name, source, "captions for")
    n = len(images) if limit is None else min(limit, len(images))
    captions = {}
    for c in want:
        caps = by_code[canon[c]]
        if len(caps) != len(images):
            raise MmxError(f"{source}: language {canon[c]!r} has {len(caps)} caption lists for {len(images)} images")
        captions[c] = [[s for s in (cl if isinstance(cl, list) else [cl]) if s and s.strip()] for cl in caps[:n]]
        if n and not any(captions[c]):  # nothing to retrieve with: a score over zero queries is no score
            raise MmxError(f"{name}: every caption of language {canon[c]!r} in {source} is blank"
                           f"{f' (in the first {n} images)' if n < len(images) else ''}; fix the file or leave "
                           "the language out (--languages)")
    ids = images[:n]
    paths = [image_dir / i for i in ids]
    absent = [(i, p) for i, p in zip(ids, paths) if not p.is_file()]
    if absent:
        raise MmxError(f"{name}: {len(absent)} of {n} images are missing from {image_dir} "
                       f"(first: {absent[0][1]} for sample {absent[0][0]!r}); point dataset.images "
                       "(or --data-args images=DIR) at the folder that holds them")
    h = hashlib.sha256(source.read_bytes())
    h.update(json.dumps([want, n]).encode())
    for i, p in zip(ids, paths):
        h.update(f"{i}:{p.stat().st_size}\n".encode())  # names and sizes: cheap, catches swapped folders
    return RetrievalData(name, ids, paths, captions, {c: canon[c] for c in want}, h.hexdigest()[:16], str(source))


@register_loader("caption_json")
def load_caption_json(path: Path, images: Path, name: str = "caption_json", languages=None, limit=None):
    """XTD10 / xFlickrCO (Babel-ImageNet repo) and the probe set:
    ``{"images": [file, ...], "captions": {lang: [[caption, ...] per image]}}``."""
    path, images = Path(path), Path(images)
    try:
        obj = json.loads(read_text(path, name))
    except FileNotFoundError as e:
        raise MmxError(f"{name}: caption file not found: {path}") from e
    except json.JSONDecodeError as e:
        raise MmxError(f"{name}: {path} is not valid JSON ({e})") from e
    if not isinstance(obj, dict) or not isinstance(obj.get("images"), list) or not isinstance(obj.get("captions"), dict):
        raise MmxError(f"{name}: {path} should hold {{'images': [...], 'captions': {{lang: [...]}}}}")
    return _select(name, path, obj["images"], images, obj["captions"], languages, limit)


@register_loader("xm3600")
def load_xm3600(source: str | None = None, images: Path | None = None, name: str = "xm3600", languages=None,
                limit=None):
    """Crossmodal-3600. ``source``: the Hub copy floschne/xm3600 (None: the catalogue's id and revision) or a
    local folder in its layout: one split per language, rows ``image_id``, ``image``, ``captions`` (list).
    Google's own release also works: ``source`` its ``captions.jsonl`` and ``images`` its image folder."""
    if str(source or "").endswith(".jsonl"):
        if images is None:
            raise MmxError(f"{name}: {source} is Google's captions.jsonl; give its image folder too (images=DIR)")
        return _load_xm3600_jsonl(Path(source), Path(images), name, languages, limit)
    return _per_language_splits("xm3600", source, name, languages, limit, id_col="image_id", text_col="captions")


def _load_xm3600_jsonl(path: Path, images: Path, name: str, languages, limit) -> RetrievalData:
    """Google's ``captions.jsonl``: one line per image,
    ``{"image/key": KEY, LANG: {"caption": [...], ...}, ...}``; images are ``KEY.jpg``."""
    if not path.is_file():
        raise MmxError(f"{name}: caption file not found: {path}")
    ids: list[str] = []
    by_code: dict[str, list[list[str]]] = {}
    for n, line in enumerate(read_text(path, name).splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            key = row["image/key"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise MmxError(f"{name}: {path} line {n} is not an XM3600 record ({e})") from e
        for code, v in row.items():
            if isinstance(v, dict) and "caption" in v:
                by_code.setdefault(code, [[] for _ in ids])
        for code, caps in by_code.items():
            caps.append(list(row.get(code, {}).get("caption", [])))
        ids.append(f"{key}.jpg")
    return _select(name, path, ids, images, by_code, languages, limit)


# --------------------------------------------------------------------------------------------------------
# Hub loaders: XM3600 and xFlickrCO from their Hub repositories (one split per language, images embedded in
# the parquet files), XTD10 from its GitHub repository's files, MVL-SIB from its Hub repository's raw files.
# ``source`` is the Hub id (None: the catalogue's, at its pinned revision) or a local folder holding the
# repository's files in the same layout. Images the parquet files embed are written once, as the bytes the
# repository holds, under the mmx cache folder keyed by the resolved revision (``hub_image_dir``).
# --------------------------------------------------------------------------------------------------------

def hub_image_dir(benchmark: str, resolved: str) -> Path:
    """Where the images of one resolved revision of a Hub benchmark are written (like speech's probe_dir)."""
    from mmx.cache import default_cache_dir

    return default_cache_dir() / "hub-images" / benchmark / hashlib.sha256(resolved.encode()).hexdigest()[:16]


def _resolved(source: str, revision: str | None) -> str:
    """mmx.data.hub.resolved_revision; for a local folder also its files' names, sizes and mtimes, so an
    edited fixture or download gets its own image folder and fingerprint."""
    from mmx.data import hub

    key = hub.resolved_revision(source, revision)
    if hub.is_local(source):
        root = Path(source).expanduser().resolve()
        h = hashlib.sha256()
        for p in sorted(root.rglob("*")):
            if p.is_file():
                st = p.stat()
                h.update(f"{p.relative_to(root)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
        key += f"#{h.hexdigest()[:16]}"
    return key


_FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp", "TIFF": ".tif"}


def _image_bytes(value, name: str, where: str) -> bytes:
    """The encoded image a row holds: datasets' Image feature undecoded ({"bytes", "path"}), raw bytes, or a
    decoded PIL image (re-encoded as PNG: lossless)."""
    import io

    if isinstance(value, dict) and value.get("bytes"):
        return value["bytes"]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if hasattr(value, "save"):  # a PIL image
        buf = io.BytesIO()
        value.save(buf, format="PNG")
        return buf.getvalue()
    if isinstance(value, dict) and value.get("path"):
        p = Path(value["path"])
        if p.is_file():
            return p.read_bytes()
    raise MmxError(f"{name} ({where}): the image holds no bytes ({type(value).__name__}); "
                   "is this the right dataset and revision?")


def save_image(folder: Path, image_id: str, value, name: str, where: str) -> Path:
    """Write one row's image to folder/<id><ext> once (checked to decode) and return its path."""
    import io
    import os

    from PIL import Image, UnidentifiedImageError

    stem = image_id.replace("/", "_").replace("\\", "_")
    done = next(iter(sorted(folder.glob(f"{stem}.*"))), None) if folder.is_dir() else None
    if done is not None:
        return done
    data = _image_bytes(value, name, where)
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = im.format
            im.load()  # a truncated or corrupt image fails here, named by its row, not inside the model
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise MmxError(f"{name} ({where}): image {image_id!r} will not decode ({e}); re-download the data "
                       "(the cached Hub files may be damaged) or leave the row out") from e
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}{_FORMATS.get(fmt or '', '.img')}"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # atomic: a killed run never leaves half an image behind
    return path


def _source(benchmark: str, source: str | None) -> tuple[str, str | None]:
    """A local folder as it is (no catalogue needed); else the Hub id and revision (the catalogue's by default)."""
    from mmx.data import hub
    from mmx.data.catalog import hub_id_and_revision

    if source and hub.is_local(source):
        return str(source), None
    return hub_id_and_revision(benchmark, source)


def _split_names(src: str, revision: str | None, name: str) -> list[str]:
    """The splits of a Hub dataset (or local folder): XM3600 and xFlickrCO have one per language."""
    import os

    import datasets

    from mmx.data import hub

    try:
        kw = {} if hub.is_local(src) else {"revision": revision, "token": os.environ.get("HF_TOKEN") or None}
        return list(datasets.get_dataset_split_names(str(Path(src).expanduser().resolve()) if hub.is_local(src)
                                                     else src, **kw))
    except Exception as e:  # noqa: BLE001 - datasets raises many kinds here; all mean "cannot list it"
        if hub.offline() and not hub.is_local(src):
            raise MmxError(f"{name} ({src}): not in the local cache and HF_HUB_OFFLINE is set; fetch it once with "
                           f"`mmx data download {name}`") from e
        raise MmxError(f"{name} ({src}): cannot list its splits ({type(e).__name__}: {e})") from e


def _per_language_splits(benchmark: str, source: str | None, name: str, languages, limit,
                         id_col: str, text_col: str) -> RetrievalData:
    """XM3600 / xFlickrCO on the Hub: one split per language, each row one image (``id_col``, ``image``) with
    its captions in that language (``text_col``: a list of strings, or one string). Every split holds the
    same images in the same order; the images are read from the first language's split."""
    import datasets

    from mmx.data import hub

    src, revision = _source(benchmark, source)
    splits = _split_names(src, revision, benchmark)
    canon = canonical_codes(splits, src, "splits")
    want = pick_languages(canon, languages, name, src, "captions for")
    resolved = _resolved(src, revision)
    folder = hub_image_dir(benchmark, resolved)
    ids: list[str] = []
    paths: list[Path] = []
    captions: dict[str, list[list[str]]] = {}
    for li, c in enumerate(want):
        split = canon[c]
        ds = hub.load(src, benchmark=benchmark, split=split, revision=revision, streaming=limit is not None)
        feats = getattr(ds, "features", None) or {}
        if li == 0 and isinstance(feats.get("image"), datasets.Image):
            ds = ds.cast_column("image", datasets.Image(decode=False))  # the stored bytes, decoded once by us
        elif li > 0 and "image" in feats:
            ds = ds.remove_columns(["image"])  # images come from the first split only
        cols = (id_col, text_col, "image") if li == 0 else (id_col, text_col)
        caps: list[list[str]] = []
        for i, row in hub.rows(ds, benchmark=benchmark, where=f"{src}, split {split}", columns=cols, limit=limit):
            where = f"{src}, split {split}, row {i}"
            iid = str(row[id_col])
            if li == 0:
                ids.append(iid)
                paths.append(save_image(folder, iid, row["image"], benchmark, where))
            elif i >= len(ids) or ids[i] != iid:
                raise MmxError(f"{benchmark} ({where}): image {iid!r} where split {canon[want[0]]!r} has "
                               f"{ids[i] if i < len(ids) else 'no image'!r}; the language splits must hold the "
                               "same images in the same order")
            value = row[text_col]
            texts = [value] if isinstance(value, str) else list(value or [])
            if not all(isinstance(t, str) for t in texts):
                raise MmxError(f"{benchmark} ({where}): column {text_col} should hold text, got {value!r}")
            caps.append([t for t in texts if t and t.strip()])
        if li > 0 and len(caps) != len(ids):
            raise MmxError(f"{benchmark} ({src}, split {split}): {len(caps)} rows where split "
                           f"{canon[want[0]]!r} has {len(ids)}")
        if ids and not any(caps):
            raise MmxError(f"{name}: every caption of language {split!r} in {src} is blank; leave it out (--languages)")
        captions[c] = caps
    if not ids:
        raise MmxError(f"{name}: {src} holds no images: nothing to evaluate")
    h = hashlib.sha256(resolved.encode())
    h.update(json.dumps([want, limit, ids, [captions[c] for c in want]], ensure_ascii=False).encode())
    for p in paths:
        h.update(f"{p.name}:{p.stat().st_size}\n".encode())
    return RetrievalData(name, ids, paths, captions, {c: canon[c] for c in want}, h.hexdigest()[:16], resolved)


@register_loader("xflickrco")
def load_xflickrco(source: str | None = None, name: str = "xflickrco", languages=None, limit=None):
    """xFlickrCO (IGLUE). ``source``: the Hub copy floschne/xflickrco (None: the catalogue's id and revision)
    or a local folder in its layout: one split per language, rows ``id``, ``image``, ``sentences``."""
    return _per_language_splits("xflickrco", source, name, languages, limit, id_col="id", text_col="sentences")


# XTD10's repository (github.com/adobe-research/Cross-lingual-Test-Dataset-XTD10): one caption per line, line i
# for image i of XTD10/test_image_names.txt; German and French come from MIC, Japanese from STAIR captions.
XTD10_FILES = {**{c: f"XTD10/test_1kcaptions_{c}.txt" for c in ("en", "es", "it", "ko", "pl", "ru", "tr", "zh")},
               "de": "MIC/test_1kcaptions_de.txt", "fr": "MIC/test_1kcaptions_fr.txt",
               "jp": "STAIR/test_1kcaptions_jp.txt"}
XTD10_REPO = "https://github.com/adobe-research/Cross-lingual-Test-Dataset-XTD10"
COCO_TRAIN2014 = "http://images.cocodataset.org/zips/train2014.zip"
# No Hub copy: with source and images left out, mmx fetches what CLIP_benchmark's multilingual_mscoco does,
# the caption files from the repository's main branch and the 1000 images as one archive.
XTD10_RAW = "https://raw.githubusercontent.com/adobe-research/Cross-lingual-Test-Dataset-XTD10/main/"
XTD10_IMAGES = "https://nllb-data.com/test/xtd10/images.tar.gz"


def fetch_xtd10(languages=None, with_images: bool = True) -> tuple[Path, Path | None]:
    """The repository's files for ``languages`` (all by default) and the image archive, fetched once into
    the mmx cache (resumable; offline: only what is already there). Returns (source folder, image folder)."""
    import tarfile

    from mmx.cache import default_cache_dir
    from mmx.data.hub import fetch_url

    root = default_cache_dir() / "xtd10-origin"
    wanted = set(languages or [])
    for rel in ["XTD10/test_image_names.txt", *(rel for code, rel in XTD10_FILES.items()
                                                  if not wanted or normalize_code(code) in wanted)]:
        fetch_url(XTD10_RAW + rel, root / rel, benchmark="xtd10")
    if not with_images:
        return root, None
    images = root / "images"
    if not (images / ".complete").is_file():
        archive = fetch_url(XTD10_IMAGES, root / "images.tar.gz", benchmark="xtd10")
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(root, filter="data")  # "data": no absolute paths, links or devices out of root
        except (tarfile.TarError, OSError) as e:
            archive.unlink(missing_ok=True)
            raise MmxError(f"xtd10: {XTD10_IMAGES} did not unpack ({e}); it was removed, run again to fetch it") from e
        if not images.is_dir():
            raise MmxError(f"xtd10: {XTD10_IMAGES} holds no images/ folder; give images=DIR (COCO train2014)")
        (images / ".complete").write_text("ok\n")
        archive.unlink(missing_ok=True)
    return root, images


@register_loader("xtd10")
def load_xtd10(source: str | None = None, images: Path | None = None, name: str = "xtd10", languages=None,
               limit=None):
    """XTD10 from its repository's files: ``source`` a folder holding them (a clone of the repository, or the
    Babel-ImageNet repository's ``xtd.json``), ``images`` the MSCOCO train2014 folder with its 1000 images.
    No Hub copy with all 11 languages and the images could be confirmed (see the catalogue); left out, both
    are fetched from their origin (fetch_xtd10)."""
    if not source:  # from its origin, as CLIP_benchmark does (fetch_xtd10)
        source, fetched = fetch_xtd10(languages, with_images=images is None)
        images = images or fetched
    if images is None:
        raise MmxError(f"{name}: give the MSCOCO train2014 image folder (images=DIR; download {COCO_TRAIN2014})")
    src = Path(source).expanduser()
    if src.is_file() and src.suffix == ".json":
        return load_caption_json(src, Path(images), name=name, languages=languages, limit=limit)
    ids, by_code, used = read_xtd10_clone(src, name)
    return _select(name, used[0], ids, Path(images), {c: [[x] for x in caps] for c, caps in by_code.items()},
                   languages, limit)


def read_xtd10_clone(src: Path, name: str) -> tuple[list[str], dict[str, list[str]], list[Path]]:
    """(image names, {XTD10's own code: one caption per image, stripped}, the files read: the names file
    first) from a clone of XTD10's repository; also the parallel_text loader's reader (mmx/data/parallel.py)."""
    names_file = src / "XTD10" / "test_image_names.txt"
    if not names_file.is_file():
        raise MmxError(f"{name}: {names_file} not found; source should be a clone of {XTD10_REPO}")
    ids = [x.strip() for x in read_text(names_file, name).splitlines() if x.strip()]
    by_code: dict[str, list[str]] = {}
    used = [names_file]
    for code, rel in XTD10_FILES.items():
        f = src / rel
        if not f.is_file():
            continue  # a partial clone: pick_languages names what is missing if it was asked for
        lines = read_text(f, name).splitlines()
        while lines and not lines[-1].strip():
            lines.pop()
        if len(lines) != len(ids):
            raise MmxError(f"{name}: {f} has {len(lines)} captions for the {len(ids)} images of {names_file}; "
                           "line i must caption image i")
        by_code[code] = [x.strip() for x in lines]
        used.append(f)
    return ids, by_code, used


# MVL-SIB (Schmidt et al. 2025): SIB-200's topic-labelled sentences (FLORES-200, 205 languages) and 10 images per
# topic. Its repository's files: data/sib200/<lang>/{train,dev,test}.tsv and data/images/sib200/<topic>_<n>.jpg.
MVL_SIB_TOPICS = ("entertainment", "geography", "health", "politics", "science", "sports", "travel")
TOPIC_ALIASES = {"science/technology": "science"}
# FLORES-200 codes are ISO 639-3; mmx's table reads "als" as Wikipedia's Alemannic, FLORES means Tosk Albanian.
FLORES_CODES = {"als_Latn": "sq"}  # SIB-200's own label for the topic MVL-SIB calls science


def _mvl_sib_folder(source: str | None, split: str, name: str) -> tuple[Path, str]:
    """The folder holding MVL-SIB's files (a local copy, or the Hub snapshot of the needed files) and what
    identifies it (mmx.data.hub.resolved_revision plus, for a folder, its files)."""
    from mmx.data import hub

    src, revision = _source("mvl_sib", source)
    if hub.is_local(src):
        return Path(src).expanduser().resolve(), _resolved(src, revision)
    import os

    from huggingface_hub import errors as hub_errors
    from huggingface_hub import snapshot_download

    try:  # only the split's TSVs (205 small files) and the 70 images, not the loading script's other data
        folder = snapshot_download(src, repo_type="dataset", revision=revision,
                                   token=os.environ.get("HF_TOKEN") or None,
                                   allow_patterns=[f"data/sib200/*/{split}.tsv", "data/images/sib200/*.jpg"])
    except hub_errors.LocalEntryNotFoundError as e:
        raise MmxError(f"{name} ({src}): not in the local cache and HF_HUB_OFFLINE is set (or the Hub is "
                       f"unreachable); fetch it once with `mmx data download mvl_sib`") from e
    except (hub_errors.RepositoryNotFoundError, hub_errors.RevisionNotFoundError) as e:
        raise MmxError(f"{name}: no dataset {src} at revision {revision or 'main'} on the Hub ({e})") from e
    except OSError as e:
        raise MmxError(f"{name} ({src}): cannot fetch its files ({type(e).__name__}: {e})") from e
    return Path(folder), hub.resolved_revision(src, revision)


def _mvl_sib_languages(folder: Path, split: str, name: str) -> dict[str, str]:
    """canonical code -> MVL-SIB's folder name (``eng_Latn``). Languages mmx's table does not know, and a
    second script of a language (``zho_Hant`` beside ``zho_Hans``), are left out with a note, so that each
    language is reported once under its code."""
    import sys

    from mmx.languages import UnknownLanguageError, get_language

    have = sorted(p.parent.name for p in (folder / "data" / "sib200").glob(f"*/{split}.tsv"))
    if not have:
        raise MmxError(f"{name}: no data/sib200/<language>/{split}.tsv under {folder}; is this MVL-SIB's "
                       "repository (WueNLP/mvl-sib) and the right split?")
    canon: dict[str, str] = {}
    left_out: list[str] = []
    for code in have:
        try:
            lang = get_language(FLORES_CODES.get(code, code))
        except UnknownLanguageError:
            left_out.append(code)
            continue
        if lang.code in canon:
            # keep the one written in the language's usual script (the table's)
            usual = get_language(lang.code).script
            if lang.script == usual:
                left_out.append(canon[lang.code])
                canon[lang.code] = code
            else:
                left_out.append(code)
            continue
        canon[lang.code] = code
    if left_out:
        print(f"note: {name}: left out {len(left_out)} of MVL-SIB's {len(have)} languages ({', '.join(left_out)}): "
              "not in mmx's language table, or a second script of a language it has", file=sys.stderr)
    return canon


@register_loader("mvl_sib")
def load_mvl_sib(source: str | None = None, split: str = "test", name: str = "mvl_sib", languages=None,
                 limit=None):
    """MVL-SIB as topic retrieval. ``source``: WueNLP/mvl-sib (None: the catalogue's id and revision) or a
    local folder with its files. The 70 topic images are the gallery and every image of a sentence's topic
    is relevant to it (``image_groups``): text->image R@k is whether a top-k image shows the sentence's topic,
    image->text whether a top-k sentence is about the image's topic. Each sentence is listed under one image
    of its topic (in turn) only so that every image has captions to be queried with.
    ``limit``: the first N sentences of the split per language."""
    folder, resolved = _mvl_sib_folder(source, split, name)
    canon = _mvl_sib_languages(folder, split, name)
    want = pick_languages(canon, languages, name, folder, "sentences for")
    img_dir = folder / "data" / "images" / "sib200"
    by_topic: dict[str, list[Path]] = {}
    for t in MVL_SIB_TOPICS:
        by_topic[t] = sorted(img_dir.glob(f"{t}_*.jpg"), key=lambda p: int(p.stem.rsplit("_", 1)[1])
                             if p.stem.rsplit("_", 1)[1].isdigit() else 10 ** 9)
        if not by_topic[t]:
            raise MmxError(f"{name}: no image of topic {t!r} ({t}_<n>.jpg) under {img_dir}")
    ids = [f"{t}/{p.name}" for t in MVL_SIB_TOPICS for p in by_topic[t]]
    paths = [p for t in MVL_SIB_TOPICS for p in by_topic[t]]
    groups = [t for t in MVL_SIB_TOPICS for _ in by_topic[t]]
    first = {t: groups.index(t) for t in MVL_SIB_TOPICS}
    captions: dict[str, list[list[str]]] = {}
    for c in want:
        tsv = folder / "data" / "sib200" / canon[c] / f"{split}.tsv"
        caps: list[list[str]] = [[] for _ in ids]
        seen = {t: 0 for t in MVL_SIB_TOPICS}
        rows = csv.DictReader(io.StringIO(read_text(tsv, name)), delimiter="\t", quoting=csv.QUOTE_NONE)
        missing = [k for k in ("index_id", "category", "text") if k not in (rows.fieldnames or [])]
        if missing:
            raise MmxError(f"{name}: {tsv}: column(s) {', '.join(missing)} missing; it has "
                           f"{', '.join(rows.fieldnames or []) or 'no header'}")
        for i, row in enumerate(rows):
            if limit is not None and i >= limit:
                break
            topic, text = (row.get("category") or "").strip(), (row.get("text") or "").strip()
            topic = TOPIC_ALIASES.get(topic, topic)
            if topic not in first:
                raise MmxError(f"{name}: {tsv} row {i + 1} (index_id {row.get('index_id')}): topic {topic!r} is "
                               f"not one of MVL-SIB's {', '.join(MVL_SIB_TOPICS)}")
            if not text:
                raise MmxError(f"{name}: {tsv} row {i + 1} (index_id {row.get('index_id')}): empty sentence")
            caps[first[topic] + seen[topic] % len(by_topic[topic])].append(text)
            seen[topic] += 1
        if not any(caps):
            raise MmxError(f"{name}: {tsv} holds no sentences")
        captions[c] = caps
    h = hashlib.sha256(resolved.encode())
    h.update(json.dumps([split, want, limit, ids, [captions[c] for c in want]], ensure_ascii=False).encode())
    for p in paths:
        h.update(f"{p.name}:{p.stat().st_size}\n".encode())
    return RetrievalData(name, ids, paths, captions, {c: canon[c] for c in want}, h.hexdigest()[:16], resolved,
                         image_groups=groups)
