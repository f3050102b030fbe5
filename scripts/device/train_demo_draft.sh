#!/bin/bash
# The demo draft from the documented commands (docs/DEMO.md), in stints of one GPU-host call each, and the
# reproduction check: the same commands again, measured beside the shipped draft.
#
#   STINT=1 ...  writes the prompts, the target's answers and trains until STOP_AT seconds after the call began;
#   STINT=2 ...  (the next call, machine still warm: /tmp survives) resumes; TOTAL_S is then fixed so the
#                schedule ends with this stint; FINAL=1 then measures held-out tau (greedy and T 0.7) of the
#                new draft and of the shipped one.
#
# Needs /tmp/site or .whlB + /tmp/part.aa (mlx_cuda_env.sh) and .work/corpus carried. OUT gets the draft
# (config + bf16 weights), its trainer state (to carry back if the machine was lost) and the log.
# LAYERS / INTER (default 2 / 512, the shipped shape) build a deeper or wider draft; TARGET / TAPS (default the
# shipped target, 1,2,3) train for another target; BITS=8 also writes
# OUT/draft-q8, the weights stored at 8 bits (a 3- or 4-layer draft fits the 12 MB pair budget only so).
set -o pipefail
STARTED=$SECONDS
source scripts/device/mlx_cuda_env.sh
W=${WORKDIR:-/tmp/demo-draft}
# Training ends STOP_AT seconds into the call: 555 leaves time to copy the checkpoint out; a FINAL stint also
# evaluates four times (session 4: loading 217k answers took about a minute and 470 left too little for that).
STOP_AT=${STOP_AT:-$([ -n "$FINAL" ] && echo 380 || echo 555)}
P=dflash_tui/demo/heldout_prompts.jsonl
{
  if [ "${STINT:-1}" = 1 ]; then
    rm -rf $W
    python3 -m dflash_tui.train.novel_prompts --corpus .work/corpus --novel ${NOVEL:-150000} \
      --corpus-questions ${CORPUS_Q:-27000} --out $W.prompts.jsonl || exit 1
    RESUME=""
    BUDGET=${TOTAL_S:-1000}
  else
    RESUME="--resume $W"
    DONE=$(python3 -c "import json; print(json.load(open('$W/trainer/state.json'))['elapsed_s'])") || exit 1
    BUDGET=$(python3 -c "print(round($DONE + $STOP_AT - ($SECONDS - $STARTED) - 20))")
  fi
  echo "stint ${STINT:-1}: schedule ${BUDGET}s in all"
  python3 -m dflash_tui.train.cli_commands train-draft --target ${TARGET:-dflash_tui/demo/target} --generate-from $W.prompts.jsonl \
    --max-answer-tokens 160 --sampled-answers ${SAMPLED:-40000} --out $W $RESUME --layers ${LAYERS:-2} --taps ${TAPS:-1,2,3} \
    --intermediate-size ${INTER:-512} --batch-size 64 --seq-len 384 --blocks-per-row 32 --lr 3e-3 --warmup 200 \
    --steps 1000000 --loss distill --time-budget $BUDGET --stop-after $((STOP_AT - (SECONDS - STARTED))) \
    --target-dtype float32 --warm-start --seed ${SEED:-0} --eval-every 1000000 || exit 1
  cat $W/trainer/state.json
  mkdir -p $OUT/draft $OUT/trainer  # before the evaluation, which may run out of the call's time
  cp $W/config.json $W/model.safetensors $OUT/draft/ && cp $W/trainer/* $OUT/trainer/
  if [ -n "$BITS" ]; then
    python3 -m dflash_tui.train.quantize_draft $W $OUT/draft-q$BITS --bits $BITS || exit 1
  fi
  if [ -n "$FINAL" ]; then
    for d in $W $([ -z "$TARGET" ] && echo dflash_tui/demo/draft); do  # the shipped draft fits only its target
      for t in 0 0.7; do
        echo "held-out tau of $d at temperature $t:"
        python3 -m dflash_tui.train.evaluate --target ${TARGET:-dflash_tui/demo/target} --draft $d --prompts $P \
          --max-tokens 128 --temperature $t --seed 0
      done
    done
  fi
} 2>&1 | tr '\r' '\n' | grep -v '^$' | tee $OUT/train.log
