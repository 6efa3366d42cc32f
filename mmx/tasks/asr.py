"""Speech recognition: corpus WER and CER per language, the headline error, and RTFx.

Per sample the record holds error counts (after mmx/metrics/normalize.py), so the aggregate's WER/CER
are corpus ratios (all errors / all reference words), as ASR benchmarks report them. ``err`` is the
headline: CER for languages written without spaces (``uses_spaces`` in the language table), WER for the
rest. RTFx = audio seconds / compute seconds (Open ASR Leaderboard): each batch's wall time is shared
among its samples by their duration, so per-language and overall RTFx are ratios of sums as well.
The timing is the model call alone (audio decoding runs in threads beside it); the first batch
includes any warm-up. Transcripts go through the output cache together with the compute time
measured when they were made, so a rerun from the cache reports the original timing.

``truncated`` (1: the transcript hit the decoder's length limit without an end-of-text token, so it may be
cut short; issue 13) is recorded per sample for the Whisper adapters, so its share per language is reported
beside the error rates; models without a decoder limit (CTC) or that cannot say (HTTP servers) leave it out.

Audio is batched by duration (sorted within chunks of CHUNK samples) to limit padding. A sample
whose audio cannot be used stops the run (``--on-error fail``, the default) or is recorded with its
error and no scores but ``skipped = 1`` (``--on-error skip``), so tables show how much was left out.
"""
from __future__ import annotations

import sys
import time

from tqdm import tqdm

from mmx.cache import cached_map, content_key, file_key
from mmx.capabilities import SpeechRecognizer
from mmx.data.audio import SAMPLE_RATE, AudioError, duration, load_audio
from mmx.metrics.asr import error_counts, normalized_pair
from mmx.metrics.lid import fidelity
from mmx.metrics.normalize import normalizer_info
from mmx.registry import register_task_kind
from mmx.schema import Record
from mmx.tasks.base import RunContext, TaskKind

CHUNK = 256  # samples transcribed, cached and written together (what a killed run can lose)


def skipped_record(item, error: str, reference=None) -> Record:
    return Record(id=item.id, language=item.language, prediction=None,
                  reference=item.text if reference is None else reference,
                  scores={"skipped": 1.0}, extra={"error": error, "audio": str(item.audio)})


@register_task_kind("asr")
class ASR(TaskKind):
    capability = SpeechRecognizer
    description = "speech recognition: corpus WER/CER per language (CER headline without spaces), RTFx"

    def metric_names(self):  # each defined once in mmx/metrics/defs.py (wer/cer/err/rtfx: ratios of sums)
        return {"err", "wer", "cer", "rtfx", "skipped", "lang_fidelity", "script_fidelity", "truncated"}
    higher_is_better = {"err": False, "wer": False, "cer": False, "rtfx": True, "skipped": False}

    def result_extras(self) -> dict:
        """Merged into the task's results.json entry: which text normaliser the WER/CER used."""
        return {"normalizer": normalizer_info()}

    def run(self, model, data, store, ctx: RunContext) -> None:
        todo = {lang: [it for it in data.items[lang] if not store.has(it.id)] for lang in data.languages}
        total = sum(map(len, todo.values()))
        if not total:
            return
        with tqdm(total=total, desc=self.spec.name, unit="utt", disable=not ctx.progress) as bar:
            for lang, items in todo.items():
                for i in range(0, len(items), CHUNK):
                    self._chunk(model, lang, items[i:i + CHUNK], store, ctx, bar)

    def _load(self, item, ctx: RunContext):
        try:
            return load_audio(item.audio, item.id, SAMPLE_RATE)
        except AudioError as e:
            if ctx.on_error != "skip":
                raise AudioError(f"{e} (or run with --on-error skip to record it and go on)") from e
            return e

    # What the model is asked (a method of the capability) and the output cache's name for it; the speech
    # translation kind (mmx/tasks/st.py) asks ``translate`` instead and scores with ``scores``.
    model_call = "transcribe"
    analysis_metrics = ("lang_fidelity", "script_fidelity", "truncated")
    cache_op = "asr"

    def scores(self, item, text: str, lang: str) -> tuple[dict, dict]:
        """(per-sample scores, record extras) of one output against the item's reference, and whether the
        transcript is in the spoken language (an English-only model writes English for German audio)."""
        ref_n, hyp_n = normalized_pair(item.text, text, lang)
        fid, lid = fidelity(text, lang)
        return ({**error_counts(item.text, text, lang), **fid},
                {"reference_normalized": ref_n, "prediction_normalized": hyp_n, **lid})

    def reference(self, item):
        return item.text

    def _chunk(self, model, lang, items, store, ctx: RunContext, bar) -> None:
        def transcribe(batch):
            good = [j for j, a in enumerate(batch) if not isinstance(a, Exception)]
            out: list[dict] = [{"error": str(a)} if isinstance(a, Exception) else {} for a in batch]
            if good:
                # Whisper adapters also say which outputs hit the decoder's length limit (mmx/models/speech.py);
                # others (CTC, HTTP servers) cannot, and their samples carry no ``truncated``.
                flagged = getattr(model, f"{self.model_call}_with_truncation", None)  # a lazy model loads here,
                fn = flagged or getattr(model, self.model_call)  # outside the timing
                t0 = time.perf_counter()
                res = fn([batch[j].samples for j in good], SAMPLE_RATE, lang)
                dt = time.perf_counter() - t0
                texts, cut = res if flagged else (res, [None] * len(good))
                secs = sum(batch[j].seconds for j in good)
                for j, text, c in zip(good, texts, cut):
                    a = batch[j]
                    out[j] = {"text": text, "audio_s": a.seconds, "compute_s": dt * a.seconds / secs if secs else 0.0,
                              "notes": a.notes, **({"truncated": float(c)} if c is not None else {})}
            return out

        keys = [content_key(file_key(it.audio), lang) if it.audio and it.audio.is_file() else f"missing:{it.id}"
                for it in items]
        durs = {it.id: duration(it.audio) for it in items}
        outs = cached_map(transcribe, items, keys, namespace=f"{ctx.model_key}|{self.cache_op}|{lang}",
                          batch_size=ctx.batch_size,
                          cache=ctx.cache, dist=ctx.dist, sort_key=lambda it: durs[it.id],
                          load=lambda it: self._load(it, ctx), progress=bar.update,
                          timer=ctx.timer(self.cache_op, "rtfx", lang, amount=_audio_seconds))
        records, skipped = [], 0
        for it, o in zip(items, outs):
            if "error" in o:
                if ctx.on_error != "skip":  # an error cached by an earlier --on-error skip run
                    raise AudioError(f"{o['error']} (or run with --on-error skip to record it and go on)")
                records.append(skipped_record(it, o["error"], self.reference(it)))
                skipped += 1
                continue
            scores, extra = self.scores(it, o["text"], lang)
            records.append(Record(
                id=it.id, language=lang, prediction=o["text"], reference=self.reference(it),
                scores={**scores, "audio_s": o["audio_s"], "compute_s": o["compute_s"], "skipped": 0.0,
                        **({"truncated": o["truncated"]} if "truncated" in o else {})},
                extra={"audio": str(it.audio), **extra, **({"item": it.item} if it.item else {}),
                       **({"notes": o["notes"]} if o["notes"] else {})}))
        if skipped:
            print(f"{self.spec.name}: skipped {skipped} sample(s) of {lang} with unusable audio (their records "
                  "hold the error under extra.error)", file=sys.stderr)
        store.write([r for r in records if not store.has(r.id)])


def _audio_seconds(inputs: list, outputs: list) -> float:
    """Seconds of audio transcribed in a batch (its RTFx for mmx/speed.py; unreadable files do not count)."""
    return sum(o.get("audio_s", 0.0) for o in outputs if "error" not in o)
