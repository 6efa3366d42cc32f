"""Issue 11.2: the TTS task's ASR judge is loaded like any model: lazily, through the output cache (under its
own model key), on the run's --device, and sharded like the rest.

A fake synthesiser writes each character as one sample (its code point / 1000) and a fake judge reads them
back, so every transcript must equal its input text: a transcript given to the wrong sample (by the cache or
by the gathering of shards) shows as a mismatch. The judge family's __init__ and transcribe are spied on.
"""
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mmx import registry
from mmx.cache import OutputCache
from mmx.capabilities import ModelSpec, SpeechRecognizer, SpeechSynthesizer
from mmx.dist import Dist
from mmx.runner import EvalRequest, evaluate, model_loader
from mmx.schema import NullStore
from mmx.tasks.base import RunContext, parse_task
from mmx.tasks.tts import TTS

CAPTIONS = Path(__file__).resolve().parents[1] / "assets" / "probe" / "captions.json"


class CodeTTS(SpeechSynthesizer):
    """Speaks text as one sample per character: its code point / 1000, at 16 kHz."""

    synthesized: list[str] = []
    cache_version = 1
    cache_libraries = ("numpy",)

    def __init__(self, name: str, device: str = "cpu", **kwargs: Any):
        super().__init__(name, "cpu", **kwargs)

    def synthesize(self, texts, language):
        CodeTTS.synthesized += texts
        return [np.array([ord(c) / 1000 for c in t], dtype=np.float32) for t in texts], 16000


class CodeJudge(SpeechRecognizer):
    """Reads CodeTTS's audio back; records how it was built and what it was asked."""

    inits: list[tuple[str, Any]] = []  # (thread, the device argument as given)
    calls: list[tuple[str, int]] = []  # (thread, waveforms in the batch)
    cache_version = 1
    cache_libraries = ("numpy",)

    def __init__(self, name: str, device: str = "cpu", **kwargs: Any):
        CodeJudge.inits.append((threading.current_thread().name, device))
        super().__init__(name, "cpu", **kwargs)

    def transcribe(self, waveforms, sample_rate, language):
        assert sample_rate == 16000
        CodeJudge.calls.append((threading.current_thread().name, len(waveforms)))
        return ["".join(chr(round(float(x) * 1000)) for x in w) for w in waveforms]


registry.register_model("test-code-tts")(CodeTTS)
registry.register_model("test-code-judge")(CodeJudge)


@pytest.fixture(autouse=True)
def _spies():
    CodeTTS.synthesized, CodeJudge.inits, CodeJudge.calls = [], [], []


@pytest.fixture
def task_yaml(tmp_path):
    p = tmp_path / "code_tts.yaml"
    p.write_text(f"task: code_tts\nkind: tts\ndataset:\n  loader: speech_probe\n  path: {CAPTIONS}\n"
                 "  with_audio: false\nasr_model: test-code-judge:reader\nlanguages: [en, de, ja]\n"
                 "metrics: [err, wer, cer, failed]\nprimary_metric: err\n")
    return p


def _run(task_yaml, out, cache_dir, limit):
    return evaluate(EvalRequest(model="test-code-tts:x", tasks=[str(task_yaml)], limit=limit, device="cpu",
                                output=out, cache_dir=cache_dir, progress=False, batch_size=4))


def _records(out):
    import json

    return [json.loads(x) for x in (Path(out) / "samples" / "code_tts.jsonl").read_text().splitlines()]


def test_cached_judge_outputs_never_load_the_judge(task_yaml, tmp_path):
    cache = tmp_path / "cache"
    a = _run(task_yaml, tmp_path / "a", cache, limit=5)
    recs = _records(tmp_path / "a")
    assert len(recs) == 15 and all(r["prediction"] == r["reference"] for r in recs)  # each transcript its own
    assert CodeJudge.inits == [("MainThread", "cpu")]  # built once, with the run's --device (was: None)
    assert sum(n for _, n in CodeJudge.calls) == 15
    assert all(v["metrics"]["err"] == 0 for v in a["tasks"]["code_tts"]["languages"].values())

    # A new output folder, the same cache: synthesis runs again, the judge is never constructed.
    CodeJudge.inits, CodeJudge.calls = [], []
    _run(task_yaml, tmp_path / "b", cache, limit=5)
    assert CodeJudge.inits == [] and CodeJudge.calls == []
    assert len(CodeTTS.synthesized) == 30  # 15 texts in each run
    assert {r["id"]: r["prediction"] for r in _records(tmp_path / "b")} == {r["id"]: r["prediction"] for r in recs}

    # Two more texts per language: the judge loads, and hears only the 6 it has not heard before.
    _run(task_yaml, tmp_path / "c", cache, limit=7)
    assert len(CodeJudge.inits) == 1 and sum(n for _, n in CodeJudge.calls) == 6
    assert all(r["prediction"] == r["reference"] for r in _records(tmp_path / "c"))

    # Resuming a finished run folder: nothing to synthesise, nothing to judge.
    CodeJudge.inits, CodeTTS.synthesized = [], []
    _run(task_yaml, tmp_path / "c", cache, limit=7)
    assert CodeJudge.inits == [] and CodeTTS.synthesized == []


@dataclass
class ThreadDist(Dist):
    """Two ranks as two threads of this process: broadcast and all_gather through shared slots."""

    slots: Any = None
    gate: Any = None

    def broadcast(self, obj):
        if self.rank == 0:
            self.slots[0] = obj
        self.gate.wait()
        out = self.slots[0]
        self.gate.wait()
        return out

    def all_gather(self, obj):
        self.slots[self.rank] = obj
        self.gate.wait()
        out = list(self.slots)
        self.gate.wait()
        return out

    def barrier(self):
        self.gate.wait()


def test_a_sharded_run_deals_the_judges_batches_across_ranks(task_yaml):
    spec = parse_task(task_yaml)
    slots, gate = [None, None], threading.Barrier(2, timeout=60)
    stores, errors = {}, []

    def rank(r):
        try:
            kind = TTS(spec)
            data = kind.load_data(["en", "de"], 8, {})
            dist = ThreadDist(rank=r, world=2, slots=slots, gate=gate)
            cache = OutputCache(enabled=False)
            load = model_loader(cache, "cpu")
            ctx = RunContext(batch_size=2, seed=0, progress=False, cache=cache, dist=dist, device="cpu",
                             load_model=load)
            stores[r] = NullStore(set())
            kind.run(load(ModelSpec.parse("test-code-tts:x"), CodeTTS), data, stores[r], ctx)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
            gate.abort()

    threads = [threading.Thread(target=rank, args=(r,), name=f"rank{r}") for r in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    heard = {name: sum(n for t, n in CodeJudge.calls if t == name) for name in ("rank0", "rank1")}
    assert heard == {"rank0": 8, "rank1": 8}  # 16 texts in batches of 2, dealt round-robin (was: 16 each)
    assert len(CodeTTS.synthesized) == 16  # synthesis is dealt too: each text spoken once in all
    for r in (0, 1):  # every rank ends with every record, each with its own transcript
        recs = stores[r].records
        assert len(recs) == 16 and all(x.prediction == x.reference for x in recs.values())

