"""The encoder task kinds' model calls (retrieval, zero-shot classification, bitext): embeddings and truncation
flags, through the output cache (mmx/cache.py), which also deals the batches across ranks. Texts are batched by
length in both, so each rank asks about the very texts it has just encoded (the open_clip adapter answers the
flags from its encoding pass) and padding stays short."""
from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from mmx.cache import cached_map, file_key
from mmx.data.images import load_image
from mmx.metrics.tokenizers import truncation_flags
from mmx.tasks.base import RunContext


def embeddings(model, what: str, items: list, keys: list[str], ctx: RunContext, desc: str | None = None,
               **kw) -> torch.Tensor:
    """(len(items), D) float32 embeddings of images (``what`` "image") or texts, on the CPU; ``desc``: a progress
    bar's title (None: no bar); ``kw``: cached_map's (load, sort_key, timer)."""
    method = "encode_images" if what == "image" else "encode_texts"  # looked up only on a cache miss:
    fn = lambda batch: list(getattr(model, method)(batch).float().cpu().numpy())  # noqa: E731  (a lazy model loads on first use)
    with tqdm(total=len(items), desc=desc, unit=what, disable=not (ctx.progress and desc), leave=False) as bar:
        rows = cached_map(fn, items, keys, namespace=f"{ctx.model_key}|{what}-emb", batch_size=ctx.batch_size,
                          cache=ctx.cache, dist=ctx.dist, progress=bar.update, **kw)
    return torch.from_numpy(np.stack(rows)) if rows else torch.zeros(0, 0)


def truncated(model, texts: list[str], ctx: RunContext) -> list[float]:
    """Per text: 1.0 where the model cuts it at its context limit, 0.0 where not, NaN where it cannot say."""
    return cached_map(lambda batch: truncation_flags(model, batch), texts, texts,
                      namespace=f"{ctx.model_key}|truncated", batch_size=ctx.batch_size, cache=ctx.cache,
                      dist=ctx.dist, sort_key=len)


def image_embeddings(model, ids: list[str], paths: list, ctx: RunContext, task: str,
                     desc: str | None = None) -> torch.Tensor:
    """Each image decoded and prepared (the adapter's prepare_image) in the loader threads, ahead of the model;
    cached by content, so a replaced file is encoded again."""
    return embeddings(model, "image", list(zip(ids, paths)), [file_key(p) for p in paths], ctx, desc,
                      timer=ctx.timer("image-emb", "images_per_s"),
                      load=lambda it: model.prepare_image(load_image(it[1], it[0], task)))
