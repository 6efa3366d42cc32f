"""The speech sets from the Hub (FLEURS's Parquet export, Common Voice's TSV + MP3 tars, IndicVoices-R's
Parquet), read offline from fixtures in the Hub's exact layout (tests/hub_fixtures_speech.py) through the same
datasets / huggingface_hub code the Hub uses: the fields, limit, language filters, bad data named by row, the
audio cache, and the tasks end to end."""
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cli_runner import cli
from hub_fixtures_speech import FLEURS_ROWS, IVR_ROWS, write_common_voice, write_fleurs, write_indicvoices_r
from mmx import registry
from mmx.capabilities import SpeechRecognizer, SpeechSynthesizer
from mmx.data.audio import load_audio
from mmx.data.speech import FLEURS_CONFIGS, load_common_voice, load_fleurs, load_indicvoices_r
from mmx.errors import MmxError
from mmx.languages import normalize_code


@pytest.fixture(autouse=True)
def _private_datasets_cache(tmp_path, monkeypatch):
    """datasets' Arrow cache in the test's own folder, never the user's ~/.cache/huggingface."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets")
    monkeypatch.setenv("MMX_CACHE_DIR", str(tmp_path / "mmx-cache"))  # each test sees only its own audio
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a test that reached for the network would fail, not hang


def _cached(benchmark: str) -> list[Path]:
    from mmx.cache import default_cache_dir

    root = default_cache_dir() / "hub-audio" / benchmark
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


# --- FLEURS ----------------------------------------------------------------------------------------------

def test_fleurs_configs_are_languages_mmx_knows():
    assert len(FLEURS_CONFIGS) == 102 and len({normalize_code(c) for c in FLEURS_CONFIGS}) == 102


def test_fleurs_hub_fields(tmp_path):
    root = write_fleurs(tmp_path / "fleurs")
    d = load_fleurs(source=str(root))
    assert sorted(d.languages) == ["de", "en"] and d.source_codes == {"de": "de_de", "en": "en_us"}
    de = d.items["de"]
    want = FLEURS_ROWS["de_de"]
    assert [it.id for it in de] == [f"de/{r[1]}" for r in want]  # the file name: ids repeat across speakers
    assert [it.item for it in de] == [str(r[0]) for r in want]  # the sentence id pairs languages
    assert [it.text for it in de] == [r[2] for r in want]  # raw_transcription
    for j, it in enumerate(de):  # the WAV bytes, written once, decode to what was stored
        a = load_audio(it.audio, it.id)
        assert a.sample_rate == 16000 and len(a.samples) == int((0.5 + 0.25 * j) * 16000)
    norm = load_fleurs(source=str(root), languages=["deu"], text="normalized")
    assert norm.languages == ["de"] and [it.text for it in norm.items["de"]] == [r[3] for r in want]
    assert norm.fingerprint != d.fingerprint
    again = load_fleurs(source=str(root))
    assert [it.audio for it in again.items["de"]] == [it.audio for it in de]  # the cached files are reused
    assert again.fingerprint == d.fingerprint
    # the fingerprint names the data: the same rows from another folder are other data
    other = write_fleurs(tmp_path / "copy")
    assert load_fleurs(source=str(other)).fingerprint != d.fingerprint


def test_fleurs_hub_limit_reads_only_what_it_needs(tmp_path):
    root = write_fleurs(tmp_path / "fleurs")
    d = load_fleurs(source=str(root), languages=["de"], limit=2)
    assert [it.id for it in d.items["de"]] == [f"de/{r[1]}" for r in FLEURS_ROWS["de_de"][:2]]
    assert len(_cached("fleurs")) == 2  # only the two rows' audio was written
    assert load_fleurs(source=str(root), languages=["de"], limit=1).fingerprint != d.fingerprint


def test_fleurs_hub_bad_data_is_named(tmp_path):
    with pytest.raises(MmxError, match=r"no language fr .*it has de, en"):
        load_fleurs(source=str(write_fleurs(tmp_path / "a")), languages=["fr"])
    with pytest.raises(MmxError, match=r"column\(s\) raw_transcription missing; the data has id, "):
        load_fleurs(source=str(write_fleurs(tmp_path / "b", drop="raw_transcription")), languages=["de"])
    with pytest.raises(MmxError, match=r"fleurs \(.*de_de, split test\), row 1: the audio does not decode"):
        load_fleurs(source=str(write_fleurs(tmp_path / "c", bad_audio_row=1)), languages=["de"])
    with pytest.raises(MmxError, match=r"no <config>/test/\*.parquet"):
        load_fleurs(source=str(tmp_path / "c" / "de_de"))
    with pytest.raises(MmxError, match="either path .* or source"):
        load_fleurs(path=tmp_path, source=str(tmp_path))


def test_fleurs_dev_is_the_exports_validation_split(tmp_path):
    root = write_fleurs(tmp_path / "fleurs", split="validation")
    d = load_fleurs(source=str(root), languages=["en"], split="dev")
    assert d.items["en"][0].text == FLEURS_ROWS["en_us"][0][2]


# --- Common Voice ----------------------------------------------------------------------------------------

def test_common_voice_hub_layout(tmp_path):
    root = write_common_voice(tmp_path / "cv")
    d = load_common_voice(source=str(root))
    assert sorted(d.languages) == ["de", "sv"] and d.source_codes == {"sv": "sv-SE", "de": "de"}
    sv = d.items["sv"]
    assert [(it.id, it.text) for it in sv] == [(f"sv/common_voice_sv-SE_{4000 + i}.mp3", f"Hej värld {i}")
                                               for i in range(3)]  # TSV order, though the tars hold them reversed
    a = load_audio(sv[2].audio, sv[2].id)  # 48 kHz MP3 out of the tar, resampled for the models
    assert a.sample_rate == 16000 and abs(a.seconds - 0.5) < 0.1
    assert load_common_voice(source=str(root), languages=["sv-SE"]).source_codes == {"sv": "sv-SE"}


def test_common_voice_limit_stops_reading_the_tars(tmp_path):
    root = write_common_voice(tmp_path / "cv", {"sv-SE": [f"Mening {i}" for i in range(5)]}, shard_size=2)
    d = load_common_voice(source=str(root), languages=["sv"], limit=1)
    assert [it.text for it in d.items["sv"]] == ["Mening 0"]
    assert [p.name for p in _cached("common_voice")] == ["common_voice_sv-SE_4000.mp3"]


def test_common_voice_bad_data_is_named(tmp_path):
    root = write_common_voice(tmp_path / "a", missing_clip=1)
    with pytest.raises(MmxError, match=r"transcript/sv-SE/test.tsv\), row 3: clip common_voice_sv-SE_4001.mp3 "
                                       r"is in none of the 1 audio tar\(s\)"):
        load_common_voice(source=str(root), languages=["sv"])
    with pytest.raises(MmxError, match=r"no language 'fr'.*it has de, sv-SE"):
        load_common_voice(source=str(write_common_voice(tmp_path / "b")), languages=["fr"])
    amb = write_common_voice(tmp_path / "c", {"zh-CN": ["你好"], "zh-TW": ["你好"]})
    with pytest.raises(MmxError, match=r"'zh' is zh-CN, zh-TW in Common Voice; name one"):
        load_common_voice(source=str(amb), languages=["zh"])
    assert load_common_voice(source=str(amb), languages=["zh-TW"]).source_codes == {"zh": "zh-TW"}
    tsv = tmp_path / "b" / "transcript" / "de" / "test.tsv"
    tsv.write_text("client_id\tpath\ttext\nc\tx.mp3\tHallo\n", encoding="utf-8")
    with pytest.raises(MmxError, match=r"needs the columns path and sentence; it has client_id, path, text"):
        load_common_voice(source=str(tmp_path / "b"), languages=["de"])


def test_common_voice_off_the_hub_says_where_it_went(monkeypatch):
    """mozilla-foundation/common_voice_* hold no data files since Oct 2025: the error says where to get it."""
    import huggingface_hub
    from huggingface_hub import errors

    def gone(*a, **k):
        raise errors.EntryNotFoundError("404 Client Error: Entry Not Found")

    from mmx.data import catalog

    # whatever the catalogue pins: this test is about the errors of the download
    monkeypatch.setattr(catalog, "hub_id_and_revision", lambda name, source=None: (source, None))
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", gone)
    with pytest.raises(MmxError, match=r"n_shards.json\): the repository has no such file; Mozilla took Common "
                                       r"Voice off the Hugging Face Hub.*Mozilla Data Collective.*path="):
        load_common_voice(source="mozilla-foundation/common_voice_17_0", languages=["de"])

    def gated(*a, **k):
        import httpx2 as httpx  # what huggingface_hub builds its errors from

        url = "https://huggingface.co/datasets/mozilla-foundation/common_voice_17_0/resolve/main/n_shards.json"
        raise errors.GatedRepoError("403 gated", response=httpx.Response(403, request=httpx.Request("GET", url)))

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", gated)
    with pytest.raises(MmxError, match=r"gated\. Accept its terms at https://huggingface.co/datasets/"
                                       r"mozilla-foundation/common_voice_17_0 .*HF_TOKEN"):
        load_common_voice(source="mozilla-foundation/common_voice_17_0", languages=["de"])


# --- IndicVoices-R ---------------------------------------------------------------------------------------

def test_indicvoices_r_texts_and_recordings(tmp_path):
    root = write_indicvoices_r(tmp_path / "ivr")
    d = load_indicvoices_r(source=str(root))
    assert sorted(d.languages) == ["hi", "ta"] and d.source_codes == {"hi": "Hindi", "ta": "Tamil"}
    hi = d.items["hi"]
    assert [it.text for it in hi] == [r[0] for r in IVR_ROWS["Hindi"]]
    assert [it.id for it in hi] == [f"hi/{r[2]}_Hindi_{j:04d}" for j, r in enumerate(IVR_ROWS["Hindi"])]
    assert [round(sf.info(str(it.audio)).duration, 3) for it in hi] == [r[3] for r in IVR_ROWS["Hindi"]]
    verb = load_indicvoices_r(source=str(root), languages=["hin"], text="verbatim", limit=1)
    assert [it.text for it in verb.items["hi"]] == ["नमस्ते दुनिया [noise]"]
    assert len(_cached("indicvoices_r")) == 4  # the 4 recordings, each once


def test_indicvoices_r_bad_data_is_named(tmp_path):
    with pytest.raises(MmxError, match=r"no language te \(split test\).*it has hi, ta"):
        load_indicvoices_r(source=str(write_indicvoices_r(tmp_path / "a")), languages=["te"])
    with pytest.raises(MmxError, match=r"column\(s\) text missing"):
        load_indicvoices_r(source=str(write_indicvoices_r(tmp_path / "b", drop="text")), languages=["hi"])
    with pytest.raises(MmxError, match=r"Hindi, split test\), row 2: the audio does not decode"):
        load_indicvoices_r(source=str(write_indicvoices_r(tmp_path / "c", bad_audio_row=2)), languages=["hi"])


# --- end to end ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def whisper(tmp_path_factory):
    from mmx.models.tiny_speech import build_tiny_whisper

    return build_tiny_whisper(tmp_path_factory.mktemp("hub-speech") / "whisper")


def _records(run: Path, task: str) -> list[dict]:
    return [json.loads(x) for x in (run / "samples" / f"{task}.jsonl").read_text().splitlines()]


def test_fleurs_asr_and_st_from_the_hub_layout(whisper, tmp_path, capsys):
    root = write_fleurs(tmp_path / "fleurs")
    code, _, err = cli(capsys, "evaluate", "--tasks", "fleurs_asr", "--model", f"hf-whisper:{whisper}",
                       "--languages", "de", "--limit", 2, "--data-args", f"source={root}",
                       "--output", tmp_path / "asr", "--no-progress")
    assert code == 0, err
    recs = _records(tmp_path / "asr", "fleurs_asr")
    assert [(r["id"], r["reference"]) for r in recs] == [(f"de/{r[1]}", r[2]) for r in FLEURS_ROWS["de_de"][:2]]
    res = json.dumps(json.loads((tmp_path / "asr" / "results.json").read_text()))
    assert load_fleurs(source=str(root), languages=["de"], limit=2).fingerprint in res  # which data it saw
    code, _, err = cli(capsys, "evaluate", "--tasks", "fleurs_st", "--model", f"hf-whisper:{whisper}",
                       "--languages", "de", "--data-args", f"source={root}", "--output", tmp_path / "st",
                       "--no-progress")
    assert code == 0, err
    english = {str(r[0]): r[2] for r in FLEURS_ROWS["en_us"]}
    recs = _records(tmp_path / "st", "fleurs_st")
    assert sorted((r["extra"]["item"], r["reference"]) for r in recs) == sorted(
        (str(r[0]), english[str(r[0])]) for r in FLEURS_ROWS["de_de"])


class _CharTTS(SpeechSynthesizer):
    """One sample per character at 16 kHz: a text of n characters lasts n / 16000 s."""

    cache_version = 1
    cache_libraries = ("numpy",)

    def __init__(self, name, device="cpu", **kw):
        super().__init__(name, "cpu", **kw)

    def synthesize(self, texts, language):
        return [np.array([ord(c) / 100000 + 0.01 for c in t], dtype=np.float32) for t in texts], 16000


class _CharJudge(SpeechRecognizer):
    """Reads _CharTTS's audio back exactly."""

    cache_version = 1
    cache_libraries = ("numpy",)

    def __init__(self, name, device="cpu", **kw):
        super().__init__(name, "cpu", **kw)

    def transcribe(self, waveforms, sample_rate, language):
        return ["".join(chr(round((float(x) - 0.01) * 100000)) for x in w) for w in waveforms]


registry.register_model("test-ivr-tts")(_CharTTS)
registry.register_model("test-ivr-judge")(_CharJudge)


def test_indicvoices_r_tts_end_to_end(tmp_path, capsys):
    root = write_indicvoices_r(tmp_path / "ivr")
    code, _, err = cli(capsys, "evaluate", "--tasks", "indicvoices_r_tts", "--model", "test-ivr-tts:x",
                       "--languages", "hi,ta", "--data-args", f"source={root},asr_model=test-ivr-judge:x",
                       "--output", tmp_path / "run", "--no-progress", "--no-cache")
    assert code == 0, err
    recs = {r["id"]: r for r in _records(tmp_path / "run", "indicvoices_r_tts")}
    assert len(recs) == 4
    for j, (text, _, spk, secs) in enumerate(IVR_ROWS["Hindi"]):
        r = recs[f"hi/{spk}_Hindi_{j:04d}"]
        assert r["reference"] == text and r["prediction"] == text
        # synthesised len(text)/16000 s against the recording's seconds
        assert r["scores"]["duration_ratio"] == pytest.approx(len(text) / 16000 / secs)
    task = json.loads((tmp_path / "run" / "results.json").read_text())["tasks"]["indicvoices_r_tts"]
    assert task["languages"]["hi"]["metrics"]["err"] == 0 and task["languages"]["ta"]["metrics"]["failed"] == 0
