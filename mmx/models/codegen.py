"""Code language models: the CodeGenerator capability, transformers causal LMs and OpenAI-compatible servers.

``complete(prompts, n, temperature, max_new_tokens, stop)`` returns, per prompt, ``n`` completions
(the text after the prompt, cut at the first stop sequence), as HumanEval-style harnesses expect.
temperature 0 is greedy decoding (then the n completions are the same); above 0, nucleus sampling
(top_p 0.95, as in the Codex/HumanEval paper) seeded from ``seed``.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from mmx.capabilities import CodeGenerator, TextEncoder
from mmx.errors import MmxError
from mmx.metrics.code_extract import CHAT_INSTRUCTION, answer_to_completion, chat_message, parse_flag
from mmx.models.base import load_pretrained, mark_random_weights, pick_dtype
from mmx.models.genstats import FirstToken, GenerationStats, count_generated, stop_ids
from mmx.models.openai_client import TRANSPORT_ARGS, model_client
from mmx.models.pooling import pool
from mmx.registry import register_model


def trim_at_stop(text: str, stop: list[str] | None) -> str:
    """Cut at the earliest stop sequence (the sequence itself is dropped)."""
    cut = len(text)
    for s in stop or []:
        i = text.find(s)
        if s and i != -1:
            cut = min(cut, i)
    return text[:cut]


@register_model("hf-causal")
class HFCausalLM(CodeGenerator, TextEncoder):
    """transformers AutoModelForCausalLM (hub id, folder, or folder + gguf_file=NAME.gguf).

    ``chat_template=true``: chat mode for instruction-tuned models (lm-eval's --apply_chat_template): no stop
    sequences (the answer ends at end of turn), and the completion is taken from the answer.
    A text encoder too (the bitext kind, MEXA-style alignment of a language model): the mean of the last
    hidden layer over a text's tokens, as MEXA (Kargaran et al. 2024) takes a decoder's sentence embedding."""

    cache_version = 2  # bump when mmx changes what this adapter outputs (see mmx/cache.py model_key)
    cache_libraries = ("torch", "transformers", "tokenizers", "gguf")

    def __init__(self, name: str, device: str = "cpu", dtype: str | None = None, gguf_file: str | None = None,
                 samples_per_call: str | int = 20, chat_template: str | bool = False, **kwargs: Any):
        # chat_template=true (lm-eval's --apply_chat_template): each prompt goes in as a user message through
        # the tokenizer's chat template and the code is taken back from the answer (mmx/metrics/code_extract.py).
        # A model arg, so it is part of the output cache key and of results.json's model.args.
        self.chat = parse_flag(chat_template, "hf-causal model arg chat_template")
        extra_args = {"chat_template": chat_template} if self.chat else {}
        super().__init__(name, device, dtype=dtype, gguf_file=gguf_file, **extra_args, **kwargs)
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.dtype = pick_dtype(self.device, dtype)
        extra = {"gguf_file": gguf_file} if gguf_file else {}
        self.tokenizer = load_pretrained(AutoTokenizer.from_pretrained, name, "hf-causal", **extra)
        self.tokenizer.padding_side = "left"  # generation continues from the right end of every row
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = load_pretrained(AutoModelForCausalLM.from_pretrained, name, "hf-causal", dtype=self.dtype,
                                     **extra).to(self.device).eval()
        self.samples_per_call = int(samples_per_call)
        if self.chat and not getattr(self.tokenizer, "chat_template", None):
            raise MmxError(f"hf-causal model {name!r} has no chat template in its tokenizer; drop "
                           "chat_template=true (completion mode) or use an instruction-tuned checkpoint")

    @staticmethod
    def load_tokenizer(name: str, gguf_file: str | None = None, **_: Any):
        """The tokenizer alone, no weights (`mmx tokenizers`, the run's tokenizer section; GGUF too)."""
        from mmx.metrics.tokenizers import hf_tokenizer
        return hf_tokenizer(name, "hf-causal", gguf_file=gguf_file)

    def info(self) -> dict[str, Any]:
        # results.json says which prompt format produced the scores
        mode = {"mode": "chat_template", "instruction": CHAT_INSTRUCTION} if self.chat else {"mode": "completion"}
        return {**super().info(), "prompt_format": mode}

    def chat_prompt(self, prompt: str) -> str:
        """The text generation starts from in chat mode: the prompt as one user turn, then the assistant's turn."""
        return self.tokenizer.apply_chat_template([{"role": "user", "content": chat_message(prompt)}],
                                                  tokenize=False, add_generation_prompt=True)

    def complete(self, prompts, n=1, temperature=0.0, max_new_tokens=512, stop=None, seed=1234):
        import torch

        texts_in = [self.chat_prompt(p) for p in prompts] if self.chat else list(prompts)
        stop = None if self.chat else stop  # a chat answer ends at the end-of-turn token, not at a stop sequence
        ends = stop_ids(self.model, self.tokenizer)  # counted as the end of a row in both modes (as vlm.py does)
        # chat: the answer ends at the end of the assistant's turn, the tokenizer's EOS as well as the model's own
        eos = {"eos_token_id": ends} if self.chat and ends else {}
        enc = self.tokenizer(texts_in, return_tensors="pt", padding=True, add_special_tokens=False)
        enc = {k: v.to(self.device) for k, v in enc.items()}
        width = enc["input_ids"].shape[1]
        sample = temperature > 0
        out: list[list[str]] = [[] for _ in prompts]
        torch.manual_seed(seed)
        todo = n if sample else 1  # greedy: one decode, copied n times
        stats = self.last_generation = GenerationStats()  # tokens and first-token time: mmx/speed.py
        while todo > 0:
            k = min(todo, self.samples_per_call)
            kw = dict(do_sample=True, temperature=float(temperature), top_p=0.95) if sample else dict(do_sample=False)
            with torch.inference_mode():
                crit = [_StopInCompletion(self.tokenizer, stop, width)] if stop else []
                first = FirstToken()
                gen = self.model.generate(**enc, max_new_tokens=int(max_new_tokens), num_return_sequences=k,
                                          pad_token_id=self.tokenizer.pad_token_id, top_k=None,
                                          stopping_criteria=crit, streamer=first, **eos, **kw)
            stats.add(enc["attention_mask"].sum(), count_generated(gen[:, width:], ends, self.tokenizer.pad_token_id),
                      first)
            texts = self.tokenizer.batch_decode(gen[:, width:], skip_special_tokens=True)
            for i, t in enumerate(texts):  # rows are prompt-major: prompt i's k samples are adjacent
                out[i // k].append(answer_to_completion(prompts[i // k], t) if self.chat else trim_at_stop(t, stop))
            todo -= k
        return out if sample else [o * n for o in out]

    def encode_texts(self, texts: list[str]):
        """Mean-pooled last hidden states (padding masked out), L2-normalised, float32 on the CPU."""
        import torch

        from mmx.models.clip import _normalise  # here, not at the top: clip imports torch

        enc = self.tokenizer(list(texts), return_tensors="pt", padding=True, truncation=True,
                             max_length=min(int(getattr(self.tokenizer, "model_max_length", 4096) or 4096), 4096))
        enc = {k: v.to(self.device) for k, v in enc.items()}
        with torch.inference_mode():
            hidden = self.model(**enc, output_hidden_states=True).hidden_states[-1].float()
        return _normalise(pool(hidden, enc["attention_mask"], "mean"))


class _StopInCompletion:
    """Stops a row once its *completion* holds a stop sequence (transformers' stop_strings also match
    text that spans the prompt's end, which would cut completions short)."""

    TAIL = 48  # tokens decoded per check: longer than any stop sequence

    def __init__(self, tokenizer, stop: list[str], width: int):
        self.tok, self.stop, self.width = tokenizer, [s for s in stop if s], width

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        start = max(self.width, input_ids.shape[1] - self.TAIL)
        texts = self.tok.batch_decode(input_ids[:, start:], skip_special_tokens=True)
        return torch.tensor([any(s in t for s in self.stop) for t in texts], device=input_ids.device)


@register_model("openai")
class OpenAICompatible(CodeGenerator):
    """An OpenAI-compatible server (vLLM, TGI, llama.cpp, OpenAI): /v1/completions, or /v1/chat/completions.

    Args: ``base_url=http://HOST:PORT/v1``, ``api_key=``, ``mode=completions|chat``, ``timeout=`` (s per request),
    ``max_retries=`` (on 429, 5xx, timeouts), ``concurrency=N`` (requests in flight, one per prompt; default 8).
    """

    cache_version = 2  # bump when mmx changes what this adapter outputs (see mmx/cache.py model_key)
    cache_libraries = ()
    uncached_args = TRANSPORT_ARGS

    def __init__(self, name: str, device: str = "cpu", base_url: str | None = None, api_key: str | None = None,
                 mode: str = "completions", timeout: str | float = 600, max_retries: str | int = 5,
                 concurrency: str | int = 8, **kwargs: Any):
        super().__init__(name, "cpu", base_url=base_url, mode=mode, **kwargs)
        if mode not in ("completions", "chat"):
            raise MmxError(f"openai model arg mode={mode!r}: use completions or chat")
        self.client = model_client("openai", base_url, api_key, timeout, max_retries, concurrency)
        self.base_url, self.mode = self.client.base_url, mode

    def complete(self, prompts, n=1, temperature=0.0, max_new_tokens=512, stop=None, seed=1234):
        common = {"model": self.name, "n": n, "temperature": float(temperature), "max_tokens": int(max_new_tokens),
                  "seed": seed, **({"top_p": 0.95} if temperature > 0 else {})}
        stats, lock, usage_seen = GenerationStats(), threading.Lock(), []

        def count(resp: dict) -> None:  # the server's token counts, where it reports them (no first-token time)
            u = resp.get("usage") or {}
            if "completion_tokens" in u:
                with lock:
                    stats.add(u.get("prompt_tokens") or 0, u["completion_tokens"], None)
                    usage_seen.append(1)

        def one_completion(p: str) -> list[str]:  # one request per prompt: the server batches concurrent ones
            resp = self.client.completions({**common, "prompt": p, **({"stop": stop[:4]} if stop else {})})
            count(resp)
            choices = sorted(resp.get("choices") or [], key=lambda c: c.get("index", 0))
            if len(choices) != n:
                raise MmxError(f"{self.base_url}/completions returned {len(choices)} choices for n={n}")
            return [trim_at_stop(c["text"], stop) for c in choices]

        def one_chat(p: str) -> list[str]:  # the same user turn and extraction as hf-causal's chat mode
            resp = self.client.chat_completions({**common, "messages": [{"role": "user", "content": chat_message(p)}]})
            count(resp)
            choices = sorted(resp.get("choices") or [], key=lambda c: c.get("index", 0))
            if len(choices) != n:
                raise MmxError(f"{self.base_url}/chat/completions returned {len(choices)} choices for n={n}")
            return [answer_to_completion(p, c["message"]["content"] or "") for c in choices]

        out = self.client.map(one_completion if self.mode == "completions" else one_chat, list(prompts))
        self.last_generation = stats if len(usage_seen) == len(out) else None  # partial counts would mislead
        return out


def build_tiny_causal_lm(out_dir: str | os.PathLike, seed: int = 0) -> str:
    """A tiny Qwen2 causal LM with RANDOM weights and mmx's byte-level tokenizer, saved like a hub model."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from mmx.models.tiny import BOS_ID, EOS_ID, PAD_ID, VOCAB_SIZE, byte_tokenizer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    cfg = Qwen2Config(vocab_size=VOCAB_SIZE, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=4096,
                      bos_token_id=BOS_ID, eos_token_id=EOS_ID, pad_token_id=PAD_ID, tie_word_embeddings=False)
    Qwen2ForCausalLM(cfg).save_pretrained(out)
    byte_tokenizer(4096).save_pretrained(out)
    mark_random_weights(out, how=f"mmx.models.codegen.build_tiny_causal_lm(seed={seed})")
    return str(out)
