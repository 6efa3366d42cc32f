"""Zero-shot image classification per language with CLIP-style models (Babel-ImageNet, the probe set).

Each class's text embedding is the mean of its name in the task's prompt templates for that language
(``prompts: {lang: ["a photo of a {}.", ...]}``, ``default`` for the rest; no template: the bare class
name), re-normalised, as in CLIP's prompt ensembling. A language is scored on the images of the classes
it names, among those classes only: top-1 and top-5 accuracy per image (exact score ties count as a
random order, as in retrieval) (top-5 is NaN, so left out of the
aggregate, when a language has 5 classes or fewer). Image embeddings are computed once for all languages.
A NaN or infinite embedding or score stops the run with the images or class prompts named, never counts
as a hit (mmx/metrics/retrieval.py ``require_finite``). Each image also carries ``truncated`` (1: a prompt of
its true class was cut at the model's context limit, e.g. CLIP's 77 tokens; mmx/metrics/tokenizers.py).
"""
from __future__ import annotations

import math

import torch
from tqdm import tqdm

from mmx.capabilities import ImageTextEncoder
from mmx.errors import MmxError
from mmx.metrics.retrieval import recall_at_k, require_finite, top_k_indices
from mmx.registry import register_task_kind
from mmx.schema import Record
from mmx.tasks.base import RunContext, TaskKind
from mmx.tasks.embed import embeddings, image_embeddings, truncated

KS = (1, 5)


@register_task_kind("zeroshot_classification")
class ZeroShotClassification(TaskKind):
    capability = ImageTextEncoder
    description = "zero-shot image classification, top-1/top-5 per language, class names and prompts per language"

    analysis_metrics = ("truncated",)

    def metric_names(self):
        return {"top1", "top5", "truncated"}

    def templates(self, lang: str, source_code: str | None = None) -> list[str]:
        p = self.spec.prompts
        for k in (lang, source_code, "default"):
            if k and k in p:
                v = p[k]
                tpls = [v] if isinstance(v, str) else list(v)
                bad = [t for t in tpls if "{}" not in t and "{name}" not in t]
                if bad:
                    raise MmxError(f"{self.spec.path}: prompt template {bad[0]!r} ({k}) has no {{}} for the class name")
                return tpls
        return ["{}"]

    def run(self, model, data, store, ctx: RunContext) -> None:
        todo = [lang for lang in data.languages
                if not all(store.has(f"{lang}/{i}") for i, y in zip(data.image_ids, data.labels)
                           if y in data.class_names[lang])]
        if not todo:
            return
        img = image_embeddings(model, data.image_ids, data.image_paths, ctx, self.spec.name)
        require_finite(img, [f"image {i}" for i in data.image_ids], "image embeddings", self.spec.name, model)
        labels = torch.tensor(data.labels)
        for lang in tqdm(todo, desc=f"{self.spec.name}: languages", unit="lang", disable=not ctx.progress):
            self._run_language(model, data, lang, img, labels, store, ctx)

    def _class_embeddings(self, model, names: list[str], tpls: list[str], texts: list[str], ctx,
                          lang: str = "") -> torch.Tensor:
        """texts: each class name in each template, class by class (the prompts)."""
        emb = embeddings(model, "text", texts, texts, ctx, sort_key=len,
                         timer=ctx.timer("text-emb", "texts_per_s", lang or None))
        require_finite(emb, [repr(t) for t in texts], f"class prompt embeddings of language {lang}",
                       f"{self.spec.name} ({lang})", model)
        emb = emb.view(len(names), len(tpls), -1).mean(1)
        return torch.nn.functional.normalize(emb, dim=-1)

    def _run_language(self, model, data, lang, img, labels, store, ctx) -> None:
        classes = sorted(data.class_names[lang])
        names = [data.class_names[lang][c] for c in classes]
        empty = [c for c, n in zip(classes, names) if not str(n).strip()]
        if empty:
            raise MmxError(f"{self.spec.name}: language {lang} has an empty name for class {empty[0]} in {data.source}")
        tpls = self.templates(lang, data.source_codes.get(lang))
        prompts = [t.replace("{name}", "{}").format(n) for n in names for t in tpls]
        cls = self._class_embeddings(model, names, tpls, prompts, ctx, lang)
        flags = truncated(model, prompts, ctx)
        # per class: 1 if any of its prompts was cut, NaN if the model cannot say
        cut = [max(flags[j * len(tpls):(j + 1) * len(tpls)]) for j in range(len(names))]
        col = {c: j for j, c in enumerate(classes)}
        rows = [i for i, y in enumerate(data.labels) if y in col]
        if not rows:
            return
        scores = img[rows] @ cls.T  # (images, classes)
        require_finite(scores, [f"{lang}/{data.image_ids[i]}" for i in rows], f"score rows of language {lang}",
                       f"{self.spec.name} ({lang})", model)
        target = torch.tensor([col[data.labels[i]] for i in rows])
        # Top-k accuracy is recall@k with one relevant class: the same tie-aware rule as retrieval
        # (exact ties count as a random order; a constant model scores chance, not 1).
        rel = torch.zeros_like(scores, dtype=torch.bool)
        rel[torch.arange(len(rows)), target] = True
        acc = recall_at_k(scores, rel, KS)
        top = top_k_indices(scores, 5).tolist()
        records = []
        for r, i in enumerate(rows):
            sid = f"{lang}/{data.image_ids[i]}"
            if store.has(sid):
                continue
            sc = {"top1": float(acc[1][r]), "top5": float(acc[5][r]) if len(classes) > 5 else math.nan}
            if cut[target[r]] == cut[target[r]]:  # not NaN
                sc["truncated"] = float(cut[target[r]])
            records.append(Record(id=sid, language=lang, prediction=[names[j] for j in top[r]],
                                  reference=names[target[r]], scores=sc, extra={"class": int(data.labels[i])}))
        store.write(records)
