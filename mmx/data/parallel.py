"""Parallel text: the same items in several languages, for bitext mining and cross-lingual alignment.

``parallel_text`` reads, from ``path``:

- a caption JSON ``{"images": [...], "captions": {lang: [[caption, ...] per image]}}``: the probe captions
  (assets/probe/captions.json, 15 languages) and the Babel-ImageNet repository's XTD10 / xFlickrCO files
  (xtd.json: XTD10's 11 languages). The item is the image: its ``caption``-th caption (default the first);
- a JSON ``{lang: [text, ...]}`` of equally long lists (the item is the index);
- a clone of the XTD10 repository (XTD10/test_image_names.txt and the caption files the ``xtd10`` loader
  reads; no images needed);
- a HumanEval-XL folder (``<programming language>/<Natural language>.jsonl``, or one language's folder):
  the item is the task id, the text its ``field`` (default ``description``: the natural-language part of
  the prompt; the prompt itself shares its code across languages, which makes retrieval trivial).

The item id is what pairs languages. An item blank in any chosen language is left out of all of them
(``n_dropped`` says how many), so every language has the same items in the same order.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from mmx.data.text import read_text
from mmx.errors import MmxError
from mmx.languages import canonical_codes, get_language, pick_languages
from mmx.registry import register_loader


@dataclass
class ParallelText:
    name: str
    ids: list[str]  # item ids, shared by every language
    texts: dict[str, list[str]]  # language -> one text per item, in the order of ids
    source_codes: dict[str, str] = field(default_factory=dict)  # canonical code -> the data's own code
    fingerprint: str = ""
    source: str = ""
    n_dropped: int = 0  # items left out because some chosen language had no text for them
    pivot: str = ""  # set by a task that scores every language against this one (bitext: en)

    @property
    def languages(self) -> list[str]:
        """The languages scored: every language read, less the pivot the others are scored against."""
        return [c for c in self.texts if c != self.pivot]


def _caption_json(obj: dict, path: Path, caption: int) -> tuple[list[str], dict[str, list[str]]]:
    ids = [str(x) for x in obj["images"]]
    out = {}
    for code, caps in obj["captions"].items():
        if not isinstance(caps, list) or len(caps) != len(ids):
            raise MmxError(f"{path}: language {code!r} has {len(caps) if isinstance(caps, list) else 'no'} caption "
                           f"lists for {len(ids)} images")
        out[code] = [(c[caption] if caption < len(c) else "") if isinstance(c, list) else
                     (c if caption == 0 else "") for c in caps]
    return ids, out


def _lists_json(obj: dict, path: Path) -> tuple[list[str], dict[str, list[str]]]:
    sizes = {k: len(v) for k, v in obj.items() if isinstance(v, list)}
    if len(sizes) != len(obj) or len(set(sizes.values())) != 1:
        raise MmxError(f"{path}: expected {{'images': [...], 'captions': {{lang: [...]}}}} or {{lang: [text, ...]}} "
                       f"with lists of one length; found {sizes or 'no lists'}")
    n = next(iter(sizes.values()))
    return [str(i) for i in range(n)], {k: [str(x) if x is not None else "" for x in v] for k, v in obj.items()}


def read_humaneval_xl(folder: Path, programming_language: str, text_field: str,
                      name: str) -> tuple[list[str], dict[str, list[str]], list[Path]]:
    """(task ids in the files' order, {file stem (a language name): one text per id, "" where that language
    lacks the task}, the files read); also what `mmx tokenizers --text humaneval-xl` reads."""
    files = sorted(folder.glob("*.jsonl")) or sorted((folder / programming_language).glob("*.jsonl"))
    if not files:
        raise MmxError(f"{name}: {folder} holds no caption JSON, XTD10 clone or HumanEval-XL files "
                       f"(<programming language>/<Natural language>.jsonl); point path at one")
    by_lang: dict[str, dict[str, str]] = {}
    for f in files:
        rows = {}
        for i, line in enumerate(read_text(f, name).splitlines(), 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                rows[str(r["task_id"])] = str(r[text_field] or "")
            except KeyError as e:
                raise MmxError(f"{f}:{i}: the row has no {e}; HumanEval-XL rows have task_id, and field= names "
                               "the text (description or prompt)") from e
            except (json.JSONDecodeError, TypeError) as e:
                raise MmxError(f"{f}:{i}: not a HumanEval-XL row ({e})") from e
        by_lang[f.stem] = rows
    ids = list(dict.fromkeys(i for rows in by_lang.values() for i in rows))
    return ids, {stem: [rows.get(i, "") for i in ids] for stem, rows in by_lang.items()}, files


@register_loader("parallel_text")
def load_parallel_text(path: Path | None = None, name: str = "parallel_text", languages=None, limit=None,
                       caption: int = 0, field: str = "description", programming_language: str = "python",
                       origin: str = "") -> ParallelText:
    """Parallel texts from ``path`` (see the module docstring); ``caption``: which caption of an image
    (caption JSON); ``field`` and ``programming_language``: which HumanEval-XL text (description or prompt)
    and folder. ``origin: xtd10`` with no path: XTD10's caption files fetched from its repository into the
    mmx cache, as the xtd10 loader does (no images)."""
    if path is None:
        if origin != "xtd10":
            raise MmxError(f"{name}: give the parallel text as path=FILE_OR_FOLDER (or origin: xtd10)")
        from mmx.data.retrieval import fetch_xtd10

        path, _ = fetch_xtd10(languages, with_images=False)
    path = Path(path).expanduser()
    caption = int(caption)
    if path.is_file():
        try:
            obj = json.loads(read_text(path, name))
        except json.JSONDecodeError as e:
            raise MmxError(f"{name}: {path} is not valid JSON ({e})") from e
        if isinstance(obj, dict) and isinstance(obj.get("images"), list) and isinstance(obj.get("captions"), dict):
            ids, by_code = _caption_json(obj, path, caption)
        elif isinstance(obj, dict):
            ids, by_code = _lists_json(obj, path)
        else:
            raise MmxError(f"{name}: {path} should hold a JSON object")
        used = [path]
    elif (path / "XTD10" / "test_image_names.txt").is_file():
        from mmx.data.retrieval import read_xtd10_clone

        ids, by_code, used = read_xtd10_clone(path, name)
    elif path.is_dir():
        ids, raw, used = read_humaneval_xl(path, programming_language, field, name)
        by_code = {get_language(stem).code: texts for stem, texts in raw.items()}  # file names are language names
    else:
        raise MmxError(f"{name}: {path} not found; point dataset.path (or --data-args path=...) at parallel text")
    canon = canonical_codes(by_code, path)
    want = pick_languages(canon, languages, name, path, "texts for")
    keep = [i for i in range(len(ids)) if all(str(by_code[canon[c]][i] or "").strip() for c in want)]
    dropped = len(ids) - len(keep)
    keep = keep[:limit] if limit is not None else keep
    if not keep:
        raise MmxError(f"{name}: no item of {path} has a text in every language asked for ({', '.join(want)})")
    h = hashlib.sha256()
    for f in used:
        h.update(f.read_bytes())
    h.update(json.dumps([want, len(keep), caption, field]).encode())
    texts = {c: [str(by_code[canon[c]][i]).strip() for i in keep] for c in want}
    return ParallelText(name, [ids[i] for i in keep], texts, {c: canon[c] for c in want}, h.hexdigest()[:16],
                        str(path), dropped)
