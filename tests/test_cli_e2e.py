"""End to end through the CLI: a tiny random-weight CLIP saved to a folder, loaded as a hub id would be."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmx.models.tiny import build_tiny
from mmx.schema import SCHEMA_VERSION
from cli_runner import cli

ROOT = Path(__file__).resolve().parents[1]
PROBE = ROOT / "assets" / "probe"




@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny") / "hf-clip"
    return build_tiny("hf-clip", d, seed=0)


def probe_languages():
    return list(json.loads((PROBE / "captions.json").read_text())["captions"])


def test_evaluate_vision_suite(tiny_clip, tmp_path, capsys):
    code, out, err = cli(capsys, "evaluate", "--suite", "vision", "--model", tiny_clip,
                         "--output", tmp_path / "run", "--batch-size", 16, "--no-progress")
    assert code == 0, err
    assert "RANDOM WEIGHTS" in out
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    assert res["schema_version"] == SCHEMA_VERSION == 3 and res["model"]["random_weights"] is True
    assert res["run"]["code_version"]["mmx"] and res["run"]["seed"] == 1234
    task = res["tasks"]["probe_retrieval"]
    n_images = len(json.loads((PROBE / "captions.json").read_text())["images"])
    assert sorted(task["languages"]) == sorted(probe_languages())
    for lang, d in task["languages"].items():
        m = d["metrics"]
        assert d["n"]["t2i_r1"] == n_images and d["n"]["i2t_r1"] == n_images
        assert 0 <= m["t2i_r1"] <= m["t2i_r5"] <= m["t2i_r10"] <= 1
        assert 0 <= m["i2t_r1"] <= m["i2t_r5"] <= m["i2t_r10"] <= 1
        assert lang in out
    # Aggregates are the means of the per-sample scores on disk.
    recs = [json.loads(x) for x in (tmp_path / "run" / "samples" / "probe_retrieval.jsonl").read_text().splitlines()]
    de = [r["scores"]["t2i_r5"] for r in recs if r["language"] == "de" and "t2i_r5" in r["scores"]]
    assert task["languages"]["de"]["metrics"]["t2i_r5"] == pytest.approx(sum(de) / len(de))
    assert task["gap_to_en"]["en"]["t2i_r1"] == 0.0


def test_language_filter_and_limit(tiny_clip, tmp_path, capsys):
    code, out, err = cli(capsys, "evaluate", "--tasks", "probe_retrieval", "--model", tiny_clip,
                         "--languages", "deu,ja-JP", "--limit", 10, "--output", tmp_path / "r", "--no-progress")
    assert code == 0, err
    task = json.loads((tmp_path / "r" / "results.json").read_text())["tasks"]["probe_retrieval"]
    assert sorted(task["languages"]) == ["de", "ja"]
    assert task["languages"]["de"]["n"]["t2i_r1"] == 10


def _run_cmd(model, out, extra=()):
    return [sys.executable, "-m", "mmx", "evaluate", "--suite", "vision", "--model", model,
            "--output", str(out), "--no-progress", *extra]


def _strip(res):
    return {name: {k: t[k] for k in ("languages", "overall", "gap_to_en", "n_records")}
            for name, t in res["tasks"].items()}


def test_killed_run_resumes_to_identical_results(tiny_clip, tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    full = subprocess.run(_run_cmd(tiny_clip, tmp_path / "full"), capture_output=True, text=True, env=env)
    assert full.returncode == 0, full.stderr
    # Batch size 1 makes the run slow enough to kill it after its first language is on disk.
    out = tmp_path / "killed"
    samples = out / "samples" / "probe_retrieval.jsonl"
    p = subprocess.Popen(_run_cmd(tiny_clip, out, ["--batch-size", "1", "--no-cache"]), env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None:
        if samples.exists() and samples.stat().st_size > 0:
            break
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)
    assert p.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (out / "results.json").exists()
    n_before = len(samples.read_text().splitlines())
    assert 0 < n_before
    rerun = subprocess.run(_run_cmd(tiny_clip, out), capture_output=True, text=True, env=env)
    assert rerun.returncode == 0, rerun.stderr
    a = json.loads((tmp_path / "full" / "results.json").read_text())
    b = json.loads((out / "results.json").read_text())
    assert _strip(a) == _strip(b)
    sa = sorted((tmp_path / "full" / "samples" / "probe_retrieval.jsonl").read_text().splitlines())
    sb = sorted(samples.read_text().splitlines())
    assert sa == sb


def test_rerun_with_different_settings_refuses(tiny_clip, tmp_path, capsys):
    assert cli(capsys, "evaluate", "--suite", "vision", "--model", tiny_clip, "--limit", 5,
               "--output", tmp_path / "r", "--no-progress")[0] == 0
    code, _, err = cli(capsys, "evaluate", "--suite", "vision", "--model", tiny_clip, "--limit", 6,
                       "--output", tmp_path / "r", "--no-progress")
    assert code == 2 and "holds a different run" in err and "limit" in err


def test_bad_inputs_give_clear_errors(tiny_clip, tmp_path, capsys, monkeypatch):
    code, _, err = cli(capsys, "evaluate", "--suite", "vision", "--model", "nofamily:x")
    assert code == 2 and "unknown model family 'nofamily'" in err
    code, _, err = cli(capsys, "evaluate", "--suite", "vision", "--model", tiny_clip, "--languages", "de,qqq")
    assert code == 2 and "qqq" in err
    # A model that is neither local nor reachable: the message says how to pass a local folder.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, _, err = cli(capsys, "evaluate", "--suite", "vision", "--model", "hf-clip:nobody/no-such-clip",
                       "--output", tmp_path / "x")
    assert code == 2 and "nobody/no-such-clip" in err and "local" in err
    # Missing and unreadable images: the error names the file and the sample.
    data = tmp_path / "probe"
    shutil.copytree(PROBE, data)
    first = json.loads((data / "captions.json").read_text())["images"][0]
    (data / "images" / first).write_bytes(b"garbage")
    yaml_path = tmp_path / "t.yaml"
    yaml_path.write_text(f"task: broken_probe\nkind: retrieval\ndataset: {{loader: caption_json, "
                         f"path: {data}/captions.json, images: {data}/images}}\nmetrics: [t2i_r1]\n")
    code, _, err = cli(capsys, "evaluate", "--tasks", yaml_path, "--model", tiny_clip,
                       "--output", tmp_path / "y", "--no-progress")
    assert code == 2 and first in err and "could not be decoded" in err
    (data / "images" / first).unlink()
    code, _, err = cli(capsys, "evaluate", "--tasks", yaml_path, "--model", tiny_clip,
                       "--output", tmp_path / "z", "--no-progress")
    assert code == 2 and first in err and "missing" in err
    yaml_path.write_text("task: [unclosed\n")
    code, _, err = cli(capsys, "evaluate", "--tasks", yaml_path, "--model", tiny_clip)
    assert code == 2 and "t.yaml: malformed YAML" in err


def test_listing_commands(capsys):
    code, out, _ = cli(capsys, "tasks")
    assert code == 0 and "probe_retrieval" in out and "vision" in out
    code, out, _ = cli(capsys, "models")
    assert code == 0 and "hf-clip" in out and "open_clip" in out and "mclip" in out and "retrieval" in out
    code, out, _ = cli(capsys, "languages", "jp")
    assert code == 0 and "Japanese" in out


def test_xtd10_real_captions_with_user_images(tiny_clip, tmp_path, capsys, shared_data, monkeypatch):
    """The real XTD10 caption file, images from a folder the user names (here: stand-in pictures)."""
    from PIL import Image

    xtd = shared_data / "babel-imagenet" / "xtd.json"
    names = json.loads(xtd.read_text())["images"][:6]
    (tmp_path / "coco").mkdir()
    for i, n in enumerate(names):
        Image.new("RGB", (40, 40), (40 * i, 255 - 40 * i, 90)).save(tmp_path / "coco" / n, format="JPEG")
    monkeypatch.delenv("MMX_DATA", raising=False)
    code, _, err = cli(capsys, "evaluate", "--tasks", "xtd10_retrieval", "--model", tiny_clip, "--limit", 6,
                       "--output", tmp_path / "r", "--no-progress")
    # no Hub copy of XTD10 exists: its files come from its GitHub repository; offline, not cached, the error
    # names the file and the command that fetches it
    assert code == 2 and "Cross-lingual-Test-Dataset-XTD10" in err and "mmx data download xtd10" in err
    code, out, err = cli(capsys, "evaluate", "--tasks", "xtd10_retrieval", "--model", tiny_clip, "--limit", 6,
                         "--data-args", f"source={xtd},images={tmp_path / 'coco'}", "--output", tmp_path / "r",
                         "--no-progress")
    assert code == 0, err
    task = json.loads((tmp_path / "r" / "results.json").read_text())["tasks"]["xtd10_retrieval"]
    assert len(task["languages"]) == 11 and "ja" in task["languages"]
    assert all(d["n"]["t2i_r1"] == 6 for d in task["languages"].values())
