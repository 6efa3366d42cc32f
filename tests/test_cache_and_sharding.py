"""Output cache (reruns cost no model call) and sharded runs (torchrun, gloo, 2 processes on CPU)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mmx.cache import OutputCache, cached_map, model_key
from mmx.models.tiny import build_tiny
from mmx.runner import EvalRequest, evaluate


def test_cache_round_trip_and_namespaces(tmp_path):
    c = OutputCache(tmp_path)
    c.put_many("m1|emb", {"a": np.arange(3, dtype=np.float32), "b": np.ones(2, dtype=np.float32)})
    c.put_many("m1|text", {"a": "hello", "z": {"k": [1, 2]}})
    got = c.get_many("m1|emb", ["a", "b", "c"])
    assert set(got) == {"a", "b"} and got["a"].dtype == np.float32 and got["a"].tolist() == [0, 1, 2]
    assert c.get_many("m1|text", ["a", "z"]) == {"a": "hello", "z": {"k": [1, 2]}}
    assert c.get_many("m2|emb", ["a"]) == {}  # another model never sees m1's outputs
    c.close()
    assert OutputCache(tmp_path).get_many("m1|emb", ["b"])["b"].tolist() == [1, 1]  # persisted
    off = OutputCache(tmp_path, enabled=False)
    off.put_many("m1|emb", {"q": np.zeros(1)})
    assert off.get_many("m1|emb", ["a"]) == {}


def test_cached_map_calls_the_model_for_misses_only(tmp_path):
    c = OutputCache(tmp_path)
    calls = []

    def fn(batch):
        calls.append(list(batch))
        return [x * 10 for x in batch]

    items = [1, 2, 3, 4, 5]
    keys = [str(i) for i in items]
    assert cached_map(fn, items, keys, "ns", 2, c) == [10, 20, 30, 40, 50]
    assert calls == [[1, 2], [3, 4], [5]]
    calls.clear()
    assert cached_map(fn, [5, 6, 1], ["5", "6", "1"], "ns", 2, c) == [50, 60, 10]
    assert calls == [[6]]
    # sort_key groups items into batches; outputs come back in input order.
    calls.clear()
    out = cached_map(fn, ["ccc", "a", "bb", "dddd"], ["k1", "k2", "k3", "k4"], "ns2", 2, c, sort_key=len)
    assert out == ["ccc" * 10, "a" * 10, "bb" * 10, "dddd" * 10] and calls == [["a", "bb"], ["ccc", "dddd"]]


def test_out_of_memory_halves_the_batch(tmp_path):
    sizes = []

    def fn(batch):
        sizes.append(len(batch))
        if len(batch) > 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return [x + 1 for x in batch]

    out = cached_map(fn, list(range(8)), [str(i) for i in range(8)], "ns", 8, OutputCache(tmp_path, enabled=False))
    assert out == list(range(1, 9))
    assert sizes == [8, 4, 2, 2, 4, 2, 2]

    # Timed per successful call: each half with its own amount (a generator's counts are per call), the failed
    # attempts not at all. Amounts as a model that reports its last call's work would give them.
    from mmx.speed import SpeedMeter

    meter, last = SpeedMeter(), {}

    def counting(batch):
        if len(batch) > 2:
            raise RuntimeError("CUDA out of memory")
        last["tokens"] = 10 * len(batch)
        return batch

    timer = meter.timer("gen", None, "en", amount=lambda i, o: {"generated_tokens_per_s": (last["tokens"], None)})
    cached_map(counting, list(range(8)), [str(i) for i in range(8)], "ns2", 8, OutputCache(tmp_path, enabled=False),
               timer=timer)
    assert [(r.amount, r.warmup) for r in meter.rows] == [(20.0, True), (20.0, False), (20.0, False), (20.0, False)]

    def broken(batch):
        raise ValueError("shape mismatch")

    with pytest.raises(ValueError, match="shape mismatch"):  # other errors are not retried
        cached_map(broken, [1, 2], ["1", "2"], "ns3", 2, OutputCache(tmp_path, enabled=False))


def test_model_key_follows_local_weights(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    (d / "model.safetensors").write_bytes(b"1234")
    k1 = model_key(f"hf-clip:{d}", {})
    assert model_key(f"hf-clip:{d}", {}) == k1
    assert model_key(f"hf-clip:{d}", {"dtype": "bf16"}) != k1
    (d / "model.safetensors").write_bytes(b"12345")
    assert model_key(f"hf-clip:{d}", {}) != k1


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny("hf-clip", tmp_path_factory.mktemp("m") / "clip")


def _strip(res):
    return {n: {k: t[k] for k in ("languages", "overall", "gap_to_en", "n_records")} for n, t in res["tasks"].items()}


def test_rerun_from_cache_loads_no_model(tiny, tmp_path):
    kw = dict(model=tiny, suite="vision", progress=False, cache_dir=tmp_path / "cache")
    a = evaluate(EvalRequest(output=tmp_path / "a", **kw))
    assert a["run"]["model_loaded"] and a["run"]["cache_misses"] > 0
    b = evaluate(EvalRequest(output=tmp_path / "b", **kw))  # a fresh run directory, warm cache
    assert not b["run"]["model_loaded"] and b["run"]["cache_misses"] == 0 and b["run"]["cache_hits"] > 0
    assert _strip(a) == _strip(b)
    assert b["model"]["random_weights"] is True  # model info comes from the cache too
    c = evaluate(EvalRequest(output=tmp_path / "c", cache=False, **kw))
    assert c["run"]["model_loaded"] and _strip(c) == _strip(a)


def test_torchrun_two_processes_match_a_single_process(tiny, tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun is not installed next to this python")
    single = evaluate(EvalRequest(model=tiny, suite="vision", progress=False, output=tmp_path / "single",
                                  cache=False, batch_size=8))
    env = {**os.environ, "MMX_CACHE_DIR": str(tmp_path / "shard-cache"), "OMP_NUM_THREADS": "1"}
    p = subprocess.run([str(torchrun), "--nproc-per-node", "2", "--master-port", "29533", "-m", "mmx", "evaluate",
                        "--suite", "vision", "--model", tiny, "--output", str(tmp_path / "sharded"),
                        "--batch-size", "8", "--no-progress"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[:6000]
    sharded = json.loads((tmp_path / "sharded" / "results.json").read_text())
    assert sharded["run"]["world_size"] == 2
    assert _strip(sharded) == _strip(single)
    a = sorted((tmp_path / "single" / "samples" / "probe_retrieval.jsonl").read_text().splitlines())
    b = sorted((tmp_path / "sharded" / "samples" / "probe_retrieval.jsonl").read_text().splitlines())
    assert a == b
    assert p.stdout.count("probe_retrieval (retrieval)") == 1  # only rank 0 prints the table
    # speed: both ranks' timed batches pooled (each rank's first batch of an operation is its warm-up)
    sp, one = sharded["tasks"]["probe_retrieval"]["speed"], single["tasks"]["probe_retrieval"]["speed"]
    assert sp["world_size"] == 2 and one["world_size"] == 1
    n_img = 48  # 6 batches of 8, 3 per rank: 2 timed on each rank, 5 timed in the single process
    assert sp["overall"]["images_per_s"]["amount"] == n_img - 2 * 8
    assert one["overall"]["images_per_s"]["amount"] == n_img - 8
