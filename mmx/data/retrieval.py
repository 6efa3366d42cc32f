"""Image-text retrieval data: XTD10 / xFlickrCO / our probe set (one JSON format) and XM3600 (JSONL).

All loaders return a RetrievalData whose caption languages are mmx's canonical codes
(the dataset's own code is kept in ``source_codes``), e.g. XTD10's "jp" becomes "ja".
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from mmx.data.text import read_text
from mmx.errors import MmxError
from mmx.languages import normalize_code, pick_languages
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

    @property
    def languages(self) -> list[str]:
        return list(self.captions)


def _select(name: str, source: Path, images: list[str], image_dir: Path, by_code: dict[str, list[list[str]]],
            languages: list[str] | None, limit: int | None) -> RetrievalData:
    canon: dict[str, str] = {}
    for code in by_code:
        c = normalize_code(code, source)
        if c in canon:
            raise MmxError(f"{source}: languages {canon[c]!r} and {code!r} are the same language ({c})")
        canon[c] = code
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
def load_xm3600(path: Path, images: Path, name: str = "xm3600", languages=None, limit=None):
    """Crossmodal-3600 ``captions.jsonl``: one line per image,
    ``{"image/key": KEY, LANG: {"caption": [...], ...}, ...}``; images are ``KEY.jpg``."""
    path, images = Path(path), Path(images)
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
