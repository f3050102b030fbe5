"""`dflash-tui train-draft`: argparse wiring for the draft trainer (the work is in trainer.py).

    dflash-tui train-draft --target PATH --data chats.jsonl --out my-draft
    dflash-tui train-draft --target PATH --generate-from prompts.jsonl --out my-draft --eval-prompts held.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

DEFAULT_DATA_NOTE = "JSONL chats ({\"messages\": [...]}), token ids ({\"ids\", \"loss_from\"}) or plain text"


def add_train_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train-draft", help="train a DFlash v1 draft for a target that has none",
        description="Train a DFlash v1 draft for a frozen mlx-lm target (qwen3, llama, qwen3_5, ...) and write "
                    "it in the z-lab layout, loadable like any published draft.")
    data = p.add_argument_group("data")
    data.add_argument("--target", type=Path, required=True, help="the target model folder")
    data.add_argument("--data", type=Path, action="append", default=[], help=DEFAULT_DATA_NOTE + "; repeatable")
    data.add_argument("--generate-from", type=Path,
                      help="prompts JSONL ({\"prompt\"} or chats): train on the target's own greedy answers "
                           "to them (written to OUT/self_distill.jsonl first; the best data for acceptance)")
    data.add_argument("--max-answer-tokens", type=int, default=256)
    data.add_argument("--sampled-answers", type=int, default=0, metavar="N",
                      help="also answer the first N prompts by sampling at --sample-temperature (the text "
                           "users meet at T > 0; raises acceptance when sampling)")
    data.add_argument("--sample-temperature", type=float, default=0.7)
    data.add_argument("--out", type=Path, required=True, help="checkpoint folder (written at every eval)")
    shape = p.add_argument_group("draft shape")
    shape.add_argument("--layers", type=int, default=2)
    shape.add_argument("--taps", help="target layer ids to fuse, e.g. 1,2,3 (default: z-lab's rule)")
    shape.add_argument("--block-size", type=int, default=16)
    shape.add_argument("--intermediate-size", type=int)
    shape.add_argument("--mask-token", default="<|mask|>", help="a token of the target's tokenizer")
    train = p.add_argument_group("training")
    train.add_argument("--steps", type=int, default=2000)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--seq-len", type=int, default=512)
    train.add_argument("--blocks-per-row", type=int, default=16, help="anchored blocks per sequence")
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--gamma", type=float, help="position-weight decay (default 7 for block size 16)")
    train.add_argument("--loss", choices=("ce", "distill"), default="ce",
                       help="ce on the data tokens, or distillation on the target's logits")
    train.add_argument("--time-budget", type=float,
                       help="seconds of training in all; the schedule ends with it (across --resume stints)")
    train.add_argument("--stop-after", type=float, metavar="SECONDS",
                       help="end this command SECONDS after it started (answer generation included) with a "
                            "resumable checkpoint; --resume goes on with the same schedule (for machines lent "
                            "by the hour, or a laptop's lunch break)")
    train.add_argument("--target-dtype", help="e.g. float32: train against the precision you will run")
    train.add_argument("--warmup", type=int, default=100, help="learning-rate warm-up steps")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--warm-start", action="store_true",
                       help="start the draft layers from the target's last layers where shapes match")
    train.add_argument("--eval-prompts", type=Path, help="held-out prompts JSONL for the periodic tau")
    train.add_argument("--eval-every", type=int, default=500)
    train.add_argument("--resume", type=Path, help="a checkpoint folder written by an earlier run")
    p.set_defaults(func=run_train_draft)
    return p


def own_answers(args: argparse.Namespace) -> Path:
    """OUT/self_distill.jsonl: the target's answers to --generate-from, written once (a resumed run reuses
    them); written under a temporary name first so an interrupted generation never passes for data."""
    from ..mlx_setup import import_mlx
    from .self_distill import generate_from_file
    from .trainer import load_target

    answers = args.out / "self_distill.jsonl"
    source = (args.resume or args.out) / "self_distill.jsonl"
    if args.resume and source.is_file():
        print(f"train-draft: reusing the answers in {source}", file=sys.stderr)
        return source
    args.out.mkdir(parents=True, exist_ok=True)
    partial = answers.with_suffix(".jsonl.part")
    target, tokenizer, _ = load_target(args.target, args.target_dtype)
    generate_from_file(target.model, tokenizer, args.generate_from, partial, max_tokens=args.max_answer_tokens)
    if args.sampled_answers:
        import_mlx().random.seed(args.seed)
        generate_from_file(target.model, tokenizer, args.generate_from, partial, max_tokens=args.max_answer_tokens,
                           temperature=args.sample_temperature, append=True, limit=args.sampled_answers)
    partial.replace(answers)
    return answers


def run_train_draft(args: argparse.Namespace) -> int:
    from ..engine.errors import ModelLoadError
    from .trainer import DraftShape, DraftTraining, train_draft

    if not args.data and not args.generate_from:
        print("train-draft: give --data and/or --generate-from", file=sys.stderr)
        return 2
    taps = [int(x) for x in args.taps.split(",")] if args.taps else None
    shape = DraftShape(num_layers=args.layers, target_layer_ids=taps, block_size=args.block_size,
                       intermediate_size=args.intermediate_size, mask_token=args.mask_token)
    run = DraftTraining(steps=args.steps, batch_size=args.batch_size, seq_len=args.seq_len,
                        blocks_per_row=args.blocks_per_row, lr=args.lr, warmup=args.warmup, gamma=args.gamma,
                        distill=args.loss == "distill", eval_every=args.eval_every,
                        time_budget_s=args.time_budget, stop_after_s=args.stop_after,
                        target_dtype=args.target_dtype, seed=args.seed,
                        warm_start=args.warm_start)
    data = list(args.data)
    started = time.perf_counter()
    try:
        if args.generate_from:
            data.append(own_answers(args))
        if args.stop_after is not None:  # what is left of this command's time goes to training
            run.stop_after_s = max(0.0, args.stop_after - (time.perf_counter() - started))
        train_draft(args.target, data, args.out, shape, run, eval_prompts_path=args.eval_prompts,
                    resume=args.resume)
    except (ModelLoadError, ValueError, FileNotFoundError) as e:
        print(f"train-draft: {e}", file=sys.stderr)
        return 2
    if run.log:
        print(json.dumps(run.log[-1]))
    print(f"draft written to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m dflash_tui.train.cli_commands train-draft ...`: the same command without the app's imports
    (a training host needs only MLX and mlx-lm)."""
    parser = argparse.ArgumentParser(prog="dflash-tui")
    add_train_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
