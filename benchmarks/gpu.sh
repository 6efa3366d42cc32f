#!/usr/bin/env bash
# Every benchmark with --device cuda, at several batch sizes, while nvidia-smi samples the GPU's utilisation
# and memory every 200 ms; prints each run's table and a line "utilisation mean/max, memory max" under it.
#   bash benchmarks/gpu.sh [PYTHON]        (default .venv/bin/python; needs a CUDA GPU and nvidia-smi)
# Goal (issue 14): at least 90% utilisation in retrieval and ASR at the best batch size.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${1:-.venv/bin/python}
OUT=${OUT:-$(mktemp -d)}
if ! command -v nvidia-smi >/dev/null || ! "$PY" -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
    echo "gpu.sh: no CUDA GPU here (nvidia-smi or torch.cuda missing): nothing to measure"; exit 0
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

# sampled NAME CMD...: run CMD with a 200 ms utilisation sampler around it, then summarise the samples
sampled() {
    local name=$1; shift
    local log="$OUT/$name.csv"
    nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits -lms 200 > "$log" &
    local smi=$!
    "$@"
    local rc=$?
    kill "$smi" 2>/dev/null; wait "$smi" 2>/dev/null
    "$PY" - "$log" "$name" <<'EOF'
import sys
rows = [list(map(float, ln.split(","))) for ln in open(sys.argv[1]) if ln.strip() and "," in ln]
busy = [u for u, _ in rows if u > 0] or [0.0]  # idle samples: start-up, model build, CPU-side peers
if rows:
    print(f"[gpu] {sys.argv[2]}: utilisation mean {sum(busy) / len(busy):.0f}% over {len(busy)} busy samples "
          f"(max {max(u for u, _ in rows):.0f}%), memory max {max(m for _, m in rows):.0f} MiB")
EOF
    return $rc
}

for bs in 64 256 1024; do
    sampled "retrieval-b32-bs$bs" "$PY" benchmarks/bench_retrieval.py --device cuda --models b32 \
        --b32-scale 20 --b32-languages 5 --batch-size "$bs" --repeats 3
done
for bs in 16 64 128; do
    sampled "asr-bs$bs" "$PY" benchmarks/bench_asr.py --device cuda --n 512 --batch-size "$bs" --repeats 3
done
sampled "execution" "$PY" benchmarks/bench_execution.py --workers "$(nproc)"
sampled "scale" "$PY" benchmarks/bench_scale.py --device cuda --nproc "$("$PY" -c 'import torch; print(torch.cuda.device_count())')" \
    --threads 4 --scale 10 --languages 5 --batch-size 256
echo "samples: $OUT"
