#!/bin/bash
# Runs on the GPU host (see docs/DEMO.md). Needs the split MLX CUDA wheels in
# .whlB (+ /tmp/part.aa from an earlier call), the corpus in .work/corpus and
# the tokenizer in .work/tok4k. Arguments: those of build_demo_pair.py (or of SCRIPT, e.g.
# SCRIPT=sweep_demo_targets.py).
set -o pipefail
WHL=/tmp/mlx_cuda_13-0.32.4-py3-none-manylinux_2_35_x86_64.whl
if [ ! -d /tmp/site/mlx ]; then
  cat /tmp/part.aa .whlB/part.ab > $WHL || exit 1
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site $WHL .whlB/mlx-0.32.4-*.whl .whlB/mlx_lm-*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
python3 -c "import mlx.core as mx; print(mx.default_device(), mx.__version__)" || exit 1
timeout ${BUILD_TIMEOUT:-560} python3 scripts/device/${SCRIPT:-build_demo_pair.py} "$@" 2>&1 | tee $OUT/build.log
