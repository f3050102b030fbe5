#!/bin/bash
# Retrains the shipped demo draft from the documented commands (docs/DEMO.md) on the GPU host and
# measures it against the shipped one on the 80 held-out prompts: the trainer's reproduction check.
# Needs /tmp/site from an earlier call (scripts/device/build_demo_pair.sh installs it) or .whlB + /tmp/part.aa,
# and .work/corpus carried. TIME_BUDGET (default 250) is the draft's training time in seconds.
set -o pipefail
source scripts/device/mlx_cuda_env.sh
{
  python3 -m dflash_tui.train.novel_prompts --corpus .work/corpus --novel 50000 --corpus-questions 27000 \
    --out /tmp/prompts.jsonl &&
  python3 -m dflash_tui.cli train-draft --target dflash_tui/demo/target --generate-from /tmp/prompts.jsonl \
    --max-answer-tokens 160 --out /tmp/repro-draft --layers 2 --taps 1,2,3 --intermediate-size 512 \
    --batch-size 64 --seq-len 384 --blocks-per-row 32 --lr 3e-3 --warmup 200 --steps 100000 --loss distill --time-budget ${TIME_BUDGET:-250} \
    --target-dtype float32 --warm-start &&
  for d in /tmp/repro-draft dflash_tui/demo/draft; do
    echo "held-out tau of $d:"
    python3 -m dflash_tui.train.evaluate --target dflash_tui/demo/target --draft $d \
      --prompts dflash_tui/demo/heldout_prompts.jsonl --max-tokens 128
  done
} 2>&1 | tee $OUT/reproduce.log
mkdir -p $OUT/draft && cp /tmp/repro-draft/config.json /tmp/repro-draft/model.safetensors $OUT/draft/
