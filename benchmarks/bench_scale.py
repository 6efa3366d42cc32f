"""Sharded scaling: `torchrun --nproc-per-node N -m mmx evaluate` against one process, measured fairly, and the
rerun-from-cache time. Prints figures through timing.print_table; asserts nothing.

Fair on a CPU: every rank gets the same number of threads as the single process (default 1: on this 2-core
machine 2 ranks x 1 thread against 1 process x 1 thread), so the speed-up is what sharding gives, not what
extra threads give. On GPUs (`--device cuda --nproc N`) each rank takes its own GPU (cuda:LOCAL_RANK) and the
single process one GPU. Both sides are the full CLI command (Python start, imports, model load included)
and also the task time alone (results.json's seconds_this_session less model_load_s: data, model calls,
records), the part sharding divides; start-up and the model load are paid once per rank, in parallel.

    python benchmarks/bench_scale.py [--model b32|tiny|SPEC] [--scale 2] [--languages 3] [--nproc 2]
                                     [--threads 1] [--device cpu] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_retrieval import build_b32, scaled_probe  # noqa: E402
from timing import compare, print_table  # noqa: E402

from mmx.models.tiny import build_tiny  # noqa: E402


def run_cli(argv: list[str], env: dict, out: Path, task_times: list[float]) -> float:
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    p = subprocess.run(argv + ["--output", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    wall = time.perf_counter() - t0
    if p.returncode:
        raise SystemExit(f"{' '.join(argv)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    res = json.loads((out / "results.json").read_text())
    # the task's time less the model load (the lazy model loads inside the task, on every rank at once)
    task_times.append(next(iter(res["tasks"].values()))["seconds_this_session"] - res["run"]["model_load_s"])
    return wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="b32", help="b32 (open_clip ViT-B-32, random weights), tiny (a tiny hf-clip), or a model spec")
    ap.add_argument("--scale", type=int, default=2, help="probe set repeats (48 images each)")
    ap.add_argument("--languages", type=int, default=3, help="first N probe languages")
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="torch threads of each process (single and each rank)")
    ap.add_argument("--batch-size", type=int, default=16, help="96 images or captions: 6 batches a call, 3 a rank")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mmx-scale-"))
    try:
        if args.model == "b32":
            model = f"open_clip:{build_b32(tmp / 'model')}"
        elif args.model == "tiny":
            model = build_tiny("hf-clip", tmp / "model")
        else:
            model = args.model
        data = scaled_probe(tmp / "data", args.scale, args.languages)
        task = str(data / "task.yaml")
        env = {**os.environ, "MMX_CACHE_DIR": str(tmp / "cache"), "OMP_NUM_THREADS": str(args.threads),
               "MKL_NUM_THREADS": str(args.threads)}
        mmx = [sys.executable, "-m", "mmx", "evaluate", "--tasks", task, "--model", model, "--device", args.device,
               "--batch-size", str(args.batch_size), "--no-progress"]
        torchrun = [str(Path(sys.executable).with_name("torchrun")), "--nproc-per-node", str(args.nproc), "-m", "mmx",
                    *mmx[3:]]
        single_t: list[float] = []
        shard_t: list[float] = []
        times = compare({
            "1 process": lambda: run_cli(mmx + ["--no-cache"], env, tmp / "single", single_t),
            f"torchrun x{args.nproc}": lambda: run_cli(torchrun + ["--no-cache"], env, tmp / "sharded", shard_t),
        }, repeats=args.repeats, warmup=0)
        n_img = len(json.loads((data / "captions.json").read_text())["images"])
        title = (f"sharded scaling, {model.split(':')[0]} on {n_img} images x {args.languages} languages, "
                 f"{args.device}, {args.threads} thread(s) per process, CLI wall time")
        print_table(title, times, work=n_img, unit="images", baseline=f"torchrun x{args.nproc}")
        sp = print_table("the same, task time only (results.json seconds_this_session less model_load_s: no "
                         "Python start-up, imports or model load)",
                         {"1 process": single_t, f"torchrun x{args.nproc}": shard_t}, work=n_img, unit="images",
                         baseline=f"torchrun x{args.nproc}")["1 process"]  # medians' ratio, as the table shows
        print(f"speed-up of the task time: {sp:.2f} on {args.nproc} ranks (ideal {args.nproc}; efficiency "
              f"{100 * sp / args.nproc:.0f}%)")
        # Rerun from the output cache: the model is not even loaded.
        run_cli(mmx, env, tmp / "cold", [])
        warm: list[float] = []
        wall = run_cli(mmx, env, tmp / "warm", warm)
        print(f"rerun from the output cache into a new run directory: {wall:.2f} s CLI wall, "
              f"{warm[0]:.2f} s task time")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
