"""Chat templates for instruction-tuned models: hf-causal's chat_template=true and the code taken from the answer.

A tiny random Qwen2 LM gets a chat template (a jinja string in its tokenizer); generation must start from
exactly what tokenizer.apply_chat_template(..., add_generation_prompt=True) writes, and the answer goes through
mmx/metrics/code_extract.py, whose table below holds answers shaped like real chat models' ones.
"""
import json

import pytest
import torch

from mmx.errors import MmxError
from mmx.metrics.code_extract import CHAT_INSTRUCTION, answer_to_completion, chat_message, code_blocks
from mmx.models.codegen import HFCausalLM, build_tiny_causal_lm

from cli_runner import cli

TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
            "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")

PROMPT = '''from typing import List


def below_zero(operations: List[int]) -> bool:
    """ Detect if at any point the balance of account falls below zero.
    >>> below_zero([1, 2, -4, 5])
    True
    """
'''
BODY = "    balance = 0\n    for op in operations:\n        balance += op\n        if balance < 0:\n            return True\n    return False\n"
CHECK = "\nassert below_zero([1, 2, -4, 5]) is True\nassert below_zero([1, 2, 3]) is False\nassert below_zero([]) is False\n"


@pytest.fixture(scope="module")
def chat_dir(tmp_path_factory):
    from transformers import AutoTokenizer

    path = build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-chat-lm"))
    tok = AutoTokenizer.from_pretrained(path)
    tok.chat_template = TEMPLATE
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def chat_lm(chat_dir):
    return HFCausalLM(chat_dir, chat_template="true")


@pytest.fixture
def calls(chat_lm, monkeypatch):
    """Each model.generate call's kwargs (the real decode still runs)."""
    seen = []
    real = chat_lm.model.generate

    def spy(**kw):
        seen.append(kw)
        return real(**kw)

    monkeypatch.setattr(chat_lm.model, "generate", spy)
    return seen


def test_generation_starts_from_the_chat_template(chat_lm, calls):
    chat_lm.complete([PROMPT], max_new_tokens=4, stop=["\ndef"])
    (kw,) = calls
    fed = chat_lm.tokenizer.decode(kw["input_ids"][0], skip_special_tokens=False)
    want = chat_lm.tokenizer.apply_chat_template([{"role": "user", "content": chat_message(PROMPT)}], tokenize=False,
                                                 add_generation_prompt=True)
    assert fed == want
    assert want == f"<|im_start|>user\n{CHAT_INSTRUCTION}\n```\n{PROMPT.rstrip()}\n```<|im_end|>\n<|im_start|>assistant\n"
    ids = chat_lm.tokenizer(want, add_special_tokens=False)["input_ids"]
    assert kw["input_ids"][0].tolist() == ids
    assert kw["stopping_criteria"] == []  # no stop sequences in chat mode: the answer ends at end of turn
    assert chat_lm.tokenizer.eos_token_id in kw["eos_token_id"]


def test_completion_mode_is_unchanged(chat_dir):
    lm = HFCausalLM(chat_dir)  # same folder (it has a template), no flag: the raw prompt is continued
    seen = []
    real = lm.model.generate
    lm.model.generate = lambda **kw: seen.append(kw) or real(**kw)
    lm.complete([PROMPT], max_new_tokens=2, stop=["\ndef"])
    assert lm.tokenizer.decode(seen[0]["input_ids"][0]) == PROMPT and len(seen[0]["stopping_criteria"]) == 1
    assert lm.info()["prompt_format"] == {"mode": "completion"} and "chat_template" not in lm.info()["args"]


def test_the_answer_is_turned_into_a_completion(chat_lm, monkeypatch):
    answer = f"Here is the function:\n```python\nfrom typing import List\n\n\ndef below_zero(operations: List[int]) -> bool:\n{BODY}```\nIt keeps a running balance."

    def fake_generate(**kw):  # the prompt, then the answer's tokens, then end of turn
        tail = chat_lm.tokenizer(answer, add_special_tokens=False, return_tensors="pt")["input_ids"]
        eos = torch.tensor([[chat_lm.tokenizer.eos_token_id]])
        return torch.cat([kw["input_ids"], tail, eos], 1)

    monkeypatch.setattr(chat_lm.model, "generate", fake_generate)
    (out,) = chat_lm.complete([PROMPT], n=2, max_new_tokens=64, stop=["\nif"])
    assert out == [BODY, BODY]
    ns = {}
    exec(PROMPT + out[0] + CHECK, ns)  # noqa: S102 - our own fixed strings


def test_info_and_bad_values(chat_lm, tmp_path):
    info = chat_lm.info()
    assert info["prompt_format"] == {"mode": "chat_template", "instruction": CHAT_INSTRUCTION}
    assert info["args"]["chat_template"] == "true"
    with pytest.raises(MmxError, match="chat_template='maybe'"):
        HFCausalLM(chat_lm.name, chat_template="maybe")
    bare = build_tiny_causal_lm(tmp_path / "bare")  # mmx's byte tokenizer has no chat template
    with pytest.raises(MmxError, match="no chat template"):
        HFCausalLM(bare, chat_template="true")


# (answer, expected completion): shapes seen from real chat models
CASES = {
    "fenced with language, signature repeated": (f"```python\ndef below_zero(operations: List[int]) -> bool:\n{BODY}```", BODY),
    "fenced without language": (f"Sure.\n```\ndef below_zero(operations: List[int]) -> bool:\n{BODY}```\n", BODY),
    "whole prompt repeated": (f"```python\n{PROMPT}{BODY}```", BODY),
    "several blocks: the function is the first": (
        f"```python\ndef below_zero(operations: List[int]) -> bool:\n{BODY}```\nUsage:\n```python\nprint(below_zero([1]))\n```",
        BODY),
    "several blocks: an install line first": (
        f"```bash\npip install typing\n```\n```python\ndef below_zero(operations: List[int]) -> bool:\n{BODY}```", BODY),
    "full function with imports and its own docstring": (
        f"```python\nimport math\nfrom typing import List\n\ndef below_zero(operations: List[int]) -> bool:\n"
        f'    """Return True if the balance dips below zero."""\n{BODY}\n\nprint(below_zero([1, -2]))\n```',
        f'    """Return True if the balance dips below zero."""\n{BODY}\n\nimport math\n'),
    "a helper above the function, used by code after it": (
        "```python\nfrom typing import List\n\ndef _neg(x):\n    return x < 0\n\n"
        "def below_zero(operations: List[int]) -> bool:\n    balance = 0\n    for op in operations:\n"
        "        balance += op\n        if _neg(balance):\n            return True\n    return False\n\n"
        "print(below_zero([1, -5]))\n```",
        "    balance = 0\n    for op in operations:\n        balance += op\n        if _neg(balance):\n"
        "            return True\n    return False\n\n\ndef _neg(x):\n    return x < 0\n"),
    "prose before an unfenced function": (
        f"Here is the code:\nimport math\ndef below_zero(operations: List[int]) -> bool:\n{BODY}",
        f"{BODY}\n\nimport math\n\n\n"),
    "signature wrapped over lines": (
        f"```py\ndef below_zero(\n    operations: List[int],\n) -> bool:\n{BODY}```", BODY),
    "indentation-only body": (f"```python\n{BODY}```", BODY),
    "body at column 0": ("```python\nbalance = 0\nfor op in operations:\n    balance += op\n    if balance < 0:\n"
                         "        return True\nreturn False\n```", BODY),
    "no fence": (f"def below_zero(operations: List[int]) -> bool:\n{BODY}", BODY),
    # demo code goes (EvalPlus sanitize): it runs before the tests, and a crash there fails a correct function
    "demo code that crashes": (
        f"```python\ndef below_zero(operations: List[int]) -> bool:\n{BODY}\n"
        "assert below_zero([1]) is True  # the model's wrong example\nprint(below_zero(None))\n```", BODY),
    "a main block": (
        f"```python\ndef below_zero(operations: List[int]) -> bool:\n{BODY}\n"
        "if __name__ == '__main__':\n    import doctest\n    doctest.testmod()\n    print(below_zero([1, 2, -4]))\n```",
        BODY),
    "a constant the function reads stays, one it does not goes": (
        "```python\nLIMIT = 0\nUNUSED = open('/nonexistent')\n"
        "def below_zero(operations: List[int]) -> bool:\n    balance = 0\n    for op in operations:\n"
        "        balance += op\n        if balance < LIMIT:\n            return True\n    return False\n\n"
        "for case in ([1], [-1]):\n    print(below_zero(case))\n```",
        "    balance = 0\n    for op in operations:\n        balance += op\n        if balance < LIMIT:\n"
        "            return True\n    return False\n\n\nLIMIT = 0\n"),
    "a decorated helper and a class stay": (
        f"```python\ndef below_zero(operations: List[int]) -> bool:\n{BODY}\n\n"
        "@staticmethod\ndef helper():\n    return 1\n\nclass Acc:\n    pass\n\nx = Acc()\n```",
        f"{BODY}\n\n@staticmethod\ndef helper():\n    return 1\n\nclass Acc:\n    pass\n"),
    "unclosed fence (ran out of tokens)": (f"```python\ndef below_zero(operations: List[int]) -> bool:\n{BODY}", BODY),
}


@pytest.mark.parametrize("name", list(CASES))
def test_extraction_table(name):
    answer, want = CASES[name]
    got = answer_to_completion(PROMPT, answer)
    assert got == want
    exec(PROMPT + got + CHECK, {})  # noqa: S102 - prompt + completion + tests runs


def test_an_answer_that_does_not_parse_is_left_as_is():
    # the tests then report the syntax error; nothing is guessed
    broken = f"{BODY}\nprint(below_zero([1]) \n"
    assert answer_to_completion(PROMPT, f"```python\n{broken}```") == broken


def test_brace_language_completion():
    prompt = "import java.util.*;\n\nclass Main {\n    /** doc */\n    public static Boolean belowZero(List<Object> operations) {\n"
    answer = ("```java\nimport java.util.*;\n\nclass Main {\n    public static Boolean belowZero(List<Object> operations) {\n"
              "        int b = 0;\n        return false;\n    }\n}\n```")
    assert answer_to_completion(prompt, answer) == "        int b = 0;\n        return false;\n    }\n}\n"
    assert code_blocks("a\n```js\nx()\n```\nb\n```\ny()\n```") == ["x()\n", "y()\n"]


def test_evaluate_in_chat_mode_end_to_end(shared_data, chat_dir, tmp_path, capsys, monkeypatch):
    """mmx evaluate with chat_template=true: the model (answering with the canonical solutions inside a
    chatty reply that repeats the prompt) scores 1.0; results.json records the mode."""
    rows = [json.loads(x) for x in (shared_data / "humaneval-xl/python/English.jsonl").read_text().splitlines()[:2]]
    from transformers import Qwen2ForCausalLM

    real = Qwen2ForCausalLM.generate
    fed = []

    def answer_canonically(self, **kw):
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(chat_dir)
        tails = []
        for row in kw["input_ids"]:
            text = tok.decode(row, skip_special_tokens=True)
            fed.append(text)
            (r,) = [r for r in rows if r["prompt"].rstrip() in text]
            reply = f"Sure!\n```python\n{r['prompt']}{r['canonical_solution']}```\nDone."
            tails.append(tok(reply, add_special_tokens=False)["input_ids"] + [tok.eos_token_id])
        width = max(map(len, tails))
        pad = [t + [tok.pad_token_id] * (width - len(t)) for t in tails]
        return torch.cat([kw["input_ids"], torch.tensor(pad)], 1)

    monkeypatch.setattr(Qwen2ForCausalLM, "generate", answer_canonically)
    code, out, err = cli(capsys, "evaluate", "--model", f"hf-causal:{chat_dir}", "--model-args", "chat_template=true",
                         "--tasks", "humaneval_xl_python", "--languages", "en", "--limit", "2",
                         "--data-args", f"root={shared_data / 'humaneval-xl'}",
                         "--output", tmp_path / "chat", "--no-progress", "--no-cache")
    assert code == 0, err
    assert len(fed) == 2 and all(t.startswith(f"<|im_start|>user\n{CHAT_INSTRUCTION}\n```\n") for t in fed)
    res = json.loads((tmp_path / "chat/results.json").read_text())
    assert res["model"]["prompt_format"]["mode"] == "chat_template"
    assert res["tasks"]["humaneval_xl_python"]["languages"]["en"]["metrics"]["pass@1"] == 1.0
    recs = [json.loads(x) for x in (tmp_path / "chat/samples/humaneval_xl_python.jsonl").read_text().splitlines()]
    assert sorted(r["prediction"][0] for r in recs) == sorted(r["canonical_solution"] for r in rows)

    monkeypatch.setattr(Qwen2ForCausalLM, "generate", real)  # completion mode: the random model continues the prompt
    code, out, err = cli(capsys, "evaluate", "--model", f"hf-causal:{chat_dir}", "--tasks", "humaneval_xl_python",
                         "--languages", "en", "--limit", "2",
                         "--data-args", f"max_new_tokens=8,root={shared_data / 'humaneval-xl'}",
                         "--output", tmp_path / "plain", "--no-progress", "--no-cache")
    assert code == 0, err
    res = json.loads((tmp_path / "plain/results.json").read_text())
    assert res["model"]["prompt_format"] == {"mode": "completion"}
    assert res["tasks"]["humaneval_xl_python"]["languages"]["en"]["metrics"]["pass@1"] == 0.0
