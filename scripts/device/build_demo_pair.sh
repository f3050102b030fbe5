#!/bin/bash
# Runs on the GPU host (see docs/DEMO.md). Needs the split MLX CUDA wheels in
# .whlB (+ /tmp/part.aa from an earlier call), the corpus in .work/corpus and
# the tokenizer in .work/tok4k. Arguments: those of build_demo_pair.py (or of SCRIPT, e.g.
# SCRIPT=sweep_demo_targets.py).
set -o pipefail
source scripts/device/mlx_cuda_env.sh
python3 -c "import mlx.core as mx; print(mx.default_device(), mx.__version__)" || exit 1
timeout ${BUILD_TIMEOUT:-560} python3 scripts/device/${SCRIPT:-build_demo_pair.py} "$@" 2>&1 | tee $OUT/build.log
