"""Speech translation, X -> English: corpus BLEU and chrF per source language, with RTFx.

The data is a parallel speech set (FLEURS, the speech probe): each source-language recording is of an
*item* (FLEURS's sentence id, the probe's image) whose English text is the reference translation, as in
FLEURS X->en speech translation (Conneau et al. 2022) and Whisper's X->en evaluation. The English side is
read from the same loader, text only; English itself is not a source language here.

The model is any ``SpeechTranslator`` (Whisper's ``translate`` task: hf-whisper, faster-whisper; an
OpenAI-compatible ``/v1/audio/translations``). Everything else, audio loading, batching by duration, the
output cache, ``--on-error``, RTFx, comes from the ASR kind (mmx/tasks/asr.py). A record's scores are
sacrebleu's sufficient statistics (mmx/metrics/corpus.py), so ``bleu`` and ``chrf`` are corpus scores per
language with bootstrap CIs and paired compare tests, all from their one definition in mmx/metrics/defs.py.
"""
from __future__ import annotations

from mmx.capabilities import SpeechTranslator
from mmx.errors import MmxError
from mmx.metrics.corpus import bleu_stats, chrf_stats
from mmx.metrics.lid import fidelity
from mmx.registry import register_task_kind
from mmx.tasks.asr import ASR

TARGET = "en"


@register_task_kind("speech_translation")
class SpeechTranslation(ASR):
    capability = SpeechTranslator
    description = "speech translation X->English: corpus BLEU and chrF (sacrebleu) per source language, RTFx"
    model_call = "translate"
    cache_op = "translate-en"

    def metric_names(self):
        return {"bleu", "chrf", "rtfx", "skipped", "lang_fidelity", "script_fidelity", "truncated"}

    def result_extras(self) -> dict:
        return {"target_language": TARGET, "bleu_signature": "sacrebleu corpus BLEU, 13a tokens, exp smoothing; "
                                                             "chrF2 (char order 6, word order 0)"}

    def load_data(self, languages, limit, data_args):
        sources = [x for x in (languages or self.spec.languages or []) if x != TARGET] or None
        data = self.call_loader(data_args, sources, limit)
        data.items.pop(TARGET, None)
        english = self.call_loader(data_args, [TARGET], None, **self._text_only())
        self.refs = {it.item: it.text for it in english.items.get(TARGET, [])}
        for lang, items in data.items.items():
            missing = [it.id for it in items if it.item not in self.refs]
            if missing:
                raise MmxError(f"{self.spec.path}: {len(missing)} {lang} recording(s) have no English text of the "
                               f"same item in {english.source} (first: {missing[0]}); speech translation needs a "
                               "parallel set with English")
        return data

    def _text_only(self) -> dict:
        # the English side is text only: the probe does not synthesise it, FLEURS does not write its audio
        return {"with_audio": "false"} if self.spec.dataset.get("loader") in ("speech_probe", "fleurs") else {}

    def reference(self, item):
        return self.refs[item.item]

    def scores(self, item, text: str, lang: str) -> tuple[dict, dict]:
        ref = self.refs[item.item]
        fid, lid = fidelity(text, TARGET)  # a translation must be English, not the source language copied
        return {**bleu_stats(text, ref), **chrf_stats(text, ref), **fid}, {"source_text": item.text, **lid}
