"""Vision-language models: the VisionLanguageModel capability, transformers image-text-to-text models and
OpenAI-compatible chat endpoints.

``generate(batch, max_new_tokens)``: batch items are ``(images, prompt)``; returns one answer per item,
greedy (deterministic). ``score_options(batch)``: items are ``(images, prompt, options)``; returns, per
item, the log-likelihood of each option as the assistant's reply (multiple choice by likelihood).

Model specs:

``hf-vlm:ID_OR_DIR``   transformers ``AutoModelForImageTextToText`` + ``AutoProcessor`` (LLaVA, Qwen2-VL,
    PaliGemma, Idefics3 / SmolVLM, ...). Prompts go through the processor's chat template as one user turn
    holding the images then the text (PaliGemma, which has none, gets the raw prompt after its image tokens). Batches are left-padded. Args: ``dtype=``, ``max_length=N`` (the
    longest prompt accepted; default: the text model's max_position_embeddings), ``chat_template=true|false``
    (optional: the template is always applied where there is one; true requires one, false refuses one).
``openai-vlm:MODEL``   an OpenAI-compatible /v1/chat/completions endpoint (vLLM, TGI, llama.cpp server, OpenAI);
    images are sent as base64 PNG data URLs. Args: ``base_url=http://HOST:PORT/v1``, ``api_key=``,
    ``timeout=`` (s per request), ``max_retries=N`` (on 429, 5xx, timeouts; default 5), ``concurrency=N`` (requests
    in flight, default 8). No option scoring (chat endpoints give no likelihood of a given reply).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mmx.capabilities import PromptTooLong, VisionLanguageModel  # noqa: F401 (PromptTooLong: re-exported)
from mmx.errors import MmxError
from mmx.metrics.code_extract import parse_flag
from mmx.models.base import load_pretrained, pick_dtype
from mmx.models.genstats import FirstToken, GenerationStats, count_generated, stop_ids
from mmx.models.openai_client import TRANSPORT_ARGS, OpenAIError, model_client, user_message
from mmx.registry import register_model


def _messages(n_images: int, prompt: str) -> list[dict]:
    content = [{"type": "image"} for _ in range(n_images)] + [{"type": "text", "text": prompt}]
    return [{"role": "user", "content": content}]


def _rgb(images: list) -> list:
    return [im if im.mode == "RGB" else im.convert("RGB") for im in images]


@register_model("hf-vlm")
class HFVisionLanguage(VisionLanguageModel):
    """transformers image-text-to-text models (LLaVA, Qwen2-VL, PaliGemma, Idefics3/SmolVLM) via their chat template."""

    cache_version = 1  # bump when mmx changes what this adapter outputs (see mmx/cache.py model_key)
    cache_libraries = ("torch", "transformers", "tokenizers", "pillow")

    def __init__(self, name: str, device: str = "cpu", dtype: str | None = None, max_length: str | int | None = None,
                 chat_template: str | bool | None = None, **kwargs: Any):
        # The chat template is always applied where the model has one (its image placeholders come from it):
        # chat_template=true (the same flag as hf-causal's) only asserts that; false fits models without one.
        want_chat = None if chat_template is None else parse_flag(chat_template, "hf-vlm model arg chat_template")
        super().__init__(name, device, **({} if chat_template is None else {"chat_template": chat_template}), **kwargs)
        if kwargs:
            raise MmxError(f"hf-vlm: unknown model argument(s) {', '.join(sorted(kwargs))}; "
                           "known: dtype, max_length, chat_template")
        import torch  # noqa: F401
        from transformers import AutoModelForImageTextToText, AutoProcessor

        if name.startswith(("/", ".", "~")) and not Path(name).expanduser().exists():
            raise MmxError(f"hf-vlm model {name!r}: no such local folder. Pass --model hf-vlm:/path/to/folder "
                           "(written by save_pretrained, or `huggingface-cli download ID --local-dir DIR`)")
        self.dtype = pick_dtype(self.device, dtype)
        self.processor = load_pretrained(AutoProcessor.from_pretrained, name, "hf-vlm")
        self.model = load_pretrained(AutoModelForImageTextToText.from_pretrained, name, "hf-vlm",
                                     dtype=self.dtype).to(self.device).eval()
        self.tokenizer = getattr(self.processor, "tokenizer", None)
        if self.tokenizer is None:
            raise MmxError(f"hf-vlm model {name!r}: its processor has no tokenizer")
        self.tokenizer.padding_side = "left"  # generation continues from the right end of every row
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.chat = bool(getattr(self.processor, "chat_template", None) or getattr(self.tokenizer, "chat_template", None))
        if not self.chat and (want_chat or self.model.config.model_type != "paligemma"):
            raise MmxError(f"hf-vlm model {name!r} has no chat template (processor or tokenizer); "
                           "use an instruction-tuned checkpoint or add chat_template.jinja to its folder")
        if self.chat and want_chat is False:
            raise MmxError(f"hf-vlm model {name!r} has a chat template, and hf-vlm always applies it (it places "
                           "the image tokens); drop chat_template=false")
        text_cfg = getattr(self.model.config, "text_config", self.model.config)
        self.max_length = int(max_length or getattr(text_cfg, "max_position_embeddings", 0) or 1 << 30)

    @staticmethod
    def load_tokenizer(name: str, **_: Any):
        """The processor's tokenizer alone, no weights (`mmx tokenizers`, the run's tokenizer section)."""
        from mmx.metrics.tokenizers import hf_tokenizer
        return hf_tokenizer(name, "hf-vlm")

    def info(self) -> dict[str, Any]:
        # results.json says which prompt format produced the scores
        return {**super().info(), "prompt_format": {"mode": "chat_template" if self.chat else "raw (no chat template)"}}

    def _prompt(self, n_images: int, prompt: str) -> str:
        if not self.chat:  # PaliGemma: the processor puts the image tokens and BOS before the raw prompt
            return prompt
        return self.processor.apply_chat_template(_messages(n_images, prompt), add_generation_prompt=True,
                                                  tokenize=False)

    def _encode(self, batch: list[tuple[list, str]]) -> dict:
        texts = [self._prompt(len(images), prompt) for images, prompt in batch]
        images = [_rgb(list(ims)) for ims, _ in batch]
        kw = {"images": images} if any(images) else {}
        enc = self.processor(text=texts, return_tensors="pt", padding=True, **kw)
        enc.pop("labels", None)  # PaliGemma's processor adds training labels
        lengths = enc["attention_mask"].sum(1).tolist()
        for i, n in enumerate(lengths):
            if n > self.max_length:
                raise PromptTooLong(i, int(n), self.max_length)
        return enc

    def _to_device(self, enc: dict) -> dict:
        return {k: (v.to(self.device, self.dtype) if v.is_floating_point() else v.to(self.device))
                if hasattr(v, "to") else v for k, v in enc.items()}

    def generate(self, batch, max_new_tokens=16):
        import torch

        if not batch:
            return []
        enc = self._to_device(self._encode(batch))
        width = enc["input_ids"].shape[1]
        first = FirstToken()  # tokens and first-token time for the speed figures (mmx/speed.py)
        with torch.inference_mode():
            out = self.model.generate(**enc, max_new_tokens=int(max_new_tokens), do_sample=False, num_beams=1,
                                      pad_token_id=self.tokenizer.pad_token_id, top_k=None, top_p=None,
                                      temperature=None, streamer=first)
        self.last_generation = GenerationStats()
        self.last_generation.add(enc["attention_mask"].sum(), count_generated(
            out[:, width:], stop_ids(self.model, self.tokenizer), self.tokenizer.pad_token_id), first)
        return [t.strip() for t in self.tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)]

    def score_options(self, batch):
        """Sum of the log-probabilities of each option's tokens after the prompt (one forward per item)."""
        import torch

        scores = []
        for i, (images, prompt, options) in enumerate(batch):
            if not options:
                scores.append([])
                continue
            try:
                enc = self._encode([(images, prompt)] * len(options))
            except PromptTooLong as e:
                raise PromptTooLong(i, e.n_tokens, e.limit) from None
            opt_ids = [self.tokenizer(o, add_special_tokens=False)["input_ids"] for o in options]
            longest = max(len(x) for x in opt_ids)
            width = enc["input_ids"].shape[1]
            if width + longest > self.max_length:
                raise PromptTooLong(i, width + longest, self.max_length)
            pad = self.tokenizer.pad_token_id
            tail = torch.tensor([x + [pad] * (longest - len(x)) for x in opt_ids], dtype=enc["input_ids"].dtype)
            tail_mask = torch.tensor([[1] * len(x) + [0] * (longest - len(x)) for x in opt_ids],
                                     dtype=enc["attention_mask"].dtype)
            enc["input_ids"] = torch.cat([enc["input_ids"], tail], 1)
            enc["attention_mask"] = torch.cat([enc["attention_mask"], tail_mask], 1)
            for key, v in list(enc.items()):  # other per-token inputs grow with the option's tokens
                if key not in ("input_ids", "attention_mask") and hasattr(v, "shape") and \
                        tuple(v.shape) == (tail.shape[0], width):
                    # PaliGemma's token_type_ids: 1 = suffix (causal, the reply); Qwen2-VL's mm_token_type_ids: 0 = text
                    fill = torch.ones_like(tail) if key == "token_type_ids" else torch.zeros_like(tail)
                    enc[key] = torch.cat([v, fill.to(v.dtype)], 1)
            inputs = self._to_device(enc)
            with torch.inference_mode():
                logits = self.model(**inputs).logits.float()
            # logits at position t predict token t+1: the option's tokens are predicted from width-1 on
            logp = torch.log_softmax(logits[:, width - 1:width - 1 + longest], -1).cpu()
            tok = logp.gather(-1, tail.unsqueeze(-1)).squeeze(-1)
            scores.append((tok * tail_mask).sum(1).tolist())
        return scores


@register_model("openai-vlm")
class OpenAIVisionLanguage(VisionLanguageModel):
    """An OpenAI-compatible /v1/chat/completions endpoint; images as base64 data URLs."""

    cache_version = 1  # bump when mmx changes what this adapter outputs (see mmx/cache.py model_key)
    cache_libraries = ("pillow",)
    uncached_args = TRANSPORT_ARGS

    def __init__(self, name: str, device: str = "cpu", base_url: str | None = None, api_key: str | None = None,
                 timeout: str | float = 600, max_retries: str | int = 5, concurrency: str | int = 8, **kwargs: Any):
        super().__init__(name, "cpu", base_url=base_url, **kwargs)
        if kwargs:
            raise MmxError(f"openai-vlm: unknown model argument(s) {', '.join(sorted(kwargs))}; "
                           "known: base_url, api_key, timeout, max_retries, concurrency")
        self.client = model_client("openai-vlm", base_url, api_key, timeout, max_retries, concurrency)
        self.base_url = self.client.base_url

    def _one(self, i: int, images: list, prompt: str, max_new_tokens: int) -> str:
        body = {"model": self.name, "messages": [user_message(prompt, images)],
                "max_tokens": int(max_new_tokens), "temperature": 0.0, "seed": 0}
        try:
            resp = self.client.chat_completions(body)
        except OpenAIError as e:
            said = e.server_message.lower()
            if e.status == 400 and ("context" in said or "too long" in said):
                raise PromptTooLong(i, -1, -1) from None
            raise
        choices = resp.get("choices") or []
        if not choices:
            raise MmxError(f"{self.base_url}/chat/completions returned no choices: {str(resp)[:300]}")
        return (choices[0].get("message", {}).get("content") or "").strip()

    def generate(self, batch, max_new_tokens=16):
        # concurrent requests, answers in batch order; the first failing item's error is raised
        return self.client.map(lambda item: self._one(item[0], *item[1], max_new_tokens), list(enumerate(batch)))

    def score_options(self, batch):
        raise MmxError("openai-vlm cannot score options: a chat endpoint gives no likelihood of a given reply. "
                       "Run multiple-choice tasks with --data-args mc_mode=generate (the model names the letter)")
