"""Each executor on a passing and a failing program built from HumanEval-XL's real prompts and tests."""
import json

import pytest

from mmx.execution import EXECUTORS, execute_many
from mmx.execution import references
from mmx.execution.executors import Executor, get_executor
from mmx.execution.verify import verify_humaneval_xl
from mmx.errors import MmxError


def _problem(shared_data, language, index=0):
    with open(shared_data / "humaneval-xl" / language / "English.jsonl", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i == index:
                return json.loads(line)


@pytest.mark.parametrize("language", sorted(references.BODIES))
def test_executor_passes_a_right_and_fails_a_wrong_program(shared_data, language):
    ex = EXECUTORS[language]
    missing = ex.missing()
    if missing:
        pytest.skip(f"{language}: {missing}")
    p = _problem(shared_data, language)
    ep, prompt = p["entry_point"], p["prompt"]
    exit_body = references.early_exit(language) if language in references.EXITS else None
    if exit_body is None:  # Go: the exit needs an import of os, which only the prompt can add
        prompt_os = prompt.replace("import (\n", "import (\n\t\"os\"\n", 1)
        exit_prog = ex.program(prompt_os, "\tos.Exit(0)\n" + references.broken(language), p["test"], ep)
    else:
        exit_prog = ex.program(prompt, exit_body, p["test"], ep)
    good, bad, exited = execute_many([(ex, ex.program(prompt, references.BODIES[language], p["test"], ep)),
                                      (ex, ex.program(prompt, references.broken(language), p["test"], ep)),
                                      (ex, exit_prog)], workers=3)
    assert good.status == "ok", good.stderr[-1000:]
    assert bad.status == "error" and bad.returncode != 0
    # exit status 0 before the tests ended: a failure, and the record says why (perl, php and ruby harnesses
    # catch the early exit in their exit hook and turn it into status 1; elsewhere the token is missing)
    assert not exited.ok and exited.extra["reason"]
    if exited.returncode == 0:
        assert exited.status == "no_pass_token" and "pass token" in exited.extra["reason"]


def test_python_harness_calls_the_check_function(shared_data):
    ex = EXECUTORS["python"]
    p = _problem(shared_data, "python")
    prog = ex.program(p["prompt"], p["canonical_solution"], p["test"], p["entry_point"])
    assert prog.startswith(p["prompt"]) and prog.rstrip().endswith(p["test"].rstrip())
    assert prog.entry_point == "below_zero"
    assert ex.execute(prog).ok
    # without the function under test the harness cannot call check(candidate): never a pass
    assert not ex.execute(ex.program(p["prompt"], p["canonical_solution"], p["test"], "")).ok
    wrong = ex.program(p["prompt"], "    return False\n", p["test"], p["entry_point"])
    r = ex.execute(wrong)
    assert r.status == "error" and "AssertionError" in r.stderr
    # a syntax error is a failure too
    assert ex.execute(ex.program(p["prompt"], "    return (\n", p["test"], p["entry_point"])).status == "error"


def test_compile_error_fails_in_a_compiled_language(shared_data):
    ex = EXECUTORS["java"]
    if ex.missing():
        pytest.skip(ex.missing())
    p = _problem(shared_data, "java")
    r = ex.execute(ex.program(p["prompt"], "        return nonsense(;\n    }\n}\n", p["test"]))
    assert r.status == "error" and "error" in r.stderr


def test_missing_runtime_is_skipped_with_a_hint_never_scored(shared_data, monkeypatch):
    fake = Executor("ruby", "prog.rb", ["ruby-mmx-absent", "prog.rb"], ["ruby-mmx-absent"], "apt-get install ruby")
    assert "apt-get install ruby" in fake.missing()
    monkeypatch.setitem(EXECUTORS, "ruby", fake)
    (check,) = verify_humaneval_xl(shared_data / "humaneval-xl", ["ruby"])
    assert check.status == "skipped" and check.total == 0 and "apt-get install ruby" in check.note


def test_unknown_language_names_the_known_ones():
    assert get_executor("py").name == "python" and get_executor("JS").name == "javascript"
    with pytest.raises(MmxError, match="known: python"):
        get_executor("cobol")
