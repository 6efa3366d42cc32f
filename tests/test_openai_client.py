"""The shared OpenAI-compatible client: retries with backoff (429, 5xx, timeouts), immediate 4xx failures,
concurrency with ordered results, deterministic bodies, and the three adapters that use it.

Every server here is a local one on 127.0.0.1 (tests/local_server.py); waits are bounded."""
import json
import threading
import time
from email.utils import formatdate

import numpy as np
import pytest
from code_server import CompletionServer
from local_server import LocalServer
from PIL import Image

from mmx.errors import MmxError
from mmx.models.codegen import OpenAICompatible
from mmx.models.openai_client import OpenAIClient, OpenAIError, json_body, multipart, retry_after, user_message
from mmx.models.speech import OpenAIASR
from mmx.models.vlm import OpenAIVisionLanguage

KEY = "sk-test-0123456789abcdef"
OK = {"choices": [{"index": 0, "text": "fine", "message": {"role": "assistant", "content": "fine"}}]}


class ScriptedServer(LocalServer):
    """Answers the i-th request with ``script[i]`` (status, obj[, headers]), the last one from then on;
    keeps each request's arrival time and the most requests it held at once."""

    def __init__(self, script, delay=0.0):
        self.script, self.delay, self.times = list(script), delay, []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        super().__init__(self._handle)

    def _handle(self, path, headers, body):
        with self.lock:
            self.times.append(time.monotonic())
            i = len(self.times) - 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        time.sleep(self.delay)
        with self.lock:
            self.in_flight -= 1
        answer = self.script[min(i, len(self.script) - 1)]
        return answer(path, headers, body) if callable(answer) else answer

    def gaps(self):
        return [b - a for a, b in zip(self.times, self.times[1:])]


def client(url, **kw):
    return OpenAIClient(url, api_key=KEY, timeout=5, backoff=kw.pop("backoff", 0.05), **kw)


@pytest.mark.parametrize("failure, min_gaps", [
    ((429, {"error": {"message": "slow down"}}, {"Retry-After": "0.3"}), [0.3, 0.3]),  # the server's wait
    ((429, {"error": {"message": "slow down"}}), [0.05, 0.1]),  # backoff 0.05 s, doubling
    ((503, {"error": {"message": "loading"}}), [0.05, 0.1]),
])
def test_retried_failures_then_success(failure, min_gaps):
    with ScriptedServer([failure, failure, (200, OK)]) as srv:
        t0 = time.monotonic()
        assert client(srv.url, max_retries=3).completions({"model": "m", "prompt": "x"}) == OK
        took = time.monotonic() - t0
    assert len(srv.times) == 3  # two failures, one success, nothing more
    gaps = srv.gaps()
    print(f"{failure[0]} {failure[2] if len(failure) > 2 else ''}: gaps {[round(g, 3) for g in gaps]}, "
          f"total {took:.3f} s")
    assert all(g >= m for g, m in zip(gaps, min_gaps)), gaps


def test_backoff_doubles_with_bounded_jitter_and_a_cap():
    with ScriptedServer([(500, {"error": {"message": "oops"}})]) as srv:
        c = client(srv.url, max_retries=6, backoff=0.1)
        c.max_backoff, waits = 0.5, []
        c._sleep = waits.append  # record instead of waiting
        with pytest.raises(OpenAIError, match="answered 500 after 7 attempts: oops"):
            c.completions({"prompt": "x"})
    base = [0.1, 0.2, 0.4, 0.5, 0.5, 0.5]  # doubling, capped at max_backoff
    assert len(waits) == 6 and len(srv.times) == 7
    assert all(b <= w <= 1.5 * b for w, b in zip(waits, base)), waits  # jitter adds at most 50%


def test_retries_run_out_with_an_error_naming_endpoint_status_and_message():
    with ScriptedServer([(503, {"error": {"message": "model is loading"}})]) as srv:
        with pytest.raises(OpenAIError) as e:
            client(srv.url, max_retries=2, backoff=0.01).chat_completions({"model": "m", "messages": []})
    assert len(srv.times) == 3  # the first try and max_retries=2 retries
    msg = str(e.value)
    assert f"{srv.url}/chat/completions answered 503 after 3 attempts: model is loading" in msg
    assert e.value.status == 503 and e.value.endpoint == srv.url + "/chat/completions" and KEY not in msg


def test_a_400_fails_at_once_with_the_message_and_no_key():
    def echo_key(path, headers, body):  # a server that quotes the request's header back
        return 400, {"error": {"message": f"bad request: max_tokens too large (auth {headers['Authorization']})"}}

    with ScriptedServer([echo_key]) as srv:
        with pytest.raises(OpenAIError) as e:
            client(srv.url, max_retries=5).completions({"model": "m", "prompt": "x"})
    assert len(srv.times) == 1  # no retry: the same request would get the same answer
    msg = str(e.value)
    assert "answered 400: bad request: max_tokens too large (auth Bearer ***redacted***)" in msg
    assert srv.url + "/completions" in msg
    assert KEY not in msg + e.value.server_message + repr(e.value) + repr(client(srv.url))


def test_a_server_that_never_answers_times_out_then_fails():
    release = threading.Event()

    def hang(path, headers, body):
        release.wait(5)  # bounded: the test releases it as soon as the client gave up
        return 200, OK

    with ScriptedServer([hang]) as srv:
        t0 = time.monotonic()
        try:
            with pytest.raises(OpenAIError) as e:
                OpenAIClient(srv.url, timeout=0.2, max_retries=2, backoff=0.01).completions({"prompt": "x"})
        finally:
            release.set()
        took = time.monotonic() - t0
        n = len(srv.times)
    print(f"never answers: {n} requests, gave up after {took:.2f} s")
    assert n == 3 and e.value.status is None
    assert f"{srv.url}/completions: no answer within 0.2 s after 3 attempts" in str(e.value)
    assert 0.6 <= took < 3


def test_an_unreachable_server_is_retried_then_named():
    with ScriptedServer([(200, OK)]) as srv:
        url = srv.url
    # the port is closed now: connection refused on every try
    with pytest.raises(OpenAIError, match=f"cannot reach the OpenAI-compatible server at {url}/completions "
                                          r"\(.*\) after 2 attempts; start it or pass --model-args base_url="):
        OpenAIClient(url, max_retries=1, backoff=0.01).completions({"prompt": "x"})


def test_concurrent_requests_in_input_order():
    def echo(path, headers, body):
        return 200, {"choices": [{"index": 0, "text": json.loads(body)["prompt"].upper()}]}

    prompts = [f"p{i}" for i in range(8)]
    with ScriptedServer([echo], delay=0.3) as srv:
        c = client(srv.url, concurrency=8)
        t0 = time.monotonic()
        out = c.map(lambda p: c.completions({"prompt": p})["choices"][0]["text"], prompts)
        took = time.monotonic() - t0
    print(f"8 requests x 0.3 s, concurrency 8: {took:.2f} s, {srv.max_in_flight} in flight at most")
    assert out == [p.upper() for p in prompts]
    assert len(srv.times) == 8 and srv.max_in_flight >= 4
    with ScriptedServer([echo], delay=0.05) as srv:
        c = client(srv.url, concurrency=1)
        assert c.map(lambda p: c.completions({"prompt": p})["choices"][0]["text"], prompts[:4]) == ["P0", "P1", "P2", "P3"]
    assert srv.max_in_flight == 1


def test_the_first_failing_item_raises():
    def fail_on_b(path, headers, body):
        return (422, {"detail": "no b"}) if json.loads(body)["prompt"] == "b" else (200, OK)

    with ScriptedServer([fail_on_b]) as srv:
        c = client(srv.url, concurrency=4)
        with pytest.raises(OpenAIError, match="answered 422: no b"):
            c.map(lambda p: c.completions({"prompt": p}), ["a", "b", "c"])


def test_request_bodies_are_deterministic():
    im = Image.new("RGB", (8, 8), (200, 10, 10))
    body = {"model": "m", "messages": [user_message("What colour?", [im])], "max_tokens": 4, "temperature": 0.0}
    same = {"temperature": 0.0, "max_tokens": 4, "messages": [user_message("What colour?", [im.copy()])], "model": "m"}
    assert json_body(body) == json_body(same)
    assert body["messages"][0]["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")
    a = multipart({"model": "w", "language": "de"}, "file", "audio.wav", "audio/wav", b"RIFF....")
    assert a == multipart({"model": "w", "language": "de"}, "file", "audio.wav", "audio/wav", b"RIFF....")
    assert a != multipart({"model": "w", "language": "fr"}, "file", "audio.wav", "audio/wav", b"RIFF....")
    # and over the wire: two transcription requests with the same inputs are byte-identical
    raw = []
    with ScriptedServer([lambda p, h, b: (raw.append((h["Content-Type"], b)), (200, {"text": "hi"}))[1]]) as srv:
        c = client(srv.url)
        for _ in range(2):
            assert c.transcriptions({"model": "w"}, b"\x00\x01audio") == {"text": "hi"}
    assert raw[0] == raw[1] and raw[0][0].startswith("multipart/form-data; boundary=mmx")


def test_retry_after_forms():
    assert retry_after({"Retry-After": "2"}) == 2.0 and retry_after({"Retry-After": "0.25"}) == 0.25
    assert retry_after({}) is None and retry_after({"Retry-After": "soon"}) is None
    assert retry_after({"Retry-After": formatdate(time.time() - 60, usegmt=True)}) == 0.0
    assert 5 < retry_after({"Retry-After": formatdate(time.time() + 10, usegmt=True)}) <= 10


@pytest.mark.parametrize("make", [
    lambda **kw: OpenAICompatible("m", base_url="http://127.0.0.1:9/v1", **kw),
    lambda **kw: OpenAIVisionLanguage("m", base_url="http://127.0.0.1:9/v1", **kw),
    lambda **kw: OpenAIASR("m", base_url="http://127.0.0.1:9/v1", **kw),
])
def test_model_args_are_checked(make):
    for args, msg in [({"timeout": "0"}, "timeout should be > 0"), ({"timeout": "soon"}, "timeout should be a number"),
                      ({"max_retries": "-1"}, "max_retries should be >= 0"),
                      ({"concurrency": "0"}, "concurrency should be >= 1"),
                      ({"concurrency": "2.5"}, "concurrency should be a whole number")]:
        with pytest.raises(MmxError, match=msg):
            make(**args)
    m = make(timeout="1.5", max_retries="2", concurrency="3")
    assert (m.client.timeout, m.client.max_retries, m.client.concurrency) == (1.5, 2, 3)


# --- the adapters, end to end through the client ------------------------------------------------------------

def test_code_lm_requests_go_out_concurrently_one_per_prompt():
    class SlowServer(CompletionServer):
        def __init__(self, *a):
            super().__init__(*a)
            self.now = self.most = 0
            self.lock = threading.Lock()

        def _handle(self, path, headers, raw):
            with self.lock:
                self.now += 1
                self.most = max(self.most, self.now)
            time.sleep(0.2)
            with self.lock:
                self.now -= 1
            return super()._handle(path, headers, raw)

    prompts = [f"def f{i}():\n" for i in range(8)]
    with SlowServer(lambda p, j: f"    return {p[5]}{j}\n") as srv:
        m = OpenAICompatible("coder", base_url=srv.url, api_key=KEY, concurrency="8")
        out = m.complete(prompts, n=2, temperature=0.5, stop=["\ndef"])
    assert out == [[f"    return {i}0\n", f"    return {i}1\n"] for i in range(8)]
    assert len(srv.requests) == 8 and srv.most >= 4
    assert sorted(b["prompt"] for _, b, _ in srv.requests) == prompts and srv.requests[0][2] == f"Bearer {KEY}"


def test_vlm_and_asr_adapters_retry_a_busy_server():
    busy = (503, {"error": {"message": "busy"}}, {"Retry-After": "0"})
    chat = {"choices": [{"index": 0, "message": {"role": "assistant", "content": " red "}}]}
    with ScriptedServer([busy, (200, chat)]) as srv:
        m = OpenAIVisionLanguage("vlm", base_url=srv.url, max_retries="1")
        assert m.generate([([Image.new("RGB", (4, 4), "red")], "Colour?")], 4) == ["red"]
        assert len(srv.times) == 2
    with ScriptedServer([busy, (200, {"text": "hallo"})]) as srv:
        m = OpenAIASR("whisper-1", base_url=srv.url, max_retries="1")
        assert m.transcribe([np.zeros(1600, dtype=np.float32)], 16000, "deu") == ["hallo"]
        assert len(srv.times) == 2
    with ScriptedServer([busy]) as srv:
        with pytest.raises(MmxError, match="answered 503 after 2 attempts: busy"):
            OpenAIASR("whisper-1", base_url=srv.url, max_retries="1").transcribe([np.zeros(160)], 16000, "en")
