"""The CUDA paths, on a GPU: they skip without one (CI has none; `benchmarks/gpu.sh` runs them first on a lent
GPU). Each compares the GPU path with the CPU one on the same inputs."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from skip_policy import needs_gpu

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason=needs_gpu("the CUDA paths"))


@pytest.fixture(scope="module")
def open_clip_dir(tmp_path_factory) -> str:
    from mmx.models.tiny import build_tiny_open_clip

    return build_tiny_open_clip(tmp_path_factory.mktemp("oc") / "m")


def _images(n: int = 12) -> list:
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (40 + 7 * i, 56, 3), dtype=np.uint8)) for i in range(n)]


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_open_clip_on_cuda_sends_uint8_and_matches_cpu(open_clip_dir, dtype):
    from mmx.models.clip import OpenClip

    cpu = OpenClip(open_clip_dir, device="cpu")
    gpu = OpenClip(open_clip_dir, device="cuda", dtype=dtype)
    ims = _images()
    prepared = [gpu.prepare_image(im) for im in ims]
    assert all(p.dtype == torch.uint8 for p in prepared)  # scaled and normalised on the GPU (_uint8_split)
    ref = cpu.encode_images(ims)
    got = gpu.encode_images(prepared)
    assert got.device.type == "cpu" and got.dtype == torch.float32
    cos = (ref * got).sum(-1)
    assert cos.min() > (0.9999 if dtype == "float32" else 0.99), cos
    texts = ["a red square", "zwei blaue Dreiecke", "一只猫", "x " * 40]
    cos_t = (cpu.encode_texts(texts) * gpu.encode_texts(texts)).sum(-1)
    assert cos_t.min() > (0.9999 if dtype == "float32" else 0.99), cos_t


def test_retrieval_run_on_cuda_names_the_gpu_and_agrees_with_cpu(open_clip_dir, tmp_path):
    from mmx.runner import EvalRequest, evaluate

    res = {}
    for dev in ("cpu", "cuda"):
        req = EvalRequest(model=f"open_clip:{open_clip_dir}", tasks=["probe_retrieval"], languages=["en", "de", "zh"],
                          device=dev, output=tmp_path / dev, progress=False, cache=False, batch_size=16)
        res[dev] = evaluate(req)["tasks"]["probe_retrieval"]
    speed = res["cuda"]["speed"]
    assert speed["device"].startswith("cuda") and torch.cuda.get_device_name(0) in speed["device"]
    for lang, m in res["cpu"]["languages"].items():
        for k, v in m["metrics"].items():
            assert abs(res["cuda"]["languages"][lang]["metrics"][k] - v) <= 0.05, (lang, k)


def test_whisper_features_on_cuda_match_the_cpu_extractor():
    from transformers import WhisperFeatureExtractor

    from mmx.models.speech import whisper_features

    fe = WhisperFeatureExtractor(feature_size=80)
    rng = np.random.default_rng(0)
    pieces = [(0.1 * rng.standard_normal(int(16000 * s))).astype(np.float32) for s in (1.0, 2.7, 0.4)]
    ref = fe(pieces, sampling_rate=16000, return_tensors="pt", return_attention_mask=True)
    feats, mask = whisper_features(fe, pieces, "cuda")
    assert torch.equal(mask.cpu(), ref.attention_mask)
    assert torch.allclose(feats.cpu().float(), ref.input_features, atol=1e-3)


def test_hf_whisper_on_cuda_transcribes_like_cpu(tmp_path):
    from mmx.models.speech import HFWhisper
    from mmx.models.tiny_speech import build_tiny_whisper

    d = build_tiny_whisper(tmp_path / "w")
    rng = np.random.default_rng(1)
    waves = [(0.1 * rng.standard_normal(int(16000 * s))).astype(np.float32) for s in (1.0, 2.0, 3.0)]
    cpu = HFWhisper(d, device="cpu").transcribe(waves, 16000, "en")
    gpu = HFWhisper(d, device="cuda", dtype="float32").transcribe(waves, 16000, "en")
    assert len(gpu) == len(cpu) == 3 and all(isinstance(t, str) for t in gpu)
    assert sum(a == b for a, b in zip(cpu, gpu)) >= 2  # random weights: a near-tie may flip one greedy step
