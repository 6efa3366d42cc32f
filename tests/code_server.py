"""An OpenAI-compatible completions server for tests: answers with completions the test chooses."""
from __future__ import annotations

import json

from local_server import LocalServer


class CompletionServer(LocalServer):
    """``answer(prompt, i) -> text`` makes the i-th completion of a prompt; ``chat_answer(message, i)`` the
    i-th chat reply. ``.requests`` holds (path, body, Authorization header)."""

    def __init__(self, answer, chat_answer=None, usage=False):
        self.answer, self.chat_answer, self.usage = answer, chat_answer, usage  # usage: word counts as tokens
        super().__init__(self._handle)

    def record(self, path, headers, body):
        return path, json.loads(body), headers.get("Authorization")

    def _handle(self, path, headers, raw):
        body = json.loads(raw)
        n = body.get("n", 1)
        if path == "/v1/completions":
            prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
            choices = [{"index": pi * n + j, "text": self.answer(p, j), "finish_reason": "stop"}
                       for pi, p in enumerate(prompts) for j in range(n)]
            choices.reverse()  # clients must order by index, not by position
        elif path == "/v1/chat/completions":
            msg = body["messages"][-1]["content"]
            choices = [{"index": j, "message": {"role": "assistant", "content": self.chat_answer(msg, j)}}
                       for j in range(n)]
        else:
            return 404, {"error": {"message": f"no route {path}"}}
        out = {"object": "text_completion", "model": body["model"], "choices": choices}
        if self.usage and path == "/v1/completions":
            out["usage"] = {"prompt_tokens": sum(len(p.split()) for p in prompts),
                            "completion_tokens": sum(len(c["text"].split()) for c in choices)}
        return 200, out
