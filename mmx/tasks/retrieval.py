"""Cross-lingual image-text retrieval: text->image and image->text Recall@1/5/10 per language.

Images are encoded once and shared by every language; each language's captions are encoded,
scored against the images, and its records written before the next language starts, so a
killed run resumes at the first unfinished language. Embeddings go through the output cache
(mmx/cache.py), which also deals the batches across ranks in a sharded run. A NaN or infinite embedding
or score stops the run with the samples named (mmx/metrics/retrieval.py ``require_finite``).
Each caption query also carries ``truncated`` (1: the model cut it at its context limit, e.g. CLIP's 77 tokens;
mmx/metrics/tokenizers.py), so the share of cut captions per language is reported next to the recalls.
"""
from __future__ import annotations

import numpy as np
from tqdm import tqdm

from mmx.capabilities import ImageTextEncoder
from mmx.errors import MmxError
from mmx.metrics.retrieval import recall_at_k, require_finite, top_k_indices
from mmx.registry import register_task_kind
from mmx.schema import Record
from mmx.tasks.base import RunContext, TaskKind
from mmx.tasks.embed import embeddings, image_embeddings, truncated

KS = (1, 5, 10)
SHOW_TOP = 10  # candidates stored as the "prediction" of each sample


@register_task_kind("retrieval")
class Retrieval(TaskKind):
    capability = ImageTextEncoder
    description = "image<->text Recall@1/5/10 per language, several captions per image"
    analysis_metrics = ("truncated",)

    def metric_names(self):
        return {f"{d}_r{k}" for d in ("t2i", "i2t") for k in KS} | {"truncated"}

    def run(self, model, data, store, ctx: RunContext) -> None:
        todo = [lang for lang in data.languages if not self._done(store, data, lang)]
        if not todo:
            return
        img = image_embeddings(model, data.image_ids, data.image_paths, ctx, self.spec.name,
                               f"{self.spec.name}: images")
        require_finite(img, [f"image {i}" for i in data.image_ids], "image embeddings", self.spec.name, model)
        for lang in tqdm(todo, desc=f"{self.spec.name}: languages", unit="lang", disable=not ctx.progress):
            self._run_language(model, data, lang, img, store, ctx)

    @staticmethod
    def _ids(data, lang):
        t2i = [f"t2i/{lang}/{iid}/{j}" for iid, caps in zip(data.image_ids, data.captions[lang]) for j in range(len(caps))]
        i2t = [f"i2t/{lang}/{iid}" for iid, caps in zip(data.image_ids, data.captions[lang]) if caps]
        return t2i, i2t

    def _done(self, store, data, lang) -> bool:
        t2i, i2t = self._ids(data, lang)
        return all(store.has(i) for i in t2i + i2t)

    def _run_language(self, model, data, lang, img, store, ctx) -> None:
        texts, owner, cap_ref = [], [], []
        for i, (iid, caps) in enumerate(zip(data.image_ids, data.captions[lang])):
            for j, c in enumerate(caps):
                texts.append(c)
                owner.append(i)
                cap_ref.append(f"{iid}/{j}")
        if not texts:
            raise MmxError(f"{self.spec.name}: language {lang} has no captions in {data.source}")
        # Batches of similar length cut padding; keys are the texts themselves.
        txt = embeddings(model, "text", texts, texts, ctx, f"{self.spec.name}: texts", sort_key=len,
                         timer=ctx.timer("text-emb", "texts_per_s", lang))
        cut = truncated(model, texts, ctx)
        t2i_ids, i2t_ids = self._ids(data, lang)
        where = f"{self.spec.name} ({lang})"
        require_finite(txt, t2i_ids, f"caption embeddings of language {lang}", where, model)
        scores = txt @ img.T  # (texts, images); embeddings are unit-norm, so this is cosine similarity
        # Finite embeddings can still overflow (float32 products of huge values): check the scores too.
        require_finite(scores, t2i_ids, f"caption score rows of language {lang}", where, model)
        # The (texts, images) passes below run in numpy (mmx/metrics/retrieval.py says why).
        scores = scores.numpy()
        owner_a = np.asarray(owner)
        rel = owner_a[:, None] == np.arange(len(data.image_ids))[None, :]
        groups = getattr(data, "image_groups", None)  # MVL-SIB: every image of a caption's topic is a hit
        if groups:
            index = {x: n for n, x in enumerate(sorted(set(groups)))}
            g = np.asarray([index[x] for x in groups])
            rel = g[owner_a][:, None] == g[None, :]
        t2i, i2t = recall_at_k(scores, rel, KS), recall_at_k(scores.T, rel.T, KS)
        t2i_top, i2t_top = top_k_indices(scores, SHOW_TOP), top_k_indices(scores.T, SHOW_TOP)
        records = []
        t2i_vals = {k: t2i[k].tolist() for k in KS}
        t2i_top_l = t2i_top.tolist()
        for q, sid in enumerate(t2i_ids):
            records.append(Record(
                id=sid, language=lang, prediction=[data.image_ids[g] for g in t2i_top_l[q]],
                reference=data.image_ids[owner[q]], scores={**{f"t2i_r{k}": t2i_vals[k][q] for k in KS},
                                                            **({"truncated": cut[q]} if cut[q] == cut[q] else {})},
                extra={"text": texts[q]}))
        own_caps: dict[int, list[str]] = {}
        for q, i in enumerate(owner):
            own_caps.setdefault(i, []).append(cap_ref[q])
        has_caps = [i for i, caps in enumerate(data.captions[lang]) if caps]
        i2t_vals = {k: i2t[k].tolist() for k in KS}
        i2t_top_l = i2t_top.tolist()
        for sid, i in zip(i2t_ids, has_caps):
            records.append(Record(
                id=sid, language=lang, prediction=[cap_ref[g] for g in i2t_top_l[i]], reference=own_caps[i],
                scores={f"i2t_r{k}": i2t_vals[k][i] for k in KS}))
        store.write([r for r in records if not store.has(r.id)])
