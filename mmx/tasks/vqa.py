"""Visual question answering per language: open-ended (VQA accuracy, exact match) and multiple choice.

The prompt is the task YAML's per-language template (``prompts: {lang: "... {question} ..."}``; ``default``
or English when a language has none); multiple-choice templates also get ``{options}`` (lettered lines).
``answer_language`` in the YAML says which language the model is asked to answer in: ``question``
(default: the question's own language) or a fixed code (xGQA: ``en``, its answers are English); the
prompt templates ask for it, and that language's normaliser scores the answer (mmx/metrics/vqa.py).

``answer_languages`` (a list, e.g. ``[question, en]``; --data-args ``answer_languages=question+en``) asks
each open question once per entry instead: a question-language x answer-language grid (results.json
``answer_grid``; issue 13 section 6). Ids get ``@ENTRY``; an entry other than ``question`` uses that
language's prompt template (its instruction asks for that language) filled with the question, and is
scored against the parallel item's answers in that language (the same id without its language segment;
the set must have them: the probe has every language's). Multiple-choice questions are asked once.

Open-ended: ``vqa_acc`` (VQA accuracy rule on annotator answers; any-match for accepted-answer sets) and
``exact_match``. Multiple choice: ``mc_acc``, by the options' log-likelihood (``score_options``; default)
or, with ``mc_mode: generate`` (YAML or --data-args), by the letter the model writes.
Generations and option scores go through the output cache; records are written per batch.
"""
from __future__ import annotations

import re
import string
import sys
from dataclasses import replace
from typing import List, Literal, Optional

from pydantic import Field, field_validator
from tqdm import tqdm

from mmx.cache import cached_map, content_key, file_key
from mmx.capabilities import PromptTooLong, VisionLanguageModel
from mmx.data.images import load_image
from mmx.errors import MmxError
from mmx.metrics.lid import fidelity
from mmx.metrics.vqa import exact_match, normalize_answer, vqa_accuracy
from mmx.registry import register_task_kind
from mmx.schema import Record
from mmx.speed import generation_amount
from mmx.tasks.base import RunContext, TaskKind
from mmx.tasks.config import Options

CHUNK = 64  # at least this many samples generated and written together (what a killed run can lose)


class VQAOptions(Options):
    max_new_tokens: int = Field(16, ge=1, description="for open answers (and mc_mode generate)")
    mc_mode: Literal["loglik", "generate"] = Field(
        "loglik", description="multiple choice: score each option's likelihood, or generate a letter")
    answer_language: str = Field("question", description="the language answers are expected in: 'question' "
                                                          "(each sample's own) or one code for all")
    answer_languages: Optional[List[str]] = Field(
        None, description="ask each open question once per entry ('question' or a code; on --data-args "
                          "joined by '+'): a question x answer language grid; default: answer_language only")

    @field_validator("answer_languages", mode="before")
    @classmethod
    def _codes(cls, v):
        from mmx.languages import UnknownLanguageError, normalize_code

        items = v.replace("+", " ").split() if isinstance(v, str) else v
        if items is None or not isinstance(items, list):
            return items  # a type error, named by pydantic
        try:
            out = [x if x == "question" else normalize_code(str(x)) for x in items]
        except UnknownLanguageError as e:
            raise ValueError(f"{e}; entries are 'question' or language codes") from None
        if not out or len(set(out)) != len(out):
            raise ValueError(f"{items!r}: list each answer language once (at least one)")
        return out


@register_task_kind("vqa")
class VQA(TaskKind):
    capability = VisionLanguageModel
    description = "visual question answering per language: VQA accuracy, exact match, multiple-choice accuracy"
    Options = VQAOptions
    analysis_metrics = ("lang_fidelity", "script_fidelity")

    def metric_names(self):
        return {"vqa_acc", "exact_match", "mc_acc", "lang_fidelity", "script_fidelity"}

    def load_data(self, languages, limit, dataset_args):
        grid = self.options.answer_languages
        fixed = [a for a in grid or () if a != "question"]
        asked = languages or self.spec.languages
        if fixed and isinstance(asked, list):  # the answer languages' items give the references
            asked = list(dict.fromkeys([*asked, *fixed]))
        data = self.call_loader(dataset_args, asked, limit)
        for lang, mc in {(s.language, s.options is not None) for s in data.samples}:
            self.template(lang, mc)  # fail now, not after an hour, when a language has no prompt
        if grid:
            from mmx.languages import normalize_code

            want = languages or self.spec.languages
            keep = {normalize_code(c) for c in want} if isinstance(want, list) else None
            data.samples = self._grid(data.samples, grid, keep)
        return data

    def _grid(self, samples, grid, keep):
        """Each open question once per answer-language entry, with the references in that language."""
        from mmx.report.aggregate import item_key  # the parallel item: the id without its language segment

        refs = {(s.answer_language or s.language, item_key(s)): s for s in samples if s.options is None}
        out = []
        for s in samples:
            if keep is not None and s.language not in keep:
                continue
            if s.options is not None:
                out.append(s)
                continue
            own = s.answer_language or s.language
            for entry in grid:
                alang = own if entry == "question" else entry
                ref = s if alang == own else refs.get((alang, item_key(s)))
                if ref is None:
                    raise MmxError(f"{self.spec.name}: sample {s.id!r} has no parallel item with answers in "
                                   f"{alang!r} (looked for {item_key(s)!r} in that language); answer_languages "
                                   "can only list languages whose answers the set has for every question")
                self.template(alang, False)
                out.append(replace(s, id=f"{s.id}@{entry}", answers=ref.answers, annotators=ref.annotators,
                                   answer_language=alang, extra={**s.extra, "answer_request": entry}))
        return out

    # ------------------------------------------------------------------ prompts

    def template(self, lang: str, mc: bool) -> str:
        prompts = self.spec.prompts
        key = "mc" if mc else "open"
        table = prompts.get(key, prompts) if isinstance(prompts.get(key), dict) else prompts
        for k in (lang, "default", "en"):
            if k in table and isinstance(table[k], str):
                return table[k]
        if not table:
            return "{question}\n{options}" if mc else "{question}"
        raise MmxError(f"{self.spec.path}: no prompt for language {lang!r} (and no 'default' or 'en'); "
                       f"add prompts: {{{lang}: \"... {{question}} ...\"}}")

    def answer_language(self, sample) -> str:
        if "answer_request" in sample.extra:  # a grid sample: its entry's language, resolved in _grid
            return sample.answer_language
        fixed = self.options.answer_language
        if fixed != "question":
            return fixed
        return sample.answer_language or sample.language

    def prompt(self, sample) -> str:
        mc = sample.options is not None
        entry = sample.extra.get("answer_request", "question")
        tpl = self.template(sample.language if entry == "question" else entry, mc)
        letters = string.ascii_uppercase
        opts = "\n".join(f"{letters[i]}. {o}" for i, o in enumerate(sample.options or []))
        try:
            return tpl.format(question=sample.question, options=opts, answer_language=self.answer_language(sample))
        except (KeyError, IndexError) as e:
            raise MmxError(f"{self.spec.path}: prompt template {tpl!r} has an unknown field {e}; "
                           "use {question}, {options}, {answer_language}") from e

    # ------------------------------------------------------------------ run

    def run(self, model, data, store, ctx: RunContext) -> None:
        todo = [s for s in data.samples if not store.has(s.id)]
        empty: dict[str, int] = {}
        with tqdm(total=len(todo), desc=self.spec.name, unit="q", disable=not ctx.progress) as bar:
            size = max(CHUNK, 4 * ctx.batch_size)
            for start in range(0, len(todo), size):
                chunk = todo[start:start + size]
                for lang in dict.fromkeys(s.language for s in chunk):  # one language a call: timed per language
                    store.write(self._chunk(model, [s for s in chunk if s.language == lang], ctx, empty))
                bar.update(len(chunk))
        if empty:
            print(f"note: {self.spec.name}: the model gave an empty answer to "
                  f"{', '.join(f'{n} {lang}' for lang, n in sorted(empty.items()))} question(s); they score 0 "
                  "(raise max_new_tokens with --data-args max_new_tokens=N if answers are cut off)",
                  file=sys.stderr)

    def _load(self, sample):
        return [load_image(p, sample.id, self.spec.name) for p in sample.images]

    def _call(self, fn, batch_samples, inputs):
        try:
            return fn(inputs)
        except PromptTooLong as e:
            s = batch_samples[e.index] if 0 <= e.index < len(batch_samples) else None
            where = f"sample {s.id!r}" if s else "a sample of this batch"
            raise MmxError(f"{self.spec.name}: the prompt of {where} is too long for the model: {e}. "
                           "Shorten the task's prompt template, lower the image resolution or use a model with a "
                           "longer context (hf-vlm: --model-args max_length=N if the model allows more)") from None

    def _chunk(self, model, samples, ctx, empty) -> list[Record]:
        open_s = [s for s in samples if s.options is None or self.options.mc_mode == "generate"]
        mc_s = [s for s in samples if s.options is not None and self.options.mc_mode == "loglik"]
        records = []
        if open_s:
            mnt = self.options.max_new_tokens
            keys = [content_key(*(file_key(p) for p in s.images), self.prompt(s), str(mnt)) for s in open_s]

            def gen(batch):
                return self._call(lambda b: model.generate(b, max_new_tokens=mnt), [s for s, _ in batch],
                                  [(ims, self.prompt(s)) for s, ims in batch])

            outs = cached_map(gen, open_s, keys, namespace=f"{ctx.model_key}|vlm-generate", batch_size=ctx.batch_size,
                              cache=ctx.cache, dist=ctx.dist, load=lambda s: (s, self._load(s)),
                              timer=ctx.timer("vlm-generate", None, samples[0].language, generation_amount(model)),
                              sort_key=lambda s: len(s.question))  # similar lengths batch together: less padding
            for s, out in zip(open_s, outs):
                if not out.strip():
                    empty[s.language] = empty.get(s.language, 0) + 1
                records.append(self._score_open(s, out) if s.options is None else self._score_letter(s, out))
        if mc_s:
            keys = [content_key(*(file_key(p) for p in s.images), self.prompt(s), *s.options) for s in mc_s]

            def score(batch):
                return self._call(model.score_options, [s for s, _ in batch],
                                  [(ims, self.prompt(s), list(s.options)) for s, ims in batch])

            outs = cached_map(score, mc_s, keys, namespace=f"{ctx.model_key}|vlm-options", batch_size=ctx.batch_size,
                              cache=ctx.cache, dist=ctx.dist, load=lambda s: (s, self._load(s)),
                              timer=ctx.timer("vlm-options", "samples_per_s", samples[0].language))
            for s, lls in zip(mc_s, outs):
                pred = max(range(len(lls)), key=lambda i: lls[i])
                records.append(Record(id=s.id, language=s.language, prediction=s.options[pred],
                                      reference=s.options[s.answer_index], scores={"mc_acc": float(pred == s.answer_index)},
                                      extra={"question": s.question, "loglik": lls, **s.extra}))
        return records

    def _score_open(self, s, out: str) -> Record:
        alang = self.answer_language(s)
        answer = out.strip().splitlines()[0] if out.strip() else ""
        extra = {"question": s.question, "answer_language": alang, "normalized": normalize_answer(answer, alang),
                 **({"raw": out} if answer != out else {}), **s.extra}
        if not answer:
            extra["error"] = "empty answer"
        fid, lid = fidelity(answer, alang)  # short answers (numbers, yes/no) get a note, not a guess
        return Record(id=s.id, language=s.language, prediction=answer, reference=s.answers,
                      scores={"vqa_acc": vqa_accuracy(answer, s.answers, alang, s.annotators),
                              "exact_match": exact_match(answer, s.answers), **fid}, extra={**extra, **lid})

    def _score_letter(self, s, out: str) -> Record:
        """mc_mode=generate: the first standalone option letter in the answer, else an option's text."""
        letters = string.ascii_uppercase[:len(s.options)]
        m = re.search(rf"\b([{letters}])\b", out.strip())
        pred = letters.index(m.group(1)) if m else next(
            (i for i, o in enumerate(s.options) if normalize_answer(o, s.language)
             and normalize_answer(o, s.language) == normalize_answer(out, s.language)), None)
        extra = {"question": s.question, "raw": out, **s.extra}
        if not out.strip():
            extra["error"] = "empty answer"
        return Record(id=s.id, language=s.language, prediction=s.options[pred] if pred is not None else out,
                      reference=s.options[s.answer_index], scores={"mc_acc": float(pred == s.answer_index)}, extra=extra)
