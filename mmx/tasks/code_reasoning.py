"""Code reasoning (CRUXEval-X): predict what a function returns (or what input it was given), checked by
running the completed test in the sandbox, pass@k per task (one task per programming language).

Follows CRUXEval-X (arXiv 2408.13001; github.com/CRUXEVAL-X/cruxeval-x, inference/): the prompt shows the
function and its test with ``????`` in the assertion, the model answers between [ANSWER] and [/ANSWER], the
answer replaces ``????`` and the program runs; it passes when the test passes. Here the program runs under
the code kind's pass-token harness and sandbox (mmx/execution), so a program that exits early with status 0
fails. The prompt is the reference's zero-shot form (its few-shot examples are not in the Hub dataset).

``prediction: output`` (CRUXEval-X's output reasoning, the default) or ``input`` (input reasoning). An output
answer that calls the function under test or evaluates code (``candidate(...)``, ``eval``) is refused
without running: ``assert f(x) == f(x)`` would pass without predicting anything.
"""
from __future__ import annotations

import re
from typing import Literal

from pydantic import Field

from mmx.data.code import HOLE
from mmx.metrics.passk import pass_at_k
from mmx.registry import register_task_kind
from mmx.schema import Record
from mmx.tasks.codegen import CodeGeneration, CodeGenOptions

STOP = ["[/ANSWER]"]
OUTPUT_PROMPT = ('Based on the given code, which may contain errors, complete the "????" in assert statement with '
                 "the output when executing the {lang} code on the given test case. Do NOT output any extra "
                 "information, even if the function is incorrect or incomplete. Do NOT output a description for "
                 "the assert. Surround the answer with [ANSWER] and [/ANSWER].\n\n```{lang}\n{code}\n```\n[ANSWER]\n")
INPUT_PROMPT = ("You will be given a {lang} function f and a check function, where you only know the output of the "
                "test case. Find any input such that executing f on the input leads to the given output. There may "
                "be multiple answers, but you should only output one. Surround the answer, with no additional "
                "words, with [ANSWER] and [/ANSWER]. Express your answer as the arguments that replace \"????\".\n\n"
                "```{lang}\n{code}\n```\n[ANSWER]\n")
_STRINGS = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|`(?:[^`\\]|\\.)*`')
_CHEATS = re.compile(r"\b(candidate|f|F|eval|exec|compile|getattr|globals|locals|vars|__import__|Function|require"
                     r"|import)\b")


class ReasoningOptions(CodeGenOptions):
    """``prediction:`` and ``generation:`` in the YAML; each also on --data-args (prediction=input, n=5)."""
    prediction: Literal["output", "input"] = Field("output", description="what the model predicts")


def answer_of(text: str) -> str:
    """The model's answer: what it wrote before [/ANSWER], without the tags."""
    return text.split("[/ANSWER]")[0].replace("[ANSWER]", "").strip()


def refusal(answer: str, prediction: str) -> str | None:
    """Why an answer is refused without running it (None: run it)."""
    if not answer:
        return "empty answer"
    if prediction == "output":
        bare = _STRINGS.sub('""', answer)
        m = _CHEATS.search(bare)
        if m:
            return f"an output prediction must be a value; it uses {m.group(1)!r}"
    return None


@register_task_kind("code_reasoning")
class CodeReasoning(CodeGeneration):
    """The code generation kind's loop (sandbox check, skipped runtimes, chunks, cached completions) with
    CRUXEval-X's prompt and scoring in ``_chunk``."""

    description = ("code reasoning (CRUXEval-X): predict a program's output or input, checked by running it, "
                   "per language")
    Options = ReasoningOptions

    def load_data(self, languages, limit, dataset_args):
        self.prediction = self.options.prediction
        return super().load_data(languages, limit, dataset_args)

    def result_extras(self) -> dict:
        return {**super().result_extras(), "prediction": getattr(self, "prediction", None)}

    def prompt(self, p) -> str:
        template, test = (OUTPUT_PROMPT, p.output_test) if self.prediction == "output" else (INPUT_PROMPT, p.input_test)
        return template.format(lang=p.programming_language, code=p.code + test)

    def _chunk(self, model, ex, probs, store, ctx) -> None:
        outs = self.complete(model, [self.prompt(p) for p in probs], STOP, ctx, languages=[p.language for p in probs])
        answers = [[answer_of(c) for c in comps] for comps in outs]
        jobs = {}  # program text -> program, for the answers that run
        programs = []
        for p, ans in zip(probs, answers):
            test = p.output_test if self.prediction == "output" else p.input_test
            row = []
            for a in ans:
                if refusal(a, self.prediction):
                    row.append(None)
                    continue
                prog = ex.program(p.code, "", test.replace(HOLE, a), "f", "multipl-e")
                jobs.setdefault(str(prog), prog)
                row.append(str(prog))
            programs.append(row)
        unique = list(jobs)
        results = dict(zip(unique, self._execute(ex, [jobs[s] for s in unique], ctx)))
        records = []
        for p, ans, progs in zip(probs, answers, programs):
            statuses, reasons, errors = [], [], []
            for a, src in zip(ans, progs):
                if src is None:
                    statuses.append("refused")
                    reasons.append(refusal(a, self.prediction))
                    errors.append(reasons[-1])
                    continue
                r = results[src]
                statuses.append(r.status if not r.ok else "ok")
                reasons.append(r.extra.get("reason"))
                if not r.ok:
                    errors.append(r.stderr[-800:] or r.stdout[-800:] or r.extra.get("reason"))
            n, c = len(ans), statuses.count("ok")
            records.append(Record(
                id=f"{p.language}/{p.id}", language=p.language, prediction=ans,
                reference=p.output if self.prediction == "output" else p.input,
                scores={f"pass@{k}": pass_at_k(n, c, k) for k in self.ks()},
                extra={"task_id": p.id, "programming_language": ex.name, "prediction_kind": self.prediction,
                       "n": n, "n_correct": c, "statuses": statuses, "reasons": reasons,
                       "first_error": errors[0] if errors else None}))
        store.write(records)
