"""One HTTP client for OpenAI-compatible servers (OpenAI, vLLM, TGI, llama.cpp, speaches, whisper.cpp).

It speaks the three endpoints mmx uses, as the OpenAI API reference defines them: ``/v1/completions``,
``/v1/chat/completions`` (text and images as data-URL parts) and ``/v1/audio/transcriptions`` (multipart).

- ``api_key`` goes out as ``Authorization: Bearer``; it never appears in a message or an exception (a server
  that echoes it back has it replaced by ``***redacted***``).
- ``timeout``: seconds per request (connect and each read).
- Retries: 429, 5xx, connection errors and timeouts are retried up to ``max_retries`` times with exponential
  backoff (``backoff`` s, doubling, at most ``max_backoff`` s) plus up to 50% random jitter, or as long as the
  server's ``Retry-After`` says; then an :class:`OpenAIError` names the endpoint, the status and the server's
  message. Other 4xx answers fail at once (a retry would get the same answer). This follows the OpenAI
  cookbook's "How to handle rate limits" and the official client's retry policy.
- ``map(fn, items)`` runs ``fn`` on a pool of ``concurrency`` threads and returns results in input order:
  hosted APIs and vLLM/TGI batch concurrent requests, and are slow one at a time.
- Deterministic: the same inputs give byte-identical request bodies (sorted JSON keys; a multipart boundary
  derived from the content).
"""
from __future__ import annotations

import base64
import email.utils
import hashlib
import http.client
import io
import json
import os
import random
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, TypeVar

from mmx.errors import MmxError, check_number

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
REDACTED = "***redacted***"
# model args that change how requests are sent, never what comes back: left out of the output cache's key
# (mmx/cache.py model_key), so a retuned timeout or a rotated key still hits the cache
TRANSPORT_ARGS = ("api_key", "timeout", "max_retries", "concurrency")
MAX_RETRY_AFTER = 600.0  # seconds: a longer Retry-After means "come back much later", not "wait here"


class OpenAIError(MmxError):
    """A request that failed for good: ``endpoint`` (URL), ``status`` (HTTP code, None if no answer) and
    ``server_message`` (the server's own words, key redacted)."""

    def __init__(self, message: str, endpoint: str, status: int | None, server_message: str = ""):
        super().__init__(message)
        self.endpoint, self.status, self.server_message = endpoint, status, server_message


def model_client(family: str, base_url: str | None, api_key: str | None, timeout: Any = 600,
                 max_retries: Any = 5, concurrency: Any = 8, server: str = "OpenAI-compatible server") -> "OpenAIClient":
    """A client from an adapter's ``--model-args`` (strings), each number checked and named if wrong."""
    where = f"{family} --model-args"
    return OpenAIClient(
        base_url=base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL,
        api_key=api_key or os.environ.get("OPENAI_API_KEY", ""),
        timeout=check_number("timeout", timeout, low=0, low_open=True, where=where),
        max_retries=check_number("max_retries", max_retries, low=0, integer=True, where=where),
        concurrency=check_number("concurrency", concurrency, low=1, integer=True, where=where),
        server=server)


class OpenAIClient:
    def __init__(self, base_url: str = DEFAULT_BASE_URL, api_key: str = "", timeout: float = 600,
                 max_retries: int = 5, concurrency: int = 8, backoff: float = 1.0, max_backoff: float = 60.0,
                 server: str = "OpenAI-compatible server"):
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key or ""  # private: not in repr/vars dumps by habit
        self.timeout, self.max_retries, self.concurrency = float(timeout), int(max_retries), max(1, int(concurrency))
        self.backoff, self.max_backoff, self.server = float(backoff), float(max_backoff), server
        self._rng = random.Random()  # jitter only: it never changes what is sent
        self._sleep = time.sleep  # tests record the waits here

    def __repr__(self) -> str:
        return f"OpenAIClient({self.base_url!r}, timeout={self.timeout:g}, max_retries={self.max_retries}, " \
               f"concurrency={self.concurrency})"

    # --- the endpoints --------------------------------------------------------------------------------------

    def completions(self, body: dict) -> dict:
        return self.post_json("/completions", body)

    def chat_completions(self, body: dict) -> dict:
        return self.post_json("/chat/completions", body)

    def transcriptions(self, fields: dict[str, str], audio: bytes, filename: str = "audio.wav",
                       content_type: str = "audio/wav", path: str = "/audio/transcriptions") -> dict:
        """/v1/audio/transcriptions, or with ``path="/audio/translations"`` speech into English text."""
        data, ctype = multipart(fields, "file", filename, content_type, audio)
        return self._post(path, data, ctype)

    def post_json(self, path: str, body: dict) -> dict:
        return self._post(path, json_body(body), "application/json")

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[fn(x) for x in items]`` with ``concurrency`` calls in flight; the first failing item (in input
        order) raises, and items not started yet are dropped."""
        items = list(items)
        if len(items) <= 1 or self.concurrency == 1:
            return [fn(x) for x in items]
        with ThreadPoolExecutor(min(self.concurrency, len(items))) as pool:
            futures = [pool.submit(fn, x) for x in items]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise

    # --- one request, retried -------------------------------------------------------------------------------

    def _post(self, path: str, data: bytes, content_type: str) -> dict:
        url = self.base_url + path
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        attempt = 0
        while True:
            status, detail, wait = self._attempt(url, data, headers)
            if status == 200:
                return detail
            retryable = status is None or status == 429 or status >= 500
            if not retryable or attempt >= self.max_retries:
                raise self._failure(url, status, detail, attempt + 1, retryable)
            if wait is None:
                wait = min(self.max_backoff, self.backoff * 2 ** attempt)
                wait += self._rng.uniform(0, wait / 2)  # jitter: concurrent clients do not retry in lockstep
            else:
                wait += self._rng.uniform(0, wait / 10)
            self._sleep(wait)
            attempt += 1

    def _attempt(self, url: str, data: bytes, headers: dict) -> tuple[int | None, Any, float | None]:
        """(200, parsed JSON, None), (status, server message, Retry-After) or (None, why no answer, None)."""
        req = urllib.request.Request(url, data=data, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                payload = r.read()
        except urllib.error.HTTPError as e:
            try:
                raw = e.read()
            except (OSError, http.client.HTTPException):
                raw = b""
            return e.code, self._redact(server_message(raw, e.reason)), retry_after(e.headers)
        except urllib.error.URLError as e:
            reason = e.reason
            if isinstance(reason, (socket.timeout, TimeoutError)):
                return None, f"no answer within {self.timeout:g} s", None
            return None, self._redact(str(reason)), None
        except (socket.timeout, TimeoutError):
            return None, f"no answer within {self.timeout:g} s", None
        except (OSError, http.client.HTTPException) as e:  # reset, remote closed, incomplete read
            return None, self._redact(f"{type(e).__name__}: {e}"), None
        try:
            return 200, json.loads(payload.decode("utf-8")), None
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise OpenAIError(f"{url} answered 200 but not with JSON: {self._redact(repr(payload[:200]))}",
                              url, 200) from None

    def _failure(self, url: str, status: int | None, detail: str, attempts: int, retryable: bool) -> OpenAIError:
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        if status is None:
            if detail.startswith("no answer within"):
                msg = (f"{url}: {detail}{tries}; raise --model-args timeout=SECONDS (or max_retries=N), "
                       "or check the server")
            else:
                msg = (f"cannot reach the {self.server} at {url} ({detail}){tries}; start it or pass "
                       "--model-args base_url=http://HOST:PORT/v1")
        else:
            msg = f"{url} answered {status}{tries}: {detail}"
            if status == 429:
                msg += " (rate limited: lower --model-args concurrency=N or raise max_retries=N)"
            elif status in (401, 403):
                msg += " (check --model-args api_key= or OPENAI_API_KEY)"
        return OpenAIError(msg, url, status, detail)

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, REDACTED) if self._api_key else text


# --- request bodies and answers (pure functions) -----------------------------------------------------------

def json_body(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")


def multipart(fields: dict[str, str], file_field: str, filename: str, content_type: str,
              content: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body (RFC 7578) and its Content-Type; the boundary is a hash of the content,
    so the same inputs give the same bytes (and a boundary that cannot occur in them, short of a collision)."""
    h = hashlib.sha256(json_body(fields) + filename.encode() + content_type.encode() + content)
    boundary = "mmx" + h.hexdigest()[:40]
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode()
             for k, v in fields.items()]
    parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; "
                 f"filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n".encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def image_data_url(image) -> str:
    """A PIL image as a base64 PNG data URL (RGB), as the chat API takes images."""
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def user_message(text: str, images: Iterable = ()) -> dict:
    """One user turn: the images (data URLs) then the text, as OpenAI's vision chat format."""
    content: list[dict] = [{"type": "image_url", "image_url": {"url": image_data_url(im)}} for im in images]
    content.append({"type": "text", "text": text})
    return {"role": "user", "content": content}


def server_message(raw: bytes, fallback: str = "") -> str:
    """The server's error text: OpenAI's {"error": {"message"}}, FastAPI's {"detail"}, or the raw body."""
    text = raw[:2000].decode("utf-8", "replace").strip()
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return (text[:500] or str(fallback)).strip()
    if isinstance(obj, dict):
        err = obj.get("error", obj.get("detail", obj.get("message")))
        if isinstance(err, dict):
            err = err.get("message", err)
        if err:
            return str(err)[:500]
    return text[:500]


def retry_after(headers) -> float | None:
    """Retry-After as seconds (a number, or an HTTP date), None if absent or unreadable."""
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    try:
        secs = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        secs = when.timestamp() - time.time()
    return min(max(secs, 0.0), MAX_RETRY_AFTER)
