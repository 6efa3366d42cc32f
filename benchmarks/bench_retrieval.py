"""Retrieval speed: mmx against CLIP_benchmark's own retrieval evaluation and a bare hand-written loop.

All three encode the same images and captions with the same open_clip model (same weights, same
preprocess, same tokenizer), in the same batch size on the same device, and rank every caption against
every image. Model loading is excluded from all three. Timed interleaved (benchmarks/timing.compare).

- mmx: ``mmx.runner.evaluate`` on a retrieval task over the scaled probe set (``--model open_clip:DIR``,
  cache off): includes data loading, image decoding, per-sample records (JSONL, fsync), truncation flags,
  tie-aware recall, aggregation with bootstrap CIs and results.json.
- clip_benchmark: the installed ``clip_benchmark`` package's ``metrics.zeroshot_retrieval.evaluate``, fed the
  way its CLI feeds it (``clip_benchmark eval --task zeroshot_retrieval --dataset xtd10 --language L``):
  its ``XTD10`` dataset class over an annotation file per language (transform = the model's preprocess), a
  torch DataLoader with its ``image_captions_collate_fn`` and ``--num_workers`` (CLI default 4), amp only on
  CUDA (as ``--no_amp`` on CPU, where mmx runs float32). One evaluation per language, as its CLI runs them,
  so the images are encoded once per language.
- bare loop: decode, preprocess, encode images once; per language tokenise and encode the captions, score
  and take the argmax. Nothing else (no records, no recall, no CIs).

Models: ``tiny`` (the tests' tiny open_clip, mmx.models.tiny) and ``b32`` (open_clip ViT-B-32 with RANDOM
weights, open_clip.create_model("ViT-B-32", pretrained=None), saved as open_clip's hub layout so mmx's
open_clip adapter loads it). Recall@1/5/10 of mmx and clip_benchmark are printed side by side.

Data: the 48-image probe set repeated ``--scale`` times; each copy's image gets a small coloured mark and
its caption a copy number, so no two images or captions are identical (exact score ties would make
CLIP_benchmark's recall depend on data order while mmx's is tie-aware, and the numbers could not be
compared).

    python benchmarks/bench_retrieval.py                     # both models, default sizes (~2-3 min on 2 cores)
    python benchmarks/bench_retrieval.py --models tiny --scale 20 --repeats 5
    python benchmarks/bench_retrieval.py --models b32 --b32-scale 4 --b32-languages 15 --device cuda
    python benchmarks/bench_retrieval.py --profile           # cProfile of one mmx run on the tiny model
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

# CLIP_benchmark's CLI default of 4 DataLoader workers on a 2-core machine: torch warns once per loader
warnings.filterwarnings("ignore", message="This DataLoader will create")
os.environ.setdefault("TQDM_DISABLE", "1")  # clip_benchmark's progress bars (mmx runs with progress=False)

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from timing import compare, print_table  # noqa: E402

from mmx.runner import EvalRequest, evaluate  # noqa: E402

KS = (1, 5, 10)


def scaled_probe(out: Path, scale: int, n_languages: int = 0) -> Path:
    """The probe set repeated `scale` times, each copy's images and captions made distinct (see the docstring)."""
    from PIL import Image

    src = ROOT / "assets" / "probe"
    obj = json.loads((src / "captions.json").read_text())
    if n_languages:
        obj["captions"] = dict(list(obj["captions"].items())[:n_languages])
    (out / "images").mkdir(parents=True)
    images, caps = [], {lang: [] for lang in obj["captions"]}
    for r in range(scale):
        for i, name in enumerate(obj["images"]):
            new = f"r{r}_{Path(name).stem}.png"
            im = Image.open(src / "images" / name).convert("RGB")
            if r:  # copy r: an 8x8 mark whose colour encodes r, in the top left corner
                im.paste((37 * r % 256, 91 * r % 256, 173 * r % 256), (0, 0, 8, 8))
            im.save(out / "images" / new)
            images.append(new)
            for lang in caps:
                caps[lang].append([c if not r else f"{c} {r}" for c in obj["captions"][lang][i]])
    (out / "captions.json").write_text(json.dumps({"images": images, "captions": caps}, ensure_ascii=False))
    (out / "task.yaml").write_text(
        "task: bench_probe\nkind: retrieval\n"
        f"dataset: {{loader: caption_json, path: {out}/captions.json, images: {out}/images}}\n"
        "metrics: [t2i_r1, t2i_r5, t2i_r10, i2t_r1, i2t_r5, i2t_r10]\n")
    # CLIP_benchmark's XTD10 annotation files, one per language (its CLI writes them once, before evaluating)
    for lang, cl in caps.items():
        if any(len(c) != 1 for c in cl):
            raise SystemExit("the XTD10 layout takes exactly one caption per image")
        (out / f"xtd10-{lang}.json").write_text(json.dumps(
            {"image_paths": [str(out / "images" / n) for n in images], "annotations": [c[0] for c in cl]},
            ensure_ascii=False))
    return out


def build_b32(out: Path, arch: str = "ViT-B-32") -> str:
    """open_clip ViT-B-32 (or another `arch`) with random weights, in open_clip's hub layout (config +
    safetensors)."""
    import open_clip
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
    from safetensors.torch import save_file

    from mmx.models.base import mark_random_weights

    out.mkdir(parents=True)
    torch.manual_seed(0)
    model = open_clip.create_model(arch, pretrained=None)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / "open_clip_model.safetensors"))
    preprocess = {"mean": list(OPENAI_DATASET_MEAN), "std": list(OPENAI_DATASET_STD),
                  "interpolation": "bicubic", "resize_mode": "shortest"}
    (out / "open_clip_config.json").write_text(json.dumps(
        {"model_cfg": open_clip.get_model_config(arch), "preprocess_cfg": preprocess}, indent=1))
    mark_random_weights(out, how=f"benchmarks/bench_retrieval.py build_b32 (open_clip {arch}, pretrained=None)")
    return str(out)


def load_open_clip(folder: str, device: str):
    """The same model, preprocess and tokenizer mmx's open_clip adapter builds from the folder."""
    import open_clip

    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{folder}", device=device)
    return model.eval(), preprocess, open_clip.get_tokenizer(f"local-dir:{folder}")


def _autocast(device: str):
    return torch.autocast("cuda", dtype=torch.float16) if device.startswith("cuda") else torch.autocast("cpu", enabled=False)


def bare_loop(model, preprocess, tokenizer, data: Path, batch: int, device: str) -> None:
    from PIL import Image

    obj = json.loads((data / "captions.json").read_text())
    norm = torch.nn.functional.normalize
    with torch.inference_mode(), _autocast(device):
        img = []
        for i in range(0, len(obj["images"]), batch):
            ims = [preprocess(Image.open(data / "images" / n).convert("RGB")) for n in obj["images"][i:i + batch]]
            img.append(norm(model.encode_image(torch.stack(ims).to(device)).float(), dim=-1).cpu())
        img = torch.cat(img)
        for caps in obj["captions"].values():
            texts = [c for cl in caps for c in cl]
            txt = [norm(model.encode_text(tokenizer(texts[i:i + batch]).to(device)).float(), dim=-1).cpu()
                   for i in range(0, len(texts), batch)]
            s = torch.cat(txt) @ img.T
            _ = (s.argmax(1), s.T.argmax(1))


def clip_benchmark_run(model, preprocess, tokenizer, data: Path, langs: list[str], batch: int, device: str,
                       workers: int) -> dict[str, dict[str, float]]:
    """One `clip_benchmark eval --dataset xtd10 --language L` per language, minus model loading."""
    from clip_benchmark.datasets.builder import image_captions_collate_fn
    from clip_benchmark.datasets.xtd10 import XTD10
    from clip_benchmark.metrics import zeroshot_retrieval

    out = {}
    for lang in langs:
        ds = XTD10(root=str(data), ann_file=str(data / f"xtd10-{lang}.json"), transform=preprocess)
        dl = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=False, num_workers=workers,
                                         collate_fn=image_captions_collate_fn)
        out[lang] = zeroshot_retrieval.evaluate(model, dl, tokenizer, device=device, amp=device.startswith("cuda"),
                                                recall_k_list=list(KS))
    return out


def mmx_run(spec: str, data: Path, tmp: Path, batch: int, device: str, counter: list[int]) -> tuple[float, dict]:
    counter[0] += 1
    args = {"dtype": "float16"} if device.startswith("cuda") else {}  # clip_benchmark's amp is float16
    req = EvalRequest(model=spec, model_args=args, tasks=[str(data / "task.yaml")], batch_size=batch, device=device,
                      output=tmp / f"run{counter[0]}", progress=False, cache=False)
    t0 = time.perf_counter()
    res = evaluate(req)
    dt = time.perf_counter() - t0 - res["run"]["model_load_s"]
    shutil.rmtree(tmp / f"run{counter[0]}", ignore_errors=True)
    return dt, res


def check_recalls(res: dict, peer: dict[str, dict[str, float]]) -> None:
    """Print mmx's and CLIP_benchmark's recalls per language and how many of them agree."""
    langs = res["tasks"]["bench_probe"]["languages"]
    names = {"t2i": "image_retrieval_recall@{}", "i2t": "text_retrieval_recall@{}"}
    agree = total = 0
    worst = 0.0
    rows = []
    for lang, p in peer.items():
        ours = langs[lang]["metrics"]
        cells = []
        for d, pat in names.items():
            for k in KS:
                a, b = ours[f"{d}_r{k}"], p[pat.format(k)]
                total += 1
                agree += abs(a - b) < 1e-6
                worst = max(worst, abs(a - b))
                cells.append(f"{a:.3f}/{b:.3f}")
        rows.append(f"  {lang:<4} " + " ".join(cells))
    print("recall, mmx/clip_benchmark:      " + " ".join(f"{d}_r{k:<6}" for d in names for k in KS))
    print("\n".join(rows[:4] + (["  ..."] if len(rows) > 4 else [])))
    print(f"recalls equal (|diff| < 1e-6): {agree} of {total}; largest difference {worst:.2e}")


def bench(label: str, spec_dir: str, args, scale: int, n_langs: int, tmp: Path, repeats: int) -> dict[str, float]:
    data = scaled_probe(tmp / f"data-{label}", scale, n_langs)
    obj = json.loads((data / "captions.json").read_text())
    langs = list(obj["captions"])
    n_img, n_cap = len(obj["images"]), sum(len(c) for cl in obj["captions"].values() for c in cl)
    model, preprocess, tokenizer = load_open_clip(spec_dir, args.device)
    counter = [0]
    last: dict = {}
    peer: dict = {}

    def run_mmx() -> float:
        dt, last["res"] = mmx_run(f"open_clip:{spec_dir}", data, tmp, args.batch_size, args.device, counter)
        return dt

    def run_peer() -> None:
        peer.update(clip_benchmark_run(model, preprocess, tokenizer, data, langs, args.batch_size, args.device,
                                       args.workers))

    systems = {"mmx": run_mmx, f"clip_benchmark (workers {args.workers})": run_peer,
               "bare loop": lambda: bare_loop(model, preprocess, tokenizer, data, args.batch_size, args.device)}
    if args.mmx_only:  # benchmarks/gpu.sh: the GPU's utilisation while mmx alone runs
        systems = {"mmx": run_mmx}
    times = compare(systems, repeats=repeats, warmup=1)
    print(f"\nmodel {label}: {spec_dir}, device {args.device}, batch {args.batch_size}; data: {n_img} images x "
          f"{len(langs)} languages = {n_cap} captions")
    ratios = print_table(f"retrieval, open_clip {label} (mmx: model load excluded)", times, work=n_img + n_cap,
                         unit="images+captions")
    if peer:
        check_recalls(last["res"], peer)
    return ratios


def profile(tmp: Path, args) -> None:
    import cProfile
    import pstats

    from mmx.models.tiny import build_tiny_open_clip

    big = "tiny" not in args.models.split(",")  # --models b32 [--arch A]: profile that model, not the tiny one
    spec_dir = build_b32(tmp / "b32", args.arch) if big else build_tiny_open_clip(tmp / "tiny")
    data = scaled_probe(tmp / "data-prof", args.b32_scale if big else args.scale,
                        args.b32_languages if big else args.languages)
    counter = [0]
    mmx_run(f"open_clip:{spec_dir}", data, tmp, args.batch_size, args.device, counter)  # warm-up
    pr = cProfile.Profile()
    pr.enable()
    dt, res = mmx_run(f"open_clip:{spec_dir}", data, tmp, args.batch_size, args.device, counter)
    pr.disable()
    print(f"mmx run {dt:.3f} s (model load {res['run']['model_load_s']} s excluded)")
    speed = res["tasks"]["bench_probe"].get("speed", {})
    print("speed of the model calls: " + ", ".join(f"{k} {v['value']:.0f} ({v['amount']:.0f} in {v['seconds']:.3f} s)"
                                               for k, v in speed.get("overall", {}).items()))
    pstats.Stats(pr).sort_stats("cumulative").print_stats(args.profile_rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="tiny,b32", help="comma list of tiny, b32 (default both)")
    ap.add_argument("--model-dir", help="also time this open_clip folder (open_clip_config.json + weights)")
    ap.add_argument("--scale", type=int, default=10, help="tiny model: repeat the 48-image probe set N times")
    ap.add_argument("--languages", type=int, default=0, help="tiny model: first N languages (0: all 15)")
    ap.add_argument("--b32-scale", type=int, default=1, help="ViT-B/32 (and --model-dir): probe set repeats")
    ap.add_argument("--b32-languages", type=int, default=2, help="ViT-B/32 (and --model-dir): first N languages")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--b32-repeats", type=int, default=2, help="timed rounds for ViT-B/32 (and --model-dir)")
    ap.add_argument("--arch", default="ViT-B-32", help="the open_clip architecture built with random weights for "
                    "'b32' (e.g. ViT-L-14: a model large enough to keep a GPU busy)")
    ap.add_argument("--workers", type=int, default=4, help="clip_benchmark's DataLoader workers (its CLI default 4)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch.set_num_threads for every system (0: torch's default). On a shared machine, "
                         "1 keeps torch's threads from stalling on each other: steadier figures")
    ap.add_argument("--profile", action="store_true",
                    help="cProfile one mmx run instead (the tiny model; with --models b32, that model)")
    ap.add_argument("--profile-rows", type=int, default=45)
    ap.add_argument("--mmx-only", action="store_true", help="time mmx alone (benchmarks/gpu.sh samples the GPU then)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}; load: {os.getloadavg()[0]:.2f}")
    tmp = Path(tempfile.mkdtemp(prefix="mmx-bench-retrieval-"))
    try:
        if args.profile:
            return profile(tmp, args)
        from mmx.models.tiny import build_tiny_open_clip

        models = [m.strip() for m in args.models.split(",") if m.strip()]
        summary = {}
        if "tiny" in models:
            summary["tiny"] = bench("tiny", build_tiny_open_clip(tmp / "tiny"), args, args.scale, args.languages, tmp,
                                    args.repeats)
        if "b32" in models:
            summary[args.arch] = bench(f"{args.arch} (random weights)", build_b32(tmp / "b32", args.arch), args,
                                       args.b32_scale, args.b32_languages, tmp, args.b32_repeats)
        if args.model_dir:
            summary["given"] = bench("given", args.model_dir, args, args.b32_scale, args.b32_languages, tmp,
                                     args.b32_repeats)
        print("\nsummary, time / mmx (above 1: mmx faster):")
        for label, r in summary.items():
            print(f"  {label:<10} " + "  ".join(f"{k}: {v:.2f}" for k, v in r.items() if k != "mmx"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
