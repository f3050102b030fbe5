#!/usr/bin/env bash
# DFlash on the GPU host: fused GatedDeltaNet kernel tests + `bench --synthetic` (9B-shaped targets).
#
# MLX's CUDA wheel is too big to travel in one call, so a fresh machine takes two calls, run from the
# repository root:
#   call 1, carry .whlA (part.aa of the split mlx-cuda-13 wheel): stages part.aa in /tmp and stops;
#   call 2, carry .whlB (part.ab + the mlx and mlx-lm wheels): installs into /tmp/site, then runs.
# A machine that already has /tmp/site/mlx runs at once. Results go to $OUT: env.txt,
# kernel_tests.txt, bench.txt, bench.json (rewritten after every context, so a timeout keeps them).
# BUDGET_S bounds the whole script (install included); the bench gets whatever the tests leave.
set -u
START=$(date +%s)
BUDGET_S=${BUDGET_S:-300}
OUT=${OUT:-/tmp/gpu_bench_out}
mkdir -p "$OUT"
SITE=${SITE:-/tmp/site}
WHEEL=/tmp/mlx_cuda_13-0.32.4-py3-none-manylinux_2_35_x86_64.whl
seconds_left() { echo $(( START + BUDGET_S - $(date +%s) - 10 )); }

if [ ! -d "$SITE/mlx" ]; then
  [ -f .whlA/part.aa ] && cp .whlA/part.aa /tmp/part.aa
  if [ ! -f /tmp/part.aa ] || [ ! -f .whlB/part.ab ]; then
    echo "stage 1 done: /tmp/part.aa staged; run again carrying .whlB"
    exit 0
  fi
  cat /tmp/part.aa .whlB/part.ab > "$WHEEL"
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" \
    "$WHEEL" .whlB/mlx-0.32.4-*.whl .whlB/mlx_lm-0.32.2-*.whl || { echo "wheel install failed"; exit 1; }
fi
# libmlx.so looks for the CUDA libraries at $ORIGIN/../../nvidia: point that at the image's pip packages.
if [ ! -e "$SITE/nvidia" ]; then
  NV=$(python3 -c 'import nvidia; print(list(nvidia.__path__)[0])' 2>/dev/null) && [ -n "$NV" ] && ln -s "$NV" "$SITE/nvidia"
fi
export PYTHONPATH="$SITE:$PWD" PYTHONUNBUFFERED=1 DFLASH_TUI_NO_OPENBLAS=1

{
  date -u
  nvidia-smi --query-gpu=name,memory.used,memory.total,utilization.gpu --format=csv
  python3 -c 'import mlx.core as mx, mlx_lm; print("mlx", mx.__version__, "mlx-lm", mlx_lm.__version__,
    mx.default_device(), "cuda", mx.cuda.is_available())'
} 2>&1 | tee "$OUT/env.txt"

if [ -z "${SKIP_TESTS:-}" ]; then
  TEST_S=$(seconds_left); [ "$TEST_S" -gt "${TEST_TIMEOUT:-100}" ] && TEST_S=${TEST_TIMEOUT:-100}
  timeout "$TEST_S" python3 -m pytest tests/gpu/test_gdn_cuda.py -q -rs -p no:cacheprovider --timeout 60 \
    -k "not compiles" 2>&1 | tee "$OUT/kernel_tests.txt"
fi

# SDPA_VARIANTS="1:2048 0:2048,512,8192" runs the bench once per MLX_CUDA_USE_CUDNN_SDPA value (read once
# per process by MLX), each with its own contexts, into bench_cudnn<V>.{txt,json}; the time left is shared
# out evenly. Unset: one run with the process's own setting, into bench.{txt,json}.
set -- ${SDPA_VARIANTS:-}
[ $# -eq 0 ] && set -- "-:${CONTEXTS:-2048,512,8192}"
while [ $# -gt 0 ]; do
  V=${1%%:*}; C=${1#*:}; NAME=bench; [ "$V" != "-" ] && NAME=bench_cudnn$V
  SHARE=$(( $(seconds_left) / $# ))
  ( [ "$V" != "-" ] && export MLX_CUDA_USE_CUDNN_SDPA=$V
    timeout "$SHARE" python3 -m dflash_tui.bench_synthetic --contexts "$C" --runs "${RUNS:-7}" ${BENCH_ARGS:-} \
      --json "$OUT/$NAME.json" ) 2>&1 | tee "$OUT/$NAME.txt"
  shift
done
echo "finished $(date -u), $(( $(date +%s) - START )) s" | tee -a "$OUT/env.txt"
