"""Speed as a result (mmx/speed.py): the meter's pooling and warm-up rule on hand-made timings, the token
counts of generation, a real run's `speed` section, the reports, and `mmx compare --speed-tolerance`."""
import json
import shutil

import pytest
import torch

from mmx.models.codegen import HFCausalLM, OpenAICompatible, build_tiny_causal_lm
from mmx.models.genstats import count_generated
from mmx.speed import SpeedMeter, generation_amount
from cli_runner import cli, run_main
from code_server import CompletionServer


def test_first_batch_of_an_operation_is_warmup_and_figures_pool_work_over_seconds():
    m = SpeedMeter()
    t = m.timer("text-emb", "texts_per_s", "de")
    t.record([0] * 8, [], 5.0)  # warm-up: left out
    t.record([0] * 8, [], 0.5)
    t.record([0] * 4, [], 0.5)
    m.timer("text-emb", "texts_per_s", "fr").record([0] * 6, [], 0.2)  # same operation: already warm
    s = m.section("cpu (test)", 1)
    de, fr = s["languages"]["de"]["texts_per_s"], s["languages"]["fr"]["texts_per_s"]
    assert (de["amount"], de["seconds"], de["batches"], de["value"]) == (12.0, 1.0, 2, 12.0)
    assert fr["value"] == pytest.approx(30.0) and not fr["includes_warmup"]
    ov = s["overall"]["texts_per_s"]
    assert ov["amount"] == 18 and ov["seconds"] == pytest.approx(1.2) and ov["value"] == pytest.approx(15.0)
    assert s["device"] == "cpu (test)" and s["world_size"] == 1


def test_a_language_with_only_its_warmup_batch_keeps_it_and_says_so():
    m = SpeedMeter()
    m.timer("asr", "rtfx", "en", amount=lambda i, o: sum(o)).record([0, 0], [3.0, 1.0], 0.5)
    s = m.section("cpu", 1)
    assert s["languages"]["en"]["rtfx"] == {"value": 8.0, "unit": "x real time", "amount": 4.0, "seconds": 0.5,
                                            "batches": 1, "includes_warmup": True}
    assert SpeedMeter().section("cpu", 1) is None  # nothing timed (all from the cache): no section


def test_generation_figures_and_latency():
    class Stats:
        prompt_tokens, generated_tokens, first_token_s, timed_calls = 40, 100, 0.2, 2

    class Model:
        last_generation = Stats()

    m = SpeedMeter(warm={"complete"})
    m.timer("complete", None, "en", amount=generation_amount(Model())).record(["a", "b"], [], 2.0)
    f = m.section("cpu", 1)["languages"]["en"]
    assert f["generated_tokens_per_s"]["value"] == 50.0  # 100 tokens / 2 s
    assert f["prompt_tokens_per_s"]["value"] == 200.0  # 40 tokens / 0.2 s to the first token
    assert f["ttft_s"]["value"] == pytest.approx(0.1) and f["ttft_s"]["unit"] == "s"  # 0.2 s over 2 calls
    m2 = SpeedMeter(warm={"x"})
    m2.timer("x", None, "en", amount=generation_amount(object())).record(["a", "b", "c"], [], 1.5)
    assert m2.section("cpu", 1)["overall"] == {"samples_per_s": {
        "value": 2.0, "unit": "samples/s", "amount": 3.0, "seconds": 1.5, "batches": 1, "includes_warmup": False}}
    with pytest.raises(ValueError, match="unknown speed figure"):
        m.add("tokens", None, 1, 1)


def test_count_generated_stops_at_the_end_token_and_skips_padding():
    rows = torch.tensor([[5, 6, 2, 0, 0],   # ends with 2 (eos): 3 tokens
                         [5, 6, 7, 8, 9],   # ran to the limit: 5
                         [5, 0, 0, 0, 0]])  # stopped by a stop sequence, padded (pad 0): 1
    assert count_generated(rows, {2}, 0) == 9
    assert count_generated(torch.tensor([[2, 2, 2]]), {2}, 2) == 1  # pad == eos: the end token counts once


def test_hf_causal_reports_its_tokens_and_first_token_time(tmp_path):
    lm = HFCausalLM(build_tiny_causal_lm(tmp_path / "lm"))
    out = lm.complete(["def f():\n", "def longer_name(x, y):\n"], n=1, max_new_tokens=7)
    st = lm.last_generation
    assert len(out) == 2 and 2 <= st.generated_tokens <= 14  # at most 7 new tokens a row
    prompt_tokens = sum(len(lm.tokenizer(p, add_special_tokens=False)["input_ids"])
                        for p in ["def f():\n", "def longer_name(x, y):\n"])
    assert st.prompt_tokens == prompt_tokens and st.timed_calls == 1 and st.first_token_s > 0


def test_openai_usage_counts_tokens_only_when_every_response_has_it():
    with CompletionServer(lambda p, j: "return one two", usage=True) as srv:
        m = OpenAICompatible("m", base_url=srv.url)
        m.complete(["a b c", "d e"], n=2, max_new_tokens=8)
    assert (m.last_generation.prompt_tokens, m.last_generation.generated_tokens) == (5, 12)
    assert m.last_generation.timed_calls == 0  # no first-token time without streaming
    with CompletionServer(lambda p, j: "x") as srv:
        m = OpenAICompatible("m", base_url=srv.url)
        m.complete(["a"], n=1)
    assert m.last_generation is None  # no usage reported: samples/s instead of a wrong token rate


@pytest.fixture(scope="module")
def timed_runs(tmp_path_factory):
    from mmx.models.tiny import build_tiny

    d = tmp_path_factory.mktemp("speed")
    spec = build_tiny("hf-clip", d / "tiny", seed=0)
    common = ["--suite", "vision", "--model", spec, "--no-progress", "--languages", "de,en,ja",
              "--batch-size", "16"]
    assert run_main("evaluate", *common, "--output", d / "base") == 0
    assert run_main("evaluate", *common, "--output", d / "cached") == 0  # all from the output cache
    return d


def test_a_run_records_speed_per_language_in_results_and_reports(timed_runs, capsys):
    task = json.loads((timed_runs / "base" / "results.json").read_text())["tasks"]["probe_retrieval"]
    sp = task["speed"]
    assert set(sp["languages"]) == {"de", "en", "ja"} and sp["device"].startswith("cpu (")
    # 48 captions a language in batches of 16; the very first text batch (de's) is warm-up
    assert [sp["languages"][c]["texts_per_s"]["amount"] for c in ("de", "en", "ja")] == [32.0, 48.0, 48.0]
    assert sp["overall"]["images_per_s"]["amount"] == 48 - 16 and sp["overall"]["texts_per_s"]["amount"] == 128
    for f in sp["overall"].values():
        assert f["value"] == pytest.approx(f["amount"] / f["seconds"], rel=1e-4) and f["value"] > 0
    cached = json.loads((timed_runs / "cached" / "results.json").read_text())["tasks"]["probe_retrieval"]
    assert "speed" not in cached  # nothing was timed: no figures from the cache
    code, out, _ = cli(capsys, "report", timed_runs / "base")
    assert code == 0 and "texts_per_s (texts/s)" in out and "speed on cpu (" in out


def _with_speed(src, dst, factor=1.0, device=None):
    shutil.copytree(src, dst)
    p = dst / "results.json"
    r = json.loads(p.read_text())
    sp = r["tasks"]["probe_retrieval"]["speed"]
    for f in sp["overall"].values():
        f["value"] *= factor
    if device:
        sp["device"] = device
    p.write_text(json.dumps(r))
    return dst


def test_compare_gates_on_speed_with_a_tolerance(timed_runs, tmp_path, capsys):
    base = timed_runs / "base"
    slow = _with_speed(base, tmp_path / "slow", factor=0.7)  # 30% fewer images and texts a second
    code, out, _ = cli(capsys, "compare", base, slow, "--speed-tolerance", "0.2")
    last = out.strip().splitlines()[-1]
    assert code == 1 and "speed FAIL: 2 figure(s)" in last and "probe_retrieval/texts_per_s (-30.0%)" in last
    code, out, _ = cli(capsys, "compare", base, slow, "--speed-tolerance", "0.35")
    assert code == 0 and "speed PASS" in out.strip().splitlines()[-1]
    code, out, _ = cli(capsys, "compare", base, slow)  # no tolerance: speed is not gated
    assert code == 0 and "speed" not in out.strip().splitlines()[-1]
    other = _with_speed(base, tmp_path / "gpu", device="cuda:0 (NVIDIA H100)")
    code, _, err = cli(capsys, "compare", base, other, "--speed-tolerance", "0.2")
    assert code == 2 and "different devices" in err
    code, out, _ = cli(capsys, "compare", base, timed_runs / "cached", "--speed-tolerance", "0.2")
    assert code == 0 and "timed no model call" in out
    code, _, err = cli(capsys, "compare", base, slow, "--speed-tolerance", "-1")
    assert code == 2


def test_a_model_loaded_inside_a_timed_call_is_not_model_time():
    import time

    from mmx.cache import OutputCache, cached_map
    from mmx.speed import loading_took

    m = SpeedMeter(warm={"op"})

    def fn(batch):
        time.sleep(0.06)
        loading_took(0.05)  # what mmx/runner.py LazyModel reports when it loads inside the first call
        return batch

    t0 = time.perf_counter()
    cached_map(fn, [1, 2], ["a", "b"], "ns", batch_size=2, cache=OutputCache(enabled=False),
               timer=m.timer("op", "texts_per_s", "en"))
    wall = time.perf_counter() - t0
    secs = m.section("cpu", 1)["languages"]["en"]["texts_per_s"]["seconds"]
    assert 0 < secs <= wall - 0.05


def test_a_damaged_speed_section_is_a_clear_error(timed_runs, tmp_path, capsys):
    bad = tmp_path / "bad"
    shutil.copytree(timed_runs / "base", bad)
    r = json.loads((bad / "results.json").read_text())
    r["tasks"]["probe_retrieval"]["speed"] = {"device": "cpu"}
    (bad / "results.json").write_text(json.dumps(r))
    for args in (("compare", timed_runs / "base", bad, "--speed-tolerance", "0.2"), ("report", bad)):
        code, _, err = cli(capsys, *args)
        assert code == 2 and "damaged speed section" in err and "overall: Field required" in err
