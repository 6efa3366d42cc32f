"""Every user error is exit 2 with a message that names what is wrong, never a traceback: numeric options,
unknown keys (with a suggestion), a bad --output or --device, text that is not UTF-8, nothing to evaluate."""
import json
from pathlib import Path

import pytest

from mmx.data.retrieval import RetrievalData
from mmx.data.speech import load_manifest
from mmx.data.vqa import finish
from mmx.errors import MmxError
from mmx.models.tiny import build_tiny
from mmx.registry import register_loader
from cli_runner import cli

ROOT = Path(__file__).resolve().parents[1]
PROBE = ROOT / "assets" / "probe"
IMAGES = json.loads((PROBE / "captions.json").read_text())["images"]


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    return build_tiny("hf-clip", tmp_path_factory.mktemp("tiny") / "hf-clip", seed=0)


@pytest.fixture(scope="module")
def small_run(tiny_clip, tmp_path_factory):
    """One finished run, compared with itself by the `mmx compare` option checks."""
    from mmx.runner import EvalRequest, evaluate

    out = tmp_path_factory.mktemp("runs") / "r"
    evaluate(EvalRequest(model=tiny_clip, tasks=["probe_retrieval"], languages=["en", "de"], limit=3,
                         output=out, progress=False))
    return out


def refused(result, *needles):
    code, out, err = result
    assert code == 2, (code, err)
    assert "Traceback" not in err + out
    for n in needles:
        assert n in err, (n, err)
    return err


def caption_task(tmp_path: Path, captions: dict | bytes, name="caps", extra="") -> Path:
    """A retrieval task over the probe's images with the given captions file."""
    data = tmp_path / f"{name}.json"
    data.write_bytes(captions if isinstance(captions, bytes) else json.dumps(captions).encode())
    y = tmp_path / f"{name}.yaml"
    y.write_text(f"task: {name}\nkind: retrieval\ndataset: {{loader: caption_json, path: {data}, "
                 f"images: {PROBE / 'images'}}}\nmetrics: [t2i_r1]\n{extra}")
    return y


def run_task(capsys, model, yaml_path, out, *extra):
    return cli(capsys, "evaluate", "--tasks", yaml_path, "--model", model, "--output", out, "--no-progress", *extra)


def test_numeric_options_are_checked(tiny_clip, small_run, tmp_path, capsys):
    base = ("evaluate", "--tasks", "probe_retrieval", "--model", tiny_clip, "--languages", "en", "--no-progress")
    # Old main: --limit 0 ran the whole set and --limit -3 silently dropped three items.
    refused(cli(capsys, *base, "--limit", 0, "--output", tmp_path / "a"), "--limit should be >= 1, got 0")
    refused(cli(capsys, *base, "--limit", -3, "--output", tmp_path / "b"), "--limit should be >= 1, got -3")
    refused(cli(capsys, *base, "--batch-size", 0, "--output", tmp_path / "c"), "--batch-size should be >= 1")
    assert not any((tmp_path / x).exists() for x in "abc")
    refused(cli(capsys, *base, "--limit", "abc"), "Invalid value for '--limit'")  # typer's usage error: exit 2 too
    cmp = ("compare", small_run, small_run)
    refused(cli(capsys, *cmp, "--resamples", 0), "--resamples should be >= 1", "100 or more recommended")
    refused(cli(capsys, *cmp, "--alpha", 1.5), "--alpha should be > 0 and < 1, got 1.5")
    refused(cli(capsys, *cmp, "--alpha", 0), "--alpha should be > 0 and < 1")
    refused(cli(capsys, *cmp, "--threshold", -0.01), "--threshold should be >= 0")
    refused(cli(capsys, "verify-execution", "--workers", 0, "--root", tmp_path), "--workers should be >= 1")
    refused(cli(capsys, "verify-execution", "--limit", -1, "--root", tmp_path), "--limit should be >= 1")


def test_bad_output_and_device(tiny_clip, tmp_path, capsys):
    base = ("evaluate", "--tasks", "probe_retrieval", "--model", tiny_clip, "--languages", "en", "--limit", 2,
            "--no-progress")
    afile = tmp_path / "a_file"
    afile.write_text("x")
    refused(cli(capsys, *base, "--output", afile), f"--output {afile} is a file")
    refused(cli(capsys, *base, "--output", afile / "sub" / "run"), f"--output {afile / 'sub' / 'run'}",
            "cannot create the run folder")
    assert afile.read_text() == "x"
    for dev in ("gpu", "cuda:7", "cuda", "tpu:0"):
        err = refused(cli(capsys, *base, "--device", dev, "--output", tmp_path / "d"), "--device")
        assert dev in err
    assert not (tmp_path / "d").exists()
    target = tmp_path / "model"
    target.mkdir()
    (target / "weights.bin").write_bytes(b"mine")
    refused(cli(capsys, "build-tiny-model", "hf-clip", target), f"{target} already exists")
    assert [p.name for p in target.iterdir()] == ["weights.bin"]


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16"])
def test_text_that_is_not_utf8_names_the_file_and_the_encoding(tiny_clip, tmp_path, capsys, encoding):
    text = json.dumps({"images": IMAGES[:2], "captions": {"de": [["Eine große Straße, grün und weiß"],
                                                                  ["Ein Kreis über dem Würfel, gelb"]]}},
                      ensure_ascii=False)
    y = caption_task(tmp_path, text.encode(encoding))
    err = refused(run_task(capsys, tiny_clip, y, tmp_path / "r"), f"{tmp_path / 'caps.json'} is not UTF-8",
                  "it looks like")
    print(f"{encoding}: {err.strip()}")
    assert "unknown encoding" not in err and (encoding != "utf-16" or "utf_16" in err)
    bad_yaml = tmp_path / "t.yaml"
    bad_yaml.write_bytes("task: größe\nkind: retrieval\n".encode(encoding))
    refused(cli(capsys, "evaluate", "--tasks", bad_yaml, "--model", tiny_clip), f"{bad_yaml} is not UTF-8")


def test_unknown_keys_are_errors_with_a_suggestion(tiny_clip, tmp_path, capsys, monkeypatch):
    # --data-args: old main evaluated xGQA's test split when asked for "splt=dev".
    monkeypatch.setenv("MMX_DATA", str(tmp_path))
    refused(cli(capsys, "evaluate", "--tasks", "xgqa", "--model", "openai-vlm:x", "--data-args", "splt=dev",
                "--output", tmp_path / "x", "--no-progress"), "unknown key 'splt'", "Did you mean 'split'?")
    caps = {"images": IMAGES[:2], "captions": {"en": [["a red circle"], ["a blue square"]]}}
    y = caption_task(tmp_path, caps)
    refused(run_task(capsys, tiny_clip, y, tmp_path / "r", "--data-args", "image=/x"), "unknown key 'image'",
            "Did you mean 'images'?")
    # YAML: a top-level key, a dataset key, a metric the kind cannot produce.
    y = caption_task(tmp_path, caps, "k1", "primary_metrc: t2i_r1\n")
    refused(run_task(capsys, tiny_clip, y, tmp_path / "r"), "unknown key 'primary_metrc'",
            "Did you mean 'primary_metric'?")
    y = caption_task(tmp_path, caps, "k2")
    y.write_text(y.read_text().replace("loader: caption_json,", "loader: caption_json, split: dev,"))
    refused(run_task(capsys, tiny_clip, y, tmp_path / "r"), "unknown key 'split'")
    y = caption_task(tmp_path, caps, "k3")
    y.write_text(y.read_text().replace("metrics: [t2i_r1]", "metrics: [t2i_r1, t2i_r3]"))
    refused(run_task(capsys, tiny_clip, y, tmp_path / "r"), "unknown key 't2i_r3'", "t2i_r1")
    assert not (tmp_path / "r").exists()
    # A suite key.
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "mine.yaml").write_text("suite: mine\ntasks: [probe_retrieval]\ndefault_model: hf-clip:x\n"
                                      "decription: typo\n")
    monkeypatch.setenv("MMX_TASK_PATH", str(suites))
    refused(cli(capsys, "evaluate", "--suite", "mine"), "unknown key 'decription'", "Did you mean 'description'?")


@register_loader("empty_for_test")
def _empty_loader(path, images, name="empty", languages=None, limit=None):
    return RetrievalData(name, [], [], {"en": []}, {"en": "en"}, "0", str(path))


def test_nothing_to_evaluate_is_an_error_naming_the_file(tiny_clip, tmp_path, capsys):
    # All-blank references, an empty caption file.
    y = caption_task(tmp_path, {"images": IMAGES[:2], "captions": {"en": [["  "], [""]], "de": [["x"], ["y"]]}})
    refused(run_task(capsys, tiny_clip, y, tmp_path / "r", "--languages", "en"),
            "every caption of language 'en'", str(tmp_path / "caps.json"))
    y = caption_task(tmp_path, {"images": [], "captions": {}}, "empty")
    refused(run_task(capsys, tiny_clip, y, tmp_path / "r"), str(tmp_path / "empty.json"), "nothing to evaluate")
    # The generic check after load_data: a loader that returns no samples.
    y = tmp_path / "generic.yaml"
    y.write_text(f"task: generic\nkind: retrieval\ndataset: {{loader: empty_for_test, path: {tmp_path}/g.json, "
                 f"images: {tmp_path}}}\nmetrics: [t2i_r1]\n")
    refused(run_task(capsys, tiny_clip, y, tmp_path / "r"), "task generic: nothing to evaluate", "g.json")
    assert not (tmp_path / "r").exists()
    # Loaders: an empty speech manifest, blank transcripts, zero VQA questions.
    m = tmp_path / "m.jsonl"
    m.write_text("")
    with pytest.raises(MmxError, match="m.jsonl holds no samples"):
        load_manifest(m)
    m.write_text(json.dumps({"audio": "a.wav", "text": " ", "language": "de"}) + "\n")
    with pytest.raises(MmxError, match="every reference transcript of language 'de' in .*m.jsonl is blank"):
        load_manifest(m)
    with pytest.raises(MmxError, match="no questions in .*q.json: nothing to evaluate"):
        finish("vqa", [], [tmp_path / "q.json"], None, None)
