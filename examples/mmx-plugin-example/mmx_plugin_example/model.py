"""``bag-of-chars``: a deterministic, trivial image-text encoder (an example, not a baseline).

Texts: counts of hashed character bigrams (crc32, stable across runs). Images: the pixels of a
16x16 grey thumbnail through a fixed seeded random projection. Both L2-normalised, dimension 256.
Text and image spaces are unrelated, so retrieval scores are at chance: it tests the plumbing.
"""
from __future__ import annotations

import zlib

import numpy as np
import torch

from mmx.capabilities import ImageTextEncoder
from mmx.registry import register_model

DIM = 256


@register_model("bag-of-chars")
class BagOfChars(ImageTextEncoder):
    """TRIVIAL example model (mmx-plugin-example): character bigrams vs pixels, chance-level scores."""

    cache_version = 1
    cache_libraries = ("numpy", "pillow")

    def __init__(self, name: str = "default", device: str = "cpu", **kwargs) -> None:
        super().__init__(name, "cpu", **kwargs)
        self.projection = np.random.default_rng(0).standard_normal((16 * 16, DIM)).astype(np.float32)

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        out = np.zeros((len(texts), DIM), np.float32)
        for i, t in enumerate(texts):
            s = f" {t.lower()} "
            for a, b in zip(s, s[1:]):
                out[i, zlib.crc32((a + b).encode()) % DIM] += 1
        return _normalise(out)

    def encode_images(self, images: list) -> torch.Tensor:
        px = [np.asarray(im.convert("L").resize((16, 16)), np.float32).ravel() / 255 for im in images]
        x = np.stack(px) if px else np.zeros((0, 256), np.float32)
        return _normalise(x @ self.projection)


def _normalise(x: np.ndarray) -> torch.Tensor:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return torch.from_numpy(x / np.where(n > 0, n, 1))
