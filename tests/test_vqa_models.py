"""VLM adapters: a tiny random LLaVA through hf-vlm, and openai-vlm against a local HTTP server."""
import base64
import io
import json

import pytest
import torch
from local_server import LocalServer
from PIL import Image

from mmx.errors import MmxError
from mmx.models.tiny_vlm import build_tiny_vlm
from mmx.models.vlm import HFVisionLanguage, OpenAIVisionLanguage, PromptTooLong
from mmx.registry import get_model_family


class ChatServer(LocalServer):
    """An OpenAI-compatible /v1/chat/completions server: ``answer(body) -> (status, reply text)``."""

    def __init__(self, answer):
        self.answer = answer
        super().__init__(self._handle)

    def record(self, path, headers, body):
        return path, json.loads(body)

    def _handle(self, path, headers, raw):
        status, text = self.answer(json.loads(raw))
        if status != 200:
            return status, {"error": {"message": text}}
        return 200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}


def decode_images(body) -> list:
    """The images of a chat request, decoded from their data URLs."""
    out = []
    for part in body["messages"][-1]["content"]:
        if part["type"] == "image_url":
            head, b64 = part["image_url"]["url"].split(",", 1)
            assert head == "data:image/png;base64"
            out.append(Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB"))
    return out


def text_of(body) -> str:
    return next(p["text"] for p in body["messages"][-1]["content"] if p["type"] == "text")


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory):
    return build_tiny_vlm(tmp_path_factory.mktemp("vlm") / "tiny", seed=0, max_length=256)


@pytest.fixture(scope="module")
def vlm(tiny_vlm):
    return HFVisionLanguage(tiny_vlm)


IMS = [Image.new("RGB", (64, 64), "red"), Image.new("RGB", (40, 90), "blue"), Image.new("L", (30, 30), 128)]


def test_registered_and_random_weights(vlm):
    assert get_model_family("hf-vlm") is HFVisionLanguage and get_model_family("openai-vlm") is OpenAIVisionLanguage
    assert vlm.info()["random_weights"] is True and vlm.info()["family"] == "hf-vlm"


def test_generate_is_greedy_and_batch_invariant(vlm):
    batch = [([IMS[0]], "What colour?"), ([IMS[1]], "Welche Farbe hat die Form? Antworte mit einem Wort."),
             ([IMS[2]], "图中是什么颜色？")]
    out = vlm.generate(batch, max_new_tokens=6)
    assert len(out) == 3 and all(isinstance(x, str) for x in out)
    assert vlm.generate(batch, max_new_tokens=6) == out  # deterministic
    # Left padding: an answer does not depend on its batch neighbours or place in the batch.
    assert vlm.generate(batch[::-1], max_new_tokens=6) == out[::-1]
    assert [vlm.generate([b], max_new_tokens=6)[0] for b in batch] == out
    assert vlm.generate([], 4) == []


def test_score_options_is_the_log_likelihood_of_the_reply(vlm):
    images, prompt, options = [IMS[0]], "Which colour?", ["red", "blue", "a green one"]
    got = vlm.score_options([(images, prompt, options)])[0]
    # Independent check: one forward pass over prompt + option, summing the option tokens' log-probs.
    for opt, score in zip(options, got):
        enc = vlm.processor(text=[vlm._prompt(1, prompt)], images=[images], return_tensors="pt")
        opt_ids = vlm.tokenizer(opt, add_special_tokens=False)["input_ids"]
        ids = torch.cat([enc["input_ids"], torch.tensor([opt_ids])], 1)
        with torch.inference_mode():
            logits = vlm.model(input_ids=ids, attention_mask=torch.ones_like(ids),
                               pixel_values=enc["pixel_values"]).logits[0].float()
        n = enc["input_ids"].shape[1]
        logp = torch.log_softmax(logits[n - 1:-1], -1)
        want = sum(logp[j, t].item() for j, t in enumerate(opt_ids))
        assert score == pytest.approx(want, abs=1e-4)
    # Same item in a batch with another: same scores.
    both = vlm.score_options([([IMS[1]], "x?", ["a", "bb"]), (images, prompt, options)])
    assert both[1] == pytest.approx(got, abs=1e-5)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # PaliGemma's processor vs numpy 2
@pytest.mark.parametrize("kind,marker", [("idefics3", "<|im_start|>User:<image>"),
                                         ("qwen2-vl", "<|vision_start|><|image_pad|><|vision_end|>"),
                                         ("paligemma", "hi")])
def test_other_architectures(kind, marker, tmp_path):
    # SmolVLM's architecture (image splitting), Qwen2-VL's (dynamic resolution, M-RoPE position ids
    # that must follow the left padding) and PaliGemma (no chat template; prefix/suffix token types)
    # through the same adapter.
    m = HFVisionLanguage(build_tiny_vlm(tmp_path / kind, kind=kind))
    assert marker in m._prompt(1, "hi")
    batch = [([IMS[0]], "What colour?"), ([IMS[1]], "Welche Farbe hat die Form? Antworte mit einem Wort.")]
    out = m.generate(batch, max_new_tokens=5)
    assert m.generate(batch[::-1], max_new_tokens=5) == out[::-1]
    assert [m.generate([b], max_new_tokens=5)[0] for b in batch] == out
    one = m.score_options([([IMS[0]], "Colour?", ["red", "blue"])])[0]
    assert m.score_options([([IMS[1]], "x", ["a"]), ([IMS[0]], "Colour?", ["red", "blue"])])[1] == \
        pytest.approx(one, abs=1e-5)
    assert all(s < 0 for s in one)


def test_prompt_too_long_names_its_place(vlm):
    with pytest.raises(PromptTooLong, match=r"prompt 1 of the batch is \d+ tokens .*at most 256") as e:
        vlm.generate([([IMS[0]], "short"), ([IMS[0]], "x" * 400)], 4)
    assert e.value.index == 1
    with pytest.raises(PromptTooLong):
        vlm.score_options([([IMS[0]], "y" * 300, ["a"])])


def test_missing_folder_is_clear(tmp_path):
    with pytest.raises(MmxError, match="no such local folder"):
        HFVisionLanguage(str(tmp_path / "nope"))
    with pytest.raises(MmxError, match="unknown model argument"):
        HFVisionLanguage(str(tmp_path), temperature="1")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # PaliGemma's processor vs numpy 2
def test_chat_template_flag_is_the_same_as_hf_causal(vlm, tiny_vlm, tmp_path):
    # hf-vlm always applies the chat template where there is one; chat_template=true (hf-causal's flag)
    # is accepted, changes nothing, and is recorded; false or true where it cannot hold is a clear error.
    flagged = HFVisionLanguage(tiny_vlm, chat_template="true")
    assert flagged._prompt(1, "hi") == vlm._prompt(1, "hi") == vlm.processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "hi"}]}],
        add_generation_prompt=True, tokenize=False)
    assert flagged.info()["prompt_format"] == vlm.info()["prompt_format"] == {"mode": "chat_template"}
    assert flagged.info()["args"]["chat_template"] == "true" and "chat_template" not in vlm.info()["args"]
    with pytest.raises(MmxError, match="always applies it"):
        HFVisionLanguage(tiny_vlm, chat_template="false")
    with pytest.raises(MmxError, match="use true or false"):
        HFVisionLanguage(tiny_vlm, chat_template="sometimes")
    pali = build_tiny_vlm(tmp_path / "pali", kind="paligemma")
    assert HFVisionLanguage(pali, chat_template="false").info()["prompt_format"]["mode"].startswith("raw")
    with pytest.raises(MmxError, match="has no chat template"):
        HFVisionLanguage(pali, chat_template="true")


def test_openai_vlm_sends_images_as_data_urls():
    def answer(body):
        im = decode_images(body)[0]
        r, g, b = im.getpixel((5, 5))
        return 200, "red" if r > max(g, b) else "blue"

    with ChatServer(answer) as srv:
        m = OpenAIVisionLanguage("my-vlm", base_url=srv.url, api_key="k")
        assert m.generate([([IMS[0]], "Colour?"), ([IMS[1]], "Farbe?")], max_new_tokens=7) == ["red", "blue"]
        # Requests go out concurrently, so the server may see them in either order.
        path, body = next(r for r in srv.requests if text_of(r[1]) == "Colour?")
        assert len(srv.requests) == 2
        assert path == "/v1/chat/completions" and body["model"] == "my-vlm"
        assert body["temperature"] == 0.0 and body["max_tokens"] == 7
        assert [p["type"] for p in body["messages"][0]["content"]] == ["image_url", "text"]
        assert text_of(body) == "Colour?" and decode_images(body)[0].size == (64, 64)
    with pytest.raises(MmxError, match="mc_mode=generate"):
        m.score_options([([IMS[0]], "q", ["a", "b"])])


def test_openai_vlm_errors_are_clear():
    def refuse_long(body):
        return (400, "This model's maximum context length is 4096 tokens") if text_of(body) == "b" else (200, "ok")

    with ChatServer(refuse_long) as srv:
        with pytest.raises(PromptTooLong, match="prompt 1 of the batch is longer than the server's model takes"):
            OpenAIVisionLanguage("m", base_url=srv.url).generate([([], "a"), ([], "b")], 4)
    with ChatServer(lambda body: (500, "boom")) as srv:
        with pytest.raises(MmxError, match="answered 500"):
            OpenAIVisionLanguage("m", base_url=srv.url, max_retries="0").generate([([], "a")], 4)
        assert len(srv.requests) == 1  # max_retries=0: a 5xx is not retried
    with pytest.raises(MmxError, match="cannot reach the OpenAI-compatible server"):
        OpenAIVisionLanguage("m", base_url="http://127.0.0.1:9/v1", timeout=2, max_retries=0).generate([([], "a")], 4)
