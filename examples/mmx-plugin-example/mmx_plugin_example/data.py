"""``probe_every_nth``: mmx's probe captions, every n-th image (an example loader over a file format
mmx already reads; a real plugin would parse its own files into mmx's dataset types here)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from mmx.data.retrieval import load_caption_json
from mmx.errors import MmxError


def load_probe_every_nth(path: Path, images: Path, every: int = 2, name: str = "probe_every_nth",
                         languages=None, limit=None):
    if int(every) < 1:
        raise MmxError(f"{name}: dataset key every={every} should be >= 1")
    data = load_caption_json(path, images, name=name, languages=languages)
    keep = list(range(0, len(data.image_ids), int(every)))[: limit or None]
    return dataclasses.replace(
        data, image_ids=[data.image_ids[i] for i in keep], image_paths=[data.image_paths[i] for i in keep],
        captions={lang: [caps[i] for i in keep] for lang, caps in data.captions.items()},
        fingerprint=f"{data.fingerprint}-every{every}-{len(keep)}")  # another subset, another fingerprint
