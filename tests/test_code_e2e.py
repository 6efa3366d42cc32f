"""End to end through the CLI: `mmx evaluate` on HumanEval-XL with an OpenAI-compatible server and a tiny LM."""
import json
import os
import math
from pathlib import Path

import pytest

from mmx.models.tiny import build_tiny

from code_server import CompletionServer
from cli_runner import cli




def _root(shared_data) -> str:
    """The GitHub checkout's data folder: the tasks read the Hub by default (tests/test_hub_code.py)."""
    return f"root={shared_data / 'humaneval-xl'}"


def _canonical(shared_data):
    """prompt -> canonical solution, over every natural language of the Python subset."""
    table = {}
    for f in (shared_data / "humaneval-xl" / "python").glob("*.jsonl"):
        for line in f.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            table[r["prompt"]] = r["canonical_solution"]
    return table


def _samples(out: Path, task: str):
    return [json.loads(x) for x in (out / "samples" / f"{task}.jsonl").read_text().splitlines()]


def test_server_that_answers_the_canonical_solutions_scores_100(shared_data, tmp_path, capsys):
    canon = _canonical(shared_data)
    with CompletionServer(lambda p, j: canon[p]) as srv:
        code, out, err = cli(capsys, "evaluate", "--model", "openai:canon-bot", "--model-args", f"base_url={srv.url}",
                             "--tasks", "humaneval_xl_python", "--languages", "en,de,zh", "--limit", "6",
                             "--data-args", _root(shared_data), "--output", tmp_path / "run", "--no-progress", "--no-cache")
    assert code == 0, err
    res = json.loads((tmp_path / "run" / "results.json").read_text())["tasks"]["humaneval_xl_python"]
    for lang in ("en", "de", "zh"):
        assert res["languages"][lang]["metrics"]["pass@1"] == 1.0
        assert res["languages"][lang]["metrics"]["pass@10"] is None  # n=1: not estimable
        assert res["gap_to_en"][lang]["pass@1"] == 0.0
    recs = _samples(tmp_path / "run", "humaneval_xl_python")
    assert len(recs) == 18 and {r["extra"]["programming_language"] for r in recs} == {"python"}
    assert srv.requests[0][1]["stop"][:2] == ["\nclass", "\ndef"]


def test_sampled_pass_at_k_and_language_gap(shared_data, tmp_path, capsys):
    canon = _canonical(shared_data)
    en_prompts = {json.loads(x)["prompt"] for x in (shared_data / "humaneval-xl/python/English.jsonl").read_text().splitlines()}

    def answer(prompt, j):  # English: 2 of 12 samples right; French: none
        return canon[prompt] if prompt in en_prompts and j < 2 else "    return None\n"

    with CompletionServer(answer) as srv:
        code, out, err = cli(capsys, "evaluate", "--model", "openai:half-bot", "--model-args", f"base_url={srv.url}",
                             "--tasks", "humaneval_xl_python", "--languages", "en,fr", "--limit", "3",
                             "--data-args", f"n=12,temperature=0.8,{_root(shared_data)}", "--output", tmp_path / "run", "--no-progress",
                             "--no-cache")
    assert code == 0, err
    res = json.loads((tmp_path / "run" / "results.json").read_text())["tasks"]["humaneval_xl_python"]
    en, fr = res["languages"]["en"]["metrics"], res["languages"]["fr"]["metrics"]
    assert en["pass@1"] == pytest.approx(2 / 12)
    assert en["pass@10"] == pytest.approx(1 - math.comb(10, 10) / math.comb(12, 10))  # = 1 - 1/66
    assert fr["pass@1"] == 0.0 and en["pass@100"] is None
    assert res["gap_to_en"]["fr"]["pass@1"] == pytest.approx(-2 / 12)
    rec = _samples(tmp_path / "run", "humaneval_xl_python")[0]
    assert rec["extra"]["n"] == 12 and len(rec["prediction"]) == 12


def test_tiny_random_causal_lm_end_to_end(shared_data, tmp_path, capsys):
    spec = build_tiny("hf-causal", tmp_path / "tiny-lm")
    args = ["evaluate", "--model", spec, "--tasks", "humaneval_xl_python,humaneval_xl_javascript",
            "--languages", "en,tl", "--limit", "2", "--data-args", f"max_new_tokens=24,{_root(shared_data)}",
            "--output", tmp_path / "run", "--no-progress"]
    code, out, err = cli(capsys, *args)
    assert code == 0, err
    assert "RANDOM WEIGHTS" in out
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["model"]["random_weights"] is True
    task = results["tasks"]["humaneval_xl_python"]
    assert set(task["languages"]) == {"en", "tl"} and task["n_records"] == 4
    assert task["languages"]["en"]["metrics"]["pass@1"] == 0.0  # random bytes do not solve below_zero
    recs = _samples(tmp_path / "run", "humaneval_xl_python")
    assert all(r["extra"]["statuses"] == ["error"] and r["extra"]["first_error"] for r in recs)
    code, out, err = cli(capsys, *args)  # a rerun resumes: nothing left to do
    assert code == 0 and "results:" in out


def _exit_early(prompt, j):
    """A completion that ends the process with status 0 before the first check can fail."""
    if prompt.rstrip().endswith("{"):  # JavaScript: `function name(args) {`
        return "  process.exit(0);\n}\n"
    return "    import sys\n    sys.exit(0)\n"


def test_an_early_successful_exit_scores_zero_end_to_end(shared_data, tmp_path, capsys):
    """Before the pass-token harness, this bot scored pass@1 = 1.0 in every language."""
    with CompletionServer(_exit_early) as srv:
        code, out, err = cli(capsys, "evaluate", "--model", "openai:exit-bot", "--model-args", f"base_url={srv.url}",
                             "--tasks", "humaneval_xl_python,humaneval_xl_javascript", "--languages", "en,de",
                             "--limit", "3", "--data-args", _root(shared_data), "--output", tmp_path / "run",
                             "--no-progress", "--no-cache")
    assert code == 0, err
    tasks = json.loads((tmp_path / "run" / "results.json").read_text())["tasks"]
    for task in ("humaneval_xl_python", "humaneval_xl_javascript"):
        for lang in ("en", "de"):
            assert tasks[task]["languages"][lang]["metrics"]["pass@1"] == 0.0, (task, lang)
        recs = _samples(tmp_path / "run", task)
        assert len(recs) == 6
        assert all(r["extra"]["statuses"] == ["no_pass_token"] for r in recs)
        assert all("pass token" in r["extra"]["reasons"][0] for r in recs)
        # merged by the runner from CodeGeneration.result_extras: how programs were judged and isolated
        assert "token" in tasks[task]["execution"]["harness"]
        assert tasks[task]["execution"]["isolation"]["tool"] == "bubblewrap"
        assert [s.split(":")[0] for s in tasks[task]["execution"]["sandboxes"]] == \
            (["warm"] if os.geteuid() == 0 and os.environ.get("MMX_WARM_SANDBOX") != "0" else ["per-program"])
        # speed: programs per second (sandbox included) and, without token counts from the server, samples/s
        sp = tasks[task]["speed"]
        assert sp["overall"]["programs_per_s"]["amount"] > 0 and "samples_per_s" in sp["languages"]["de"]


def test_generation_options_are_validated(shared_data, tmp_path, capsys):
    with CompletionServer(lambda p, j: "    return 1\n") as srv:
        def run(*extra):
            return cli(capsys, "evaluate", "--model", "openai:x", "--model-args", f"base_url={srv.url}",
                       "--tasks", "humaneval_xl_python", "--languages", "en", "--limit", "1",
                       "--output", tmp_path / f"run{len(extra)}{abs(hash(extra))}", "--no-progress", "--no-cache",
                       *extra)

        code, out, err = run("--data-args", "temprature=0.5")
        assert code == 2 and "temprature" in err and "'temperature'" in err and "Traceback" not in err
        for bad, msg in [("n=0", "n should be >= 1"), ("n=2.5", "whole number"), ("temperature=-1", ">= 0"),
                         ("max_new_tokens=0", "max_new_tokens should be >= 1"), ("workers=0", "workers should be >= 1")]:
            code, out, err = run("--data-args", bad)
            assert code == 2 and msg in err, (bad, err)
        assert srv.requests == []  # nothing was generated for a run that could not be valid


def test_zero_problems_is_an_error_naming_the_data(shared_data, tmp_path, capsys):
    root = tmp_path / "hexl"
    (root / "python").mkdir(parents=True)
    (root / "python" / "English.jsonl").write_text("\n", encoding="utf-8")
    with CompletionServer(lambda p, j: "    return 1\n") as srv:
        code, out, err = cli(capsys, "evaluate", "--model", "openai:x", "--model-args", f"base_url={srv.url}",
                             "--tasks", "humaneval_xl_python", "--languages", "en", "--data-args", f"root={root}",
                             "--output", tmp_path / "run", "--no-progress", "--no-cache")
    assert code == 2 and "no problems" in err and str(root / "python") in err


def test_unknown_generation_key_in_the_yaml_is_refused(tmp_path):
    from mmx.errors import MmxError
    from mmx.tasks.base import load_task
    from mmx.tasks.codegen import CodeGeneration

    spec = load_task("humaneval_xl_python")
    spec.raw = {**spec.raw, "generation": {"n": 1, "max_tokens": 64}}
    with pytest.raises(MmxError, match="max_tokens.*max_new_tokens"):
        CodeGeneration(spec).load_data(["en"], 1, {})


def test_missing_runtime_skips_the_task_without_scores(shared_data, tmp_path, capsys, monkeypatch):
    from dataclasses import replace

    from mmx.execution import EXECUTORS

    monkeypatch.setitem(EXECUTORS, "python", replace(EXECUTORS["python"], tools=["python-mmx-absent"],
                                                     hint="apt-get install python3"))
    with CompletionServer(lambda p, j: "    return 1\n") as srv:
        code, out, err = cli(capsys, "evaluate", "--model", "openai:x", "--model-args", f"base_url={srv.url}",
                             "--tasks", "humaneval_xl_python", "--languages", "en", "--limit", "2",
                             "--data-args", _root(shared_data), "--output", tmp_path / "run", "--no-progress",
                             "--no-cache")
    assert code == 0, err
    assert "skipped humaneval_xl_python" in err and "apt-get install python3" in err
    res = json.loads((tmp_path / "run" / "results.json").read_text())["tasks"]["humaneval_xl_python"]
    assert res["languages"] == {} and res["n_records"] == 0
    assert srv.requests == []  # the model is not asked for programs nobody can run
