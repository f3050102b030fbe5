#!/bin/bash
# Two runs of train_demo_draft.sh at once on the one GPU (a small draft's training leaves it mostly idle):
# SEED=0, the candidate to ship, and SEED=1, the reproduction check of the same documented commands.
# Untested since the fix: its first run (session 6) ran out of GPU memory while both generated answers
# (generate_answers now clears MLX's buffer cache after each chunk).
# Same variables as train_demo_draft.sh (STINT, LAYERS, INTER, BITS, ...); each run writes OUT/seedN/.
source scripts/device/mlx_cuda_env.sh  # install the wheels once, before the two start
ROOT=$OUT
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader -l 20 > $ROOT/gpu_util.log 2>&1 &
PIDS=""
for s in ${SEEDS:-0 1}; do
  mkdir -p $ROOT/seed$s
  OUT=$ROOT/seed$s SEED=$s WORKDIR=/tmp/demo-draft-seed$s bash scripts/device/train_demo_draft.sh \
    > $ROOT/seed$s/stdout.log 2>&1 &
  PIDS="$PIDS $!"
done
wait $PIDS  # not the nvidia-smi logger (a bare wait sat on it until the call's limit in session 6)
kill %1 2>/dev/null
for s in ${SEEDS:-0 1}; do echo "== seed $s"; grep -v "^generated" $ROOT/seed$s/train.log | tail -12; done
nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv
