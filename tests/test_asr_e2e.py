"""End to end: tiny random Whisper and CTC models saved locally and loaded through from_pretrained, a
manifest with good and bad audio, --on-error skip|fail, the output cache, MMS adapters, and an
OpenAI-compatible transcription server on 127.0.0.1."""
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mmx.models.speech import HFCTC, OpenAIASR, split_long
from mmx.models.tiny_speech import build_tiny_ctc, build_tiny_whisper
from cli_runner import cli
from local_server import LocalServer


def tone(seconds, freq=440.0, rate=16000):
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny-speech")
    return {"whisper": build_tiny_whisper(d / "whisper"), "ctc": build_tiny_ctc(d / "ctc"),
            "mms": build_tiny_ctc(d / "mms", adapters=["eng", "deu"])}


@pytest.fixture(scope="module")
def task_yaml(tmp_path_factory):
    d = tmp_path_factory.mktemp("speech-data")
    lines = []
    for i, (lang, text) in enumerate([("de", "ein grünes dreieck"), ("de", "zwei blaue kreise"),
                                      ("en", "one green triangle"), ("en", "two blue circles"),
                                      ("zh", "上边有一个绿色的三角形")]):
        sf.write(d / f"ok{i}.wav", tone(0.5 + 0.25 * i, 300 + 50 * i), 16000)
        lines.append({"audio": f"ok{i}.wav", "text": text, "language": lang})
    sf.write(d / "stereo.wav", np.stack([tone(1.0, rate=44100)] * 2, axis=1), 44100)  # fine: downmixed, resampled
    lines.append({"audio": "stereo.wav", "text": "stereo", "language": "en"})
    (d / "empty.wav").write_bytes(b"")
    lines.append({"audio": "empty.wav", "text": "leer", "language": "de"})
    (d / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40))
    lines.append({"audio": "corrupt.wav", "text": "kaputt", "language": "de"})
    (d / "m.jsonl").write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    (d / "asr.yaml").write_text(
        "task: tiny_asr\nkind: asr\ndataset:\n  loader: manifest\n  path: m.jsonl\nlanguages: all\n"
        "metrics: [err, wer, cer, rtfx, skipped]\nprimary_metric: err\n")
    return d / "asr.yaml"


def read_records(run: Path, task: str):
    return [json.loads(x) for x in (run / "samples" / f"{task}.jsonl").read_text().splitlines()]


def test_ctc_skip_records_bad_audio(models, task_yaml, tmp_path, capsys):
    code, out, err = cli(capsys, "evaluate", "--tasks", task_yaml, "--model", f"hf-ctc:{models['ctc']}",
                         "--on-error", "skip", "--output", tmp_path / "run", "--no-progress", "--batch-size", 4)
    assert code == 0, err
    assert "RANDOM WEIGHTS" in out and "skipped 2 sample(s) of de" in err
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    task = res["tasks"]["tiny_asr"]
    assert task["n_records"] == 8 and res["run"]["on_error"] == "skip"
    # the normaliser behind the WER is named, so a number can be matched with published ones
    assert task["normalizer"]["en"].startswith("whisper-english") and task["normalizer"]["other"]
    recs = read_records(tmp_path / "run", "tiny_asr")
    assert not any("truncated" in r["scores"] for r in recs)  # CTC has no decoder limit: nothing to flag
    bad = {r["id"]: r for r in recs if r["extra"].get("error")}
    assert sorted(bad) == ["de/corrupt.wav", "de/empty.wav"]
    assert "empty (0 bytes)" in bad["de/empty.wav"]["extra"]["error"]
    assert all(r["scores"] == {"skipped": 1.0} and r["prediction"] is None for r in bad.values())
    de = task["languages"]["de"]
    assert de["n_records"] == 4 and de["n"]["wer"] == 2 and de["metrics"]["skipped"] == pytest.approx(0.5)
    stereo = next(r for r in recs if r["id"] == "en/stereo.wav")
    assert stereo["extra"]["notes"] == ["downmixed 2 channels to mono", "resampled 44100 Hz -> 16000 Hz"]
    assert stereo["scores"]["audio_s"] == pytest.approx(1.0)
    # corpus ratios from the per-sample counts on disk; zh's headline is CER, en's is WER
    for lang, head in (("en", "wer"), ("zh", "cer")):
        rs = [r for r in recs if r["language"] == lang and "wer_errors" in r["scores"]]
        num, den = RATIO_KEYS[head]
        m = task["languages"][lang]["metrics"]
        assert m[head] == pytest.approx(sum(r["scores"][num] for r in rs) / sum(r["scores"][den] for r in rs))
        assert m["err"] == m[head]
        assert m["rtfx"] == pytest.approx(sum(r["scores"]["audio_s"] for r in rs) /
                                          sum(r["scores"]["compute_s"] for r in rs))
        assert m["rtfx"] > 0
    assert task["metric_defs"]["err"]["higher_is_better"] is False
    assert task["metric_defs"]["rtfx"] == {"type": "ratio", "num": "audio_s", "den": "compute_s",
                                           "stats": ["audio_s", "compute_s"], "reducer": "ratio",
                                           "higher_is_better": True, "scale": 1.0, "unit": "x real time",
                                           "ci": "bootstrap-percentile"}

    # A rerun into a new folder comes from the output cache: no model load, same transcripts and timings.
    code, _, err = cli(capsys, "evaluate", "--tasks", task_yaml, "--model", f"hf-ctc:{models['ctc']}",
                       "--on-error", "skip", "--output", tmp_path / "run2", "--no-progress", "--batch-size", 4)
    assert code == 0, err
    res2 = json.loads((tmp_path / "run2" / "results.json").read_text())
    assert res2["run"]["model_loaded"] is False
    again = {r["id"]: r for r in read_records(tmp_path / "run2", "tiny_asr")}
    assert all(again[r["id"]]["prediction"] == r["prediction"] and again[r["id"]]["scores"] == r["scores"]
               for r in recs)


RATIO_KEYS = {"wer": ("wer_errors", "wer_words"), "cer": ("cer_errors", "cer_chars")}


def test_fail_stops_with_the_sample_named(models, task_yaml, tmp_path, capsys):
    code, _, err = cli(capsys, "evaluate", "--tasks", task_yaml, "--model", f"hf-ctc:{models['ctc']}",
                       "--output", tmp_path / "run", "--no-progress", "--no-cache", "--languages", "de")
    assert code == 2
    assert "sample 'de/" in err and "--on-error skip" in err and "Traceback" not in err
    code, _, err = cli(capsys, "evaluate", "--tasks", task_yaml, "--model", f"hf-ctc:{models['ctc']}",
                       "--on-error", "maybe", "--output", tmp_path / "r2", "--no-progress")
    assert code == 2 and "--on-error 'maybe'" in err


def test_whisper_end_to_end(models, task_yaml, tmp_path, capsys):
    code, out, err = cli(capsys, "evaluate", "--tasks", task_yaml, "--model", f"hf-whisper:{models['whisper']}",
                         "--on-error", "skip", "--languages", "en,zh", "--output", tmp_path / "run",
                         "--no-progress", "--batch-size", 8)
    assert code == 0, err
    task = json.loads((tmp_path / "run" / "results.json").read_text())["tasks"]["tiny_asr"]
    assert sorted(task["languages"]) == ["en", "zh"] and task["languages"]["en"]["n"]["wer"] == 3
    recs = read_records(tmp_path / "run", "tiny_asr")
    assert all(isinstance(r["prediction"], str) for r in recs)
    # issue 13: random weights never write end-of-text, so every transcript ran to the decoder's length limit
    good = [r for r in recs if not r["extra"].get("error")]
    assert good and all(r["scores"]["truncated"] == 1.0 for r in good)
    assert all(task["languages"][lang]["metrics"]["truncated"] == 1.0 for lang in ("en", "zh"))


def test_whisper_language_is_forced(models):
    import torch

    from mmx.models.speech import HFWhisper

    m = HFWhisper(models["whisper"])
    feats = m.processor.feature_extractor([tone(1.0)], sampling_rate=16000, return_tensors="pt").input_features
    seen = []  # the decoder's first input: the prompt generate() built
    hook = m.model.model.decoder.register_forward_pre_hook(
        lambda mod, args, kw: seen.append(kw["input_ids"][0].tolist()) if kw.get("input_ids") is not None else None,
        with_kwargs=True)
    for lang, token in (("de", "<|de|>"), ("zh", "<|zh|>")):
        seen.clear()
        with torch.inference_mode():
            m.model.generate(feats, language=lang, task="transcribe", max_new_tokens=2)
        toks = m.processor.tokenizer.convert_ids_to_tokens(seen[0])
        assert toks[:4] == ["<|startoftranscript|>", token, "<|transcribe|>", "<|notimestamps|>"]
    hook.remove()
    assert len(m.transcribe([tone(0.5), tone(31.0)], 16000, "de")) == 2  # long-form input is chunked


def test_whisper_features_equal_the_extractors_own():
    """mmx computes the spectrogram over the longest piece and fills the rest: the same bits as 30 s padding."""
    from transformers import WhisperFeatureExtractor

    from mmx.models.speech import whisper_features

    fe = WhisperFeatureExtractor(feature_size=80)
    rng = np.random.default_rng(0)
    for waves in ([tone(0.5), tone(2.3, 300), np.zeros(3000, np.float32)],
                  [(0.1 * rng.standard_normal(n)).astype(np.float32) for n in (16000 * 29, 5000, 160 * 7 + 3, 1)],
                  [tone(30.0), tone(1.0)]):
        ref = fe(waves, sampling_rate=16000, return_tensors="pt", return_attention_mask=True)
        feats, mask = whisper_features(fe, waves)
        assert feats.shape == ref.input_features.shape == (len(waves), 80, 3000)
        assert np.array_equal(feats.numpy(), ref.input_features.numpy())
        assert np.array_equal(mask.numpy(), ref.attention_mask.numpy())


def test_whisper_flags_only_transcripts_that_ran_to_the_limit(models):
    from mmx.models.speech import HFWhisper, whisper_features

    m = HFWhisper(models["whisper"])
    waves = [tone(0.5), tone(0.5)]
    assert m.transcribe_with_truncation(waves, 16000, "en")[1] == [True, True]  # random weights: no end-of-text
    feats, _ = whisper_features(m.processor.feature_extractor, waves)
    first = int(m.model.generate(feats, language="en", task="transcribe", max_new_tokens=1)[0, -1])
    m.model.generation_config.eos_token_id = first  # now the first token written ends the transcript
    texts, cut = m.transcribe_with_truncation(waves, 16000, "en")
    assert cut == [False, False] and texts == ["", ""]


def test_truncation_flags_from_token_sequences():
    from mmx.models.speech import ct2_hit_limit, hit_limit

    eot = {256}
    # transformers 5: generated tokens only, end-of-text stripped, shorter rows padded with it
    assert hit_limit([5, 6, 7], steps=3, end_ids=eot)  # one token per step: no end-of-text
    assert not hit_limit([5, 6, 256], steps=3, end_ids=eot)  # ended at step 3, padded
    assert not hit_limit([5, 6, 7], steps=4, end_ids=eot)  # the longest row ended: its end-of-text took step 4
    assert not hit_limit([], steps=1, end_ids=eot)  # end-of-text first
    # CTranslate2: at most max_length // 2 generated tokens, and no more than max_length - len(prompt)
    assert ct2_hit_limit(224, 2, 448) and not ct2_hit_limit(223, 2, 448) and not ct2_hit_limit(7, 2, 448)
    assert ct2_hit_limit(10, 2, 20) and ct2_hit_limit(1, 5, 6)


def test_split_long_cuts_in_silence():
    rate = 16000
    wave = np.concatenate([tone(27.0), np.zeros(rate // 2, np.float32), tone(20.0), np.zeros(rate, np.float32),
                           tone(10.0)])
    pieces = split_long(wave, rate)
    assert len(pieces) == 3 and all(len(p) <= 30 * rate for p in pieces)
    assert np.array_equal(np.concatenate(pieces), wave)
    assert 27.0 <= len(pieces[0]) / rate <= 27.5  # inside the half second of silence
    assert split_long(tone(3.0), rate)[0].shape == (3 * rate,)


def test_mms_adapters_are_swapped_per_language(models):
    m = HFCTC(models["mms"])
    wave = [tone(1.0)]
    de = m.transcribe(wave, 16000, "de")
    assert m.target == "deu"
    en = m.transcribe(wave, 16000, "en")
    assert m.target == "eng" and en != de  # different adapter weights, different output
    assert m.transcribe(wave, 16000, "deu") == de
    with pytest.raises(Exception, match="no adapter for fr"):
        m.transcribe(wave, 16000, "fr")


def _transcriptions(path, headers, body):
    """A stand-in OpenAI-compatible server: checks the multipart request and answers with what it
    received (language and number of audio samples), so the test sees the request arrived intact."""
    boundary = headers["Content-Type"].split("boundary=")[1].encode()
    fields = {}
    for part in body.split(b"--" + boundary)[1:-1]:
        head, _, value = part.strip(b"\r\n").partition(b"\r\n\r\n")
        name = head.split(b'name="')[1].split(b'"')[0].decode()
        fields[name] = value
    if path != "/v1/audio/transcriptions" or fields.get("model") != b"whisper-1":
        return 404, {"error": {"message": "no such model"}}
    audio, rate = sf.read(io.BytesIO(fields["file"]))
    return 200, {"text": f"{fields['language'].decode()} {len(audio)} {rate}"}


def test_openai_compatible_endpoint():
    with LocalServer(_transcriptions) as server:
        base = server.url
        m = OpenAIASR("whisper-1", base_url=base, concurrency=2)
        out = m.transcribe([tone(1.0, rate=8000), tone(0.5, rate=8000)], 8000, "deu")
        assert out == ["de 16000 16000", "de 8000 16000"]  # resampled to 16 kHz, language as ISO 639-1
        with pytest.raises(Exception, match="answered 404"):
            OpenAIASR("other-model", base_url=base).transcribe([tone(0.1)], 16000, "en")
    with pytest.raises(Exception, match="cannot reach the transcription server"):
        OpenAIASR("whisper-1", base_url=base, timeout=2, max_retries=0).transcribe([tone(0.1)], 16000, "en")
