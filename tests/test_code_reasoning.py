"""The code_reasoning kind (CRUXEval-X) end to end: `mmx evaluate` on a Hub-form copy with a fake OpenAI server."""
import json
import os
import shutil

import pytest

import hub_fixtures_code as F
from cli_runner import cli
from code_server import CompletionServer
from mmx.data.code import load_cruxeval_x, split_hole
from mmx.errors import MmxError
from mmx.tasks.code_reasoning import answer_of, refusal

TASKS = "cruxeval_x_python,cruxeval_x_javascript"


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    F.with_catalogue(monkeypatch)
    F.private_datasets_cache(monkeypatch, tmp_path / "hf-cache")


@pytest.fixture
def crux(tmp_path):
    root = F.cruxeval_x(tmp_path / "crux")
    problems = [p for pl in ("python", "javascript") for p in load_cruxeval_x(pl, source=str(root)).problems["en"]]
    return root, problems


def _problem(prompt, problems, prediction="output"):
    """The problem a prompt shows (its function and test with the hole)."""
    (p,) = [p for p in problems if p.code + (p.output_test if prediction == "output" else p.input_test) in prompt]
    return p


def _evaluate(capsys, srv, root, out, *extra, tasks=TASKS):
    return cli(capsys, "evaluate", "--model", "openai:bot", "--model-args", f"base_url={srv.url}", "--tasks", tasks,
               "--data-args", f"source={root}{''.join(',' + x for x in extra)}", "--output", out,
               "--no-progress", "--no-cache")


def _results(out):
    return json.loads((out / "results.json").read_text())["tasks"]


def _samples(out, task):
    return [json.loads(x) for x in (out / "samples" / f"{task}.jsonl").read_text().splitlines()]


def _need_node():
    if shutil.which("node") is None:
        pytest.skip("node is not installed (apt-get install nodejs)")


def test_answers_and_refusals():
    assert answer_of(" 'abc'\n[/ANSWER]\nmore") == "'abc'" and answer_of("[ANSWER]\n9\n") == "9"
    assert refusal("", "output") == "empty answer"
    assert refusal("candidate('x')", "output") and refusal("f(1)", "output") and refusal("__import__('os')", "output")
    assert refusal("eval('1')", "output") and refusal("require('fs')", "output")
    assert refusal("'f(x) and candidate'", "output") is None  # inside a string it is a value
    assert refusal("[(4, 1), (2, 3)]", "output") is None and refusal("False", "output") is None
    assert refusal("f(1)", "input") is None  # an input may be any expression
    assert split_hole("def f(): pass\nassert f() == 1\n", "assert f() == ????\n", "x") == ("def f(): pass\n", "1")
    with pytest.raises(MmxError, match="does not end with"):
        split_hole("def f(): pass\nassert f() == 1\n", "assert f() == ????; done\n", "row 7")


def test_right_answers_pass_and_wrong_ones_fail(crux, tmp_path, capsys):
    _need_node()
    root, problems = crux

    def right(prompt, j):
        return f" {_problem(prompt, problems).output}\n[/ANSWER]\nThe function returns that."

    with CompletionServer(right) as srv:
        code, out, err = _evaluate(capsys, srv, root, tmp_path / "right")
    assert code == 0, err
    tasks = _results(tmp_path / "right")
    for task, n in (("cruxeval_x_python", 4), ("cruxeval_x_javascript", 3)):
        assert tasks[task]["languages"]["en"]["metrics"]["pass@1"] == 1.0 and tasks[task]["n_records"] == n
        assert tasks[task]["prediction"] == "output" and "token" in tasks[task]["execution"]["harness"]
    rec = {r["id"]: r for r in _samples(tmp_path / "right", "cruxeval_x_python")}["en/17"]
    assert rec["prediction"] == ["9"] and rec["reference"] == "9" and rec["extra"]["statuses"] == ["ok"]
    assert srv.requests[0][1]["stop"] == ["[/ANSWER]"]
    sent = srv.requests[0][1]["prompt"]
    assert "```python\ndef f(" in str(sent) or "```javascript\nfunction f(" in str(sent)

    def wrong(prompt, j):  # a value of the right kind, but not the output
        p = _problem(prompt, problems)
        return "'not it'" if p.programming_language == "python" else '"not it"'

    with CompletionServer(wrong) as srv:
        code, out, err = _evaluate(capsys, srv, root, tmp_path / "wrong")
    assert code == 0, err
    tasks = _results(tmp_path / "wrong")
    for task in ("cruxeval_x_python", "cruxeval_x_javascript"):
        assert tasks[task]["languages"]["en"]["metrics"]["pass@1"] == 0.0
        assert all(r["extra"]["statuses"] == ["error"] for r in _samples(tmp_path / "wrong", task))


def test_hostile_answers_fail(crux, tmp_path, capsys):
    _need_node()
    root, problems = crux

    def hostile(prompt, j):  # end the program with status 0 before the assertion can fail
        return "[] or exit(0)" if _problem(prompt, problems).programming_language == "python" else "process.exit(0)"

    with CompletionServer(hostile) as srv:
        code, out, err = _evaluate(capsys, srv, root, tmp_path / "exit")
    assert code == 0, err
    tasks = _results(tmp_path / "exit")
    for task in ("cruxeval_x_python", "cruxeval_x_javascript"):
        assert tasks[task]["languages"]["en"]["metrics"]["pass@1"] == 0.0
        recs = _samples(tmp_path / "exit", task)
        assert all(r["extra"]["statuses"] == ["no_pass_token"] for r in recs)

    def tautology(prompt, j):  # `assert f(x) == f(x)` predicts nothing
        return f"candidate({_problem(prompt, problems).input})"

    with CompletionServer(tautology) as srv:
        code, out, err = _evaluate(capsys, srv, root, tmp_path / "taut", tasks="cruxeval_x_python")
    assert code == 0, err
    assert _results(tmp_path / "taut")["cruxeval_x_python"]["languages"]["en"]["metrics"]["pass@1"] == 0.0
    recs = _samples(tmp_path / "taut", "cruxeval_x_python")
    assert all(r["extra"]["statuses"] == ["refused"] and "candidate" in r["extra"]["reasons"][0] for r in recs)


def test_input_prediction(crux, tmp_path, capsys):
    root, problems = crux

    def inputs(prompt, j):
        p = _problem(prompt, problems, "input")
        return p.input if p.id != "9" else "'123'"  # 9: '123' is numeric, so f returns True, not False

    with CompletionServer(inputs) as srv:
        code, out, err = _evaluate(capsys, srv, root, tmp_path / "in", "prediction=input,n=2,temperature=0.5",
                                   tasks="cruxeval_x_python")
    assert code == 0, err
    task = _results(tmp_path / "in")["cruxeval_x_python"]
    assert task["prediction"] == "input" and task["languages"]["en"]["metrics"]["pass@1"] == pytest.approx(3 / 4)
    # like code generation's: how the programs were sandboxed, and programs per second (sandbox included)
    assert [s.split(":")[0] for s in task["execution"]["sandboxes"]] == \
        (["warm"] if os.geteuid() == 0 and os.environ.get("MMX_WARM_SANDBOX") != "0" else ["per-program"])
    assert task["speed"]["overall"]["programs_per_s"]["amount"] > 0
    sent = srv.requests[0][1]["prompt"]
    sent = sent[0] if isinstance(sent, list) else sent
    assert sent.startswith("You will be given a python function f") and "candidate(????)" in sent
    rec = {r["id"]: r for r in _samples(tmp_path / "in", "cruxeval_x_python")}["en/9"]
    assert rec["extra"]["n"] == 2 and rec["extra"]["statuses"] == ["error", "error"] and rec["reference"] == "'#284376598'"


def test_bad_options_and_missing_runtime(crux, tmp_path, capsys, monkeypatch):
    from dataclasses import replace

    from mmx.execution import EXECUTORS

    root, _ = crux
    with CompletionServer(lambda p, j: "1") as srv:
        code, out, err = _evaluate(capsys, srv, root, tmp_path / "bad", "prediction=both", tasks="cruxeval_x_python")
        assert code == 2 and "prediction should be" in err and srv.requests == []
        monkeypatch.setitem(EXECUTORS, "python", replace(EXECUTORS["python"], tools=["python-mmx-absent"],
                                                         hint="apt-get install python3"))
        code, out, err = _evaluate(capsys, srv, root, tmp_path / "skip", tasks="cruxeval_x_python")
        assert code == 0 and "skipped cruxeval_x_python" in err and srv.requests == []
    assert _results(tmp_path / "skip")["cruxeval_x_python"]["n_records"] == 0
