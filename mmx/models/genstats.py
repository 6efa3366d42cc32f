"""What one ``generate`` call cost, for the speed figures of results.json (mmx/speed.py): prompt tokens,
generated tokens and the time to the first generated token.

transformers hands every step's new tokens to a ``streamer`` (first the prompt, then one column per step);
the second hand-over is the first token reaching the host, which is what a user waits for. Beam search
takes no streamer, so there the first-token time is left out.
"""
from __future__ import annotations

import time
from collections.abc import Collection


class FirstToken:
    """A transformers streamer (duck-typed BaseStreamer: put/end) that notes when the first token arrives."""

    def __init__(self):
        self.t0 = time.perf_counter()
        self.seconds: float | None = None
        self._puts = 0

    def put(self, value) -> None:
        self._puts += 1
        if self._puts == 2 and self.seconds is None:  # put 1 is the prompt itself
            self.seconds = time.perf_counter() - self.t0

    def end(self) -> None:
        pass


def count_generated(rows, stop_ids: Collection[int], pad_id: int | None) -> int:
    """Tokens generated over rows of new token ids (prompt removed): up to and including the first end token,
    and not the padding a finished row gets while others go on."""
    n = 0
    for row in rows:
        row = row.tolist() if hasattr(row, "tolist") else list(row)
        k = len(row)
        for j, t in enumerate(row):
            if t in stop_ids:
                k = j + 1
                break
            if t == pad_id:
                k = j
                break
        n += k
    return n


class GenerationStats:
    """Summed over the generate calls of one adapter call; the adapter sets ``last_generation`` to it."""

    def __init__(self):
        self.prompt_tokens = 0
        self.generated_tokens = 0
        self.first_token_s = 0.0
        self.timed_calls = 0

    def add(self, prompt_tokens: int, generated_tokens: int, first: FirstToken | None) -> None:
        self.prompt_tokens += int(prompt_tokens)
        self.generated_tokens += int(generated_tokens)
        if first is not None and first.seconds is not None:
            self.first_token_s += first.seconds
            self.timed_calls += 1


def stop_ids(model, tokenizer) -> list[int]:
    """The ids that end a row: the model's generation config's end-of-sequence ids, then the tokenizer's if
    it is another (a chat model's end of turn, Qwen's <|im_end|>, where a GGUF's generation config names only
    <|endoftext|>). In that order and without repeats, so that it can go to generate() as eos_token_id."""
    ids = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids = [ids] if isinstance(ids, int) else list(ids or [])
    if getattr(tokenizer, "eos_token_id", None) is not None:
        ids.append(tokenizer.eos_token_id)
    return list(dict.fromkeys(ids))
