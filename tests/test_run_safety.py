"""Run folders are safe to start, kill, share and publish: --overwrite replaces only an mmx run, a second run
into the same folder is refused while a killed one leaves no stale lock, no secret reaches disk or the
terminal, and every file mmx writes is strict JSON."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from local_server import LocalServer
from mmx.models.tiny import build_tiny
from mmx.schema import Record, RecordStore, is_secret_name, redact_argv, write_json
from cli_runner import cli

ROOT = Path(__file__).resolve().parents[1]
SECRET = "sk-test-5f2c9a71e0"


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    return build_tiny("hf-clip", tmp_path_factory.mktemp("tiny") / "hf-clip", seed=0)


def quick(model, out, *extra):
    return ("evaluate", "--tasks", "probe_retrieval", "--model", model, "--languages", "en,de", "--limit", 3,
            "--output", out, "--no-progress", *extra)


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_overwrite_replaces_only_an_mmx_run(tiny_clip, tmp_path, capsys):
    mine = tmp_path / "mine"
    (mine / "thesis").mkdir(parents=True)
    (mine / "notes.txt").write_text("my own notes")
    (mine / "thesis" / "chapter1.tex").write_text("\\chapter{One}")
    before = tree(mine)
    for extra in (("--overwrite",), ()):  # refused with and without --overwrite, nothing touched
        code, _, err = cli(capsys, *quick(tiny_clip, mine, *extra))
        assert code == 2 and "mmx did not write" in err and "notes.txt" in err and "Traceback" not in err
        assert tree(mine) == before
    # An mmx run with one user file added: --overwrite refuses it too and deletes nothing.
    run = tmp_path / "run"
    assert cli(capsys, *quick(tiny_clip, run))[0] == 0
    (run / "samples" / "my_analysis.py").write_text("print(1)")
    before = tree(run)
    code, _, err = cli(capsys, *quick(tiny_clip, run, "--overwrite"))
    assert code == 2 and "samples/my_analysis.py" in err
    assert tree(run) == before
    # A clean mmx run is replaced: same files again, rewritten.
    (run / "samples" / "my_analysis.py").unlink()
    old_started = json.loads((run / "run.json").read_text())["run"]["started"]
    time.sleep(1.1)
    code, _, err = cli(capsys, *quick(tiny_clip, run, "--overwrite"))
    assert code == 0, err
    assert sorted(tree(run)) == [".mmx.lock", "results.json", "run.json", "samples/probe_retrieval.jsonl"]
    assert json.loads((run / "run.json").read_text())["run"]["started"] != old_started
    # A run.json that is not mmx's is no mmx run either.
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "run.json").write_text('{"my": "own file"}')
    code, _, err = cli(capsys, *quick(tiny_clip, fake, "--overwrite"))
    assert code == 2 and "not an mmx run" in err and (fake / "run.json").read_text() == '{"my": "own file"}'


def test_second_run_is_refused_and_a_killed_run_leaves_no_lock(tiny_clip, tmp_path, capsys):
    out = tmp_path / "run"
    samples = out / "samples" / "probe_retrieval.jsonl"
    cmd = [sys.executable, "-m", "mmx", "evaluate", "--tasks", "probe_retrieval", "--model", tiny_clip,
           "--output", str(out), "--no-progress", "--batch-size", "1", "--no-cache"]
    p = subprocess.Popen(cmd, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and p.poll() is None and not (samples.exists() and samples.stat().st_size):
            time.sleep(0.01)
        assert p.poll() is None, "the first run ended before the second could start"
        code, _, err = cli(capsys, "evaluate", "--tasks", "probe_retrieval", "--model", tiny_clip,
                           "--output", out, "--no-progress")
        assert code == 2 and "in use by another mmx run" in err and f"pid {p.pid}" in err
        n_lines = len(samples.read_text().splitlines())
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    assert n_lines > 0
    # SIGKILL gave no chance to clean up: the kernel dropped the lock, so the rerun resumes at once.
    code, _, err = cli(capsys, "evaluate", "--tasks", "probe_retrieval", "--model", tiny_clip,
                       "--output", out, "--no-progress")
    assert code == 0, err
    assert (out / "results.json").exists()


def test_secrets_never_reach_disk_or_the_terminal(tmp_path, capsys):
    seen = []

    def answer(path, headers, body):
        seen.append(headers.get("Authorization"))
        return 200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": "red"}}]}

    out = tmp_path / "run"
    with LocalServer(answer) as srv:
        code, stdout, err = cli(capsys, "evaluate", "--tasks", "probe_vqa", "--model", "openai-vlm:x",
                                "--model-args", f"base_url={srv.url},api_key={SECRET}", "--languages", "en",
                                "--limit", 2, "--output", out, "--no-progress", "--no-cache")
    assert code == 0, err
    assert seen and all(h == f"Bearer {SECRET}" for h in seen)  # the adapter got the real key
    files = tree(out)
    assert {"run.json", "results.json", "samples/probe_vqa.jsonl"} <= set(files)
    leaks = [name for name, data in files.items() if SECRET.encode() in data]
    assert leaks == [] and SECRET not in stdout + err
    run = json.loads(files["run.json"])
    assert run["identity"]["model_args"]["api_key"] == "***redacted***"
    assert any("api_key=***redacted***" in a for a in run["run"]["command"])

    # An error message quoting the key (a server echoing the header) is scrubbed before it is printed.
    def reject(path, headers, body):
        return 401, {"error": {"message": f"bad key {headers.get('Authorization')}"}}

    with LocalServer(reject) as srv:
        code, stdout, err = cli(capsys, "evaluate", "--tasks", "probe_vqa", "--model", "openai-vlm:x",
                                "--model-args", f"base_url={srv.url},api_key={SECRET}", "--languages", "en",
                                "--limit", 2, "--output", tmp_path / "r2", "--no-progress", "--no-cache")
    assert code == 2 and "401" in err and "***redacted***" in err and SECRET not in stdout + err
    assert not any(SECRET.encode() in d for d in tree(tmp_path / "r2").values())


def test_which_argument_names_are_secret():
    secret = ["api_key", "apiKey", "OPENAI_API_KEY", "hf_token", "access-token", "client_secret", "password",
              "db_passwd", "credentials", "auth"]
    plain = ["max_new_tokens", "base_url", "monkey", "keyboard", "author", "mc_mode", "dtype", "split"]
    assert [n for n in secret if not is_secret_name(n)] == []
    assert [n for n in plain if is_secret_name(n)] == []
    argv = ["mmx", "evaluate", "--model-args", "base_url=http://h,api_key=abcd1234,max_new_tokens=5",
            "--model-args=hf_token=hf_zzzz9"]
    assert redact_argv(argv) == ["mmx", "evaluate", "--model-args",
                                 "base_url=http://h,api_key=***redacted***,max_new_tokens=5",
                                 "--model-args=hf_token=***redacted***"]


def _strict(line: str):
    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(line, parse_constant=refuse)


def test_files_are_strict_json_and_null_reads_back_as_missing(tmp_path):
    p = tmp_path / "samples" / "t.jsonl"
    st = RecordStore(p)
    st.write([Record("a", "en", 0.5, "x", {"acc": float("nan"), "r1": 1.0}, {"sim": float("-inf"), "v": [float("inf")]}),
              Record("b", "en", 0.1, "y", {"acc": 0.0}, {})])
    st.close()
    lines = p.read_text().splitlines()
    parsed = [_strict(x) for x in lines]  # old code wrote NaN/-Infinity tokens: a strict parser refuses them
    assert parsed[0]["scores"] == {"acc": None, "r1": 1.0} and parsed[0]["extra"] == {"sim": None, "v": [None]}
    back = RecordStore(p)
    assert back.records["a"].scores == {"r1": 1.0}  # null is missing, as NaN was for the aggregate
    back.close()
    write_json(tmp_path / "results.json", {"m": float("nan"), "n": [1.0, float("inf")]})
    assert _strict((tmp_path / "results.json").read_text()) == {"m": None, "n": [1.0, None]}


def test_every_file_of_a_real_run_is_strict_json(tiny_clip, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli(capsys, *quick(tiny_clip, out))[0] == 0
    for name in ("run.json", "results.json"):
        _strict((out / name).read_text())
    lines = (out / "samples" / "probe_retrieval.jsonl").read_text().splitlines()
    recs = [_strict(line) for line in lines]
    assert sum(r["id"].startswith("i2t/") for r in recs) == 2 * 3  # en, de x 3 images
