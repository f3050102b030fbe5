"""Build the embedded demo pair in one GPU session: target, its greedy answers, then its draft.

    build_demo_pair.py --target-seconds S --novel-prompts N --answer-tokens T --draft-seconds S
                       [--reuse-target DIR] [--warm-start] [--target-stop-loss L] [--answer-training-prompts N]

Run by scripts/device/build_demo_pair.sh on the GPU host (MLX CUDA). Stages:
1. pretrain the target on the corpus chats for --target-seconds, or until its train loss
   falls below --target-stop-loss (a target that has not memorised its corpus writes more
   regular text); skipped with --reuse-target, an already trained one;
2. the target's greedy answers to --novel-prompts invented prompts (novel_prompts.py) and,
   with --answer-training-prompts N, to N corpus questions too (then the corpus chats are
   left out of the draft's data: only the target's own text teaches it). Without it the
   corpus chats stand for those answers (a memorising target reproduces them exactly);
3. the draft, trained for --draft-seconds on both, then held-out tau.
Results land in OUT/target, OUT/draft and OUT/heldout_gpu.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

from dflash_tui.train import loop
from dflash_tui.train.demo_target import train_demo_target
from dflash_tui.train.evaluate import heldout_tau, load_prompts
from dflash_tui.train.novel_prompts import draft_prompts
from dflash_tui.train.self_distill import generate_answers
from dflash_tui.train.trainer import DraftShape, DraftTraining, load_target, train_draft

DEMO_DRAFT = DraftShape(num_layers=2, target_layer_ids=[1, 2, 3], block_size=16, intermediate_size=512)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target-seconds", type=float, default=190)
    parser.add_argument("--novel-prompts", type=int, default=30000)
    parser.add_argument("--answer-tokens", type=int, default=160)
    parser.add_argument("--draft-seconds", type=float, default=320)
    parser.add_argument("--reuse-target", type=Path)
    parser.add_argument("--warm-start", action="store_true")
    parser.add_argument("--target-stop-loss", type=float)
    parser.add_argument("--target-steps", type=int, default=100000,
                        help="at most this many target steps (80 rebuilds the degenerate benchmark pair of "
                             "docs/DEMO.md, whose draft wins)")
    parser.add_argument("--answer-training-prompts", type=int, default=0,
                        help="answer this many corpus questions too (a fixed sample; 0 = none)")
    args = parser.parse_args()
    out = Path(os.environ["OUT"])
    corpus = Path(".work/corpus")
    work = Path("/tmp/demo")
    t0 = time.perf_counter()

    if args.reuse_target is None:
        settings = loop.LoopSettings(steps=args.target_steps, lr=2e-3, warmup=300, log_every=200,
                                     time_budget_s=args.target_seconds, stop_below_loss=args.target_stop_loss)
        train_demo_target(corpus / "train.jsonl.gz", work / "target", settings, batch_size=64,
                          tokenizer_dir=Path(".work/tok4k"))
    else:
        shutil.copytree(args.reuse_target, work / "target")
    (out / "target").mkdir()
    for name in ("config.json", "model.safetensors"):  # the tokenizer is .work/tok4k's (8 files come back)
        shutil.copyfile(work / "target" / name, out / "target" / name)
    print(f"target ready at {time.perf_counter() - t0:.0f}s", flush=True)

    # fp32 like the CPU the pair ships for, so the greedy answers are the ones the app will see
    target, tokenizer, _ = load_target(work / "target", "float32")
    prompts = draft_prompts(corpus, args.novel_prompts, args.answer_training_prompts)
    generate_answers(target.model, tokenizer, prompts, work / "novel_answers.jsonl",
                     max_tokens=args.answer_tokens, batch_size=1024)
    print(f"answers done at {time.perf_counter() - t0:.0f}s", flush=True)
    with open(work / "novel_answers.jsonl") as f:  # a few, to judge the target's text by eye
        for line, _ in zip(f, range(4)):
            print(line.strip()[:600], flush=True)

    run = DraftTraining(steps=100000, batch_size=64, seq_len=384, blocks_per_row=32, lr=3e-3, warmup=200,
                        eval_every=2500, eval_prompts=16, eval_max_tokens=96, time_budget_s=args.draft_seconds,
                        target_dtype="float32", warm_start=args.warm_start)
    data = [work / "novel_answers.jsonl"] if args.answer_training_prompts else \
        [corpus / "train.jsonl.gz", work / "novel_answers.jsonl"]
    train_draft(work / "target", data, work / "draft",
                DEMO_DRAFT, run, eval_prompts_path=corpus / "heldout.jsonl")
    (out / "draft").mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copyfile(work / "draft" / name, out / "draft" / name)
    print(f"draft done at {time.perf_counter() - t0:.0f}s; evals {run.log}", flush=True)

    from dflash_tui.engine.session import Engine

    engine = Engine.load(work / "target", work / "draft")
    result = heldout_tau(engine, load_prompts(corpus / "heldout.jsonl"), max_tokens=128)
    print(json.dumps(result, indent=2), flush=True)
    (out / "heldout_gpu.json").write_text(json.dumps({"evals": run.log, "final": result}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
