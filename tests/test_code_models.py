import pytest

from mmx.errors import MmxError
from mmx.metrics.code_extract import chat_message
from mmx.models.codegen import HFCausalLM, OpenAICompatible, build_tiny_causal_lm, trim_at_stop
from mmx.registry import get_model_family

from code_server import CompletionServer


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    path = build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"))
    return HFCausalLM(path)


def test_families_are_registered():
    assert get_model_family("hf-causal") is HFCausalLM and get_model_family("openai") is OpenAICompatible


def test_trim_at_stop_cuts_at_the_earliest_sequence():
    assert trim_at_stop("    return 1\n\ndef g():\n# x", ["\n#", "\ndef"]) == "    return 1\n"
    assert trim_at_stop("abc", None) == "abc" and trim_at_stop("abc", ["zz"]) == "abc"


def test_greedy_is_deterministic_and_left_padding_does_not_change_it(tiny_lm):
    short, long = "def f(x):\n", "import os\nimport sys\n\n\ndef longer_function_name(a, b, c):\n"
    alone = tiny_lm.complete([short], n=1, temperature=0, max_new_tokens=12)
    batched = tiny_lm.complete([long, short], n=3, temperature=0, max_new_tokens=12)
    assert len(batched) == 2 and all(len(x) == 3 for x in batched)
    assert batched[1] == alone[0] * 3  # same greedy text with and without left padding
    assert tiny_lm.tokenizer.padding_side == "left"


def test_sampling_is_seeded(tiny_lm):
    a = tiny_lm.complete(["x = 1\n", "y = 2\n"], n=4, temperature=1.0, max_new_tokens=8, seed=7)
    b = tiny_lm.complete(["x = 1\n", "y = 2\n"], n=4, temperature=1.0, max_new_tokens=8, seed=7)
    c = tiny_lm.complete(["x = 1\n", "y = 2\n"], n=4, temperature=1.0, max_new_tokens=8, seed=8)
    assert a == b and a != c and len(a[0]) == 4 and len(set(a[0])) > 1


def test_stop_sequences_are_trimmed(tiny_lm):
    free = tiny_lm.complete(["a"], n=1, temperature=0, max_new_tokens=20)[0][0]
    assert len(free) >= 2
    stop = free[1:3]  # something the model will produce
    out = tiny_lm.complete(["a"], n=1, temperature=0, max_new_tokens=20, stop=[stop])[0][0]
    assert out == free[:free.index(stop)]


@pytest.fixture
def generated(tiny_lm, monkeypatch):
    """How many tokens each model.generate call produced (not the trimmed text: the decoding itself)."""
    counts = []
    real = tiny_lm.model.generate

    def spy(**kw):
        out = real(**kw)
        counts.append(out.shape[1] - kw["input_ids"].shape[1])
        return out

    monkeypatch.setattr(tiny_lm.model, "generate", spy)
    return counts


def test_generation_stops_at_the_stop_sequence(tiny_lm, generated):
    free = tiny_lm.complete(["a"], n=1, temperature=0, max_new_tokens=40)[0][0]
    assert generated == [40]  # left alone, the tiny model runs to the token limit
    stop = free[2:4]
    i = free.index(stop)
    out = tiny_lm.complete(["a"], n=1, temperature=0, max_new_tokens=40, stop=[stop])[0][0]
    assert out == free[:i]
    # Decoding ended at the stop sequence (one byte-level token per byte, at most 4 per character),
    # rather than running to 40 tokens and being trimmed afterwards.
    assert generated[1] <= 4 * (i + len(stop)) < 40


def test_a_stop_sequence_across_the_prompt_end_does_not_stop(tiny_lm, generated):
    free = tiny_lm.complete(["a"], n=1, temperature=0, max_new_tokens=40)[0][0]
    across = "a" + free[0]  # prompt's last character + the completion's first: not in the completion
    out = tiny_lm.complete(["a"], n=1, temperature=0, max_new_tokens=40, stop=[across])[0][0]
    assert out == trim_at_stop(free, [across]) and len(out) > 0
    assert generated[1] > 1  # a stop criterion that looked at prompt + completion would end at token 1


def test_openai_completions_endpoint():
    with CompletionServer(lambda p, j: f"    return {len(p)} + {j}\ndef other():\n") as srv:
        m = OpenAICompatible("my-coder", base_url=srv.url, api_key="sk-test")
        out = m.complete(["def a():\n", "def bb():\n"], n=2, temperature=0.8, max_new_tokens=64, stop=["\ndef"])
    assert out == [["    return 9 + 0", "    return 9 + 1"], ["    return 10 + 0", "    return 10 + 1"]]
    path, body, auth = srv.requests[0]
    assert path == "/v1/completions" and body["model"] == "my-coder" and body["n"] == 2
    assert body["max_tokens"] == 64 and body["stop"] == ["\ndef"] and auth == "Bearer sk-test"


def test_openai_chat_endpoint_extracts_the_code():
    prompt = "def add(a, b):\n    \"\"\"Add.\"\"\"\n"
    reply = "Sure!\n```python\ndef add(a, b):\n    \"\"\"Add.\"\"\"\n    return a + b\n```\nDone."
    with CompletionServer(None, lambda msg, j: reply) as srv:
        m = OpenAICompatible("chat-model", base_url=srv.url, mode="chat")
        assert m.complete([prompt], n=1) == [["    return a + b\n"]]
    assert srv.requests[0][0] == "/v1/chat/completions"
    # the user turn is hf-causal's chat-mode message (mmx/metrics/code_extract.py), the prompt inside it
    assert srv.requests[0][1]["messages"] == [{"role": "user", "content": chat_message(prompt)}]


def test_unreachable_server_is_a_clear_error():
    m = OpenAICompatible("x", base_url="http://127.0.0.1:9/v1", timeout=2, max_retries=0)
    with pytest.raises(MmxError, match="cannot reach.*base_url"):
        m.complete(["a"])
