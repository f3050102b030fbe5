"""Which target makes a draftable demo pair? One GPU call, several targets from one pretraining run.

    sweep_demo_targets.py --losses 2.4,1.8,1.3 --draft-seconds 90 --novel-prompts 20000
                          --answer-training-prompts 10000 [--budget-s 540]

    sweep_demo_targets.py --reuse-target DIR --draft-objectives ce,distill --draft-seconds 170 ...

    sweep_demo_targets.py --reuse-target DIR --draft-objectives distill --tap-sets "1,2,3;0,1,2,3" ...
                                                            (one draft per objective and tap set)

    sweep_demo_targets.py --targets 4@2.6,8@2.6,8@2.2 ...   (deeper targets: LAYERS@LOSS, one pretraining run
                                                             per depth; a deeper target's draft taps spread
                                                             from layer 1 to its last)

Run by scripts/device/build_demo_pair.sh (SCRIPT=sweep_demo_targets.py) on the GPU host. One target
pretraining run saves a snapshot the first time its train loss falls below each of --losses
(a target stopped early has not memorised its corpus, so its greedy text on unseen prompts is
more regular). For each snapshot, highest loss first, while the budget lasts: the snapshot's
greedy answers to invented and corpus prompts, a draft trained on them alone (warm start), then
held-out tau on the 80 held-out prompts and three held-out answers to judge the text by eye.
With --reuse-target, no pretraining: that target gets one draft per --draft-objectives entry
(ce: cross-entropy on its greedy tokens; distill: its logits as soft targets), on the same answers.
OUT gets sweep.json (every variant's figures), and vN.tar per variant (target + draft weights
and configs; the tokenizer is .work/tok4k's).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tarfile
import time
from dataclasses import replace
from pathlib import Path

from build_demo_pair import DEMO_DRAFT

from dflash_tui.mlx_setup import import_mlx

from dflash_tui.train import loop
from dflash_tui.train.demo_target import DEMO_SHAPE, train_demo_target
from dflash_tui.train.evaluate import heldout_tau, load_prompts
from dflash_tui.train.novel_prompts import draft_prompts
from dflash_tui.train.self_distill import generate_answers
from dflash_tui.train.trainer import DraftTraining, load_target, train_draft

mx = import_mlx()
WEIGHT_FILES = ("config.json", "model.safetensors")


def sample_answers(engine, prompts: list[dict], count: int = 3, max_tokens: int = 96) -> list[dict]:
    """A few held-out answers (one per category), plain greedy decoding of the target."""
    seen, picked = set(), []
    for p in prompts:
        if p["category"] not in seen and len(picked) < count:
            seen.add(p["category"])
            picked.append(p)
    out = []
    for p in picked:
        engine.reset()
        summary = list(engine.generate(engine.encode_chat(p["messages"]), max_tokens=max_tokens, mode="plain"))[-1]
        out.append({"prompt": p["messages"][0]["content"], "answer": summary.text})
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--losses", default="2.4,1.8,1.3")
    parser.add_argument("--targets", help="LAYERS@LOSS,...: targets of other depths (replaces --losses)")
    parser.add_argument("--draft-seconds", type=float, default=90)
    parser.add_argument("--novel-prompts", type=int, default=20000)
    parser.add_argument("--answer-training-prompts", type=int, default=10000)
    parser.add_argument("--answer-tokens", type=int, default=160)
    parser.add_argument("--budget-s", type=float, default=540)
    parser.add_argument("--reuse-target", type=Path, help="a trained target (skip pretraining)")
    parser.add_argument("--draft-objectives", default="ce", help="ce, distill or both (with --reuse-target)")
    parser.add_argument("--warm-up-steps", type=int, default=60,
                        help="steps of a throwaway draft before the first variant (0: none)")
    parser.add_argument("--tap-sets", help="with --reuse-target: target layers the draft reads, ';' between sets")
    parser.add_argument("--sampled-answers", type=int, default=0,
                        help="also answer this many of the prompts by sampling (text users meet at T > 0)")
    parser.add_argument("--sample-temperature", type=float, default=0.7)
    parser.add_argument("--heldout-limit", type=int, default=0, help="evaluate on the first N held-out prompts "
                        "(0 = all 80; a smoke run on the CPU uses a few)")
    args = parser.parse_args()
    out = Path(os.environ["OUT"])
    corpus = Path(".work/corpus")
    work = Path("/tmp/sweep")
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if args.reuse_target is not None:  # (label, target dir, objective, taps or None) per variant
        tap_sets = [[int(x) for x in t.split(",")] for t in args.tap_sets.split(";")] if args.tap_sets else [None]
        variants = [(objective + (f", taps {taps}" if taps else ""), args.reuse_target, objective, taps)
                    for objective in args.draft_objectives.split(",") for taps in tap_sets]
    else:
        wanted = ([tuple(t.split("@")) for t in args.targets.split(",")] if args.targets else
                  [(str(DEMO_SHAPE["num_layers"]), x) for x in args.losses.split(",")])
        variants = []
        for layers in dict.fromkeys(n for n, _ in wanted):
            losses = sorted((float(x) for n, x in wanted if n == layers), reverse=True)
            runs = [(f"{layers} layers, loss<{loss:g}", work / f"target_{layers}_{loss:g}", "ce", None)
                    for loss in losses]
            settings = loop.LoopSettings(steps=8000, lr=2e-3, warmup=300, log_every=100, time_budget_s=150,
                                         stop_below_loss=losses[-1])
            train_demo_target(corpus / "train.jsonl.gz", work / f"target_{layers}_last", settings, batch_size=64,
                              tokenizer_dir=Path(".work/tok4k"), shape={**DEMO_SHAPE, "num_layers": int(layers)},
                              snapshots=[(loss, d) for loss, (_, d, _, _) in zip(losses, runs)])
            variants += runs
    print(f"targets ready at {time.perf_counter() - t0:.0f}s", flush=True)

    prompts = draft_prompts(corpus, args.novel_prompts, args.answer_training_prompts)
    heldout = load_prompts(corpus / "heldout.jsonl")
    if args.heldout_limit:
        heldout = heldout[::max(1, len(heldout) // args.heldout_limit)][:args.heldout_limit]
    results = []
    per_variant = args.draft_seconds + 90
    answers = work / "answers.jsonl"
    made_for = None
    warmed = False
    for i, (label, target_dir, objective, tap_set) in enumerate(variants):
        if not target_dir.exists():
            results.append({"variant": label, "skipped": "the target never reached this loss"})
            continue
        if time.perf_counter() - t0 + per_variant > args.budget_s:
            results.append({"variant": label, "skipped": "out of time"})
            continue
        v0 = time.perf_counter()
        if made_for != target_dir:  # one set of greedy answers per target
            target, tokenizer, _ = load_target(target_dir, "float32")
            generate_answers(target.model, tokenizer, prompts, answers, max_tokens=args.answer_tokens,
                             batch_size=1024)
            if args.sampled_answers:
                mx.random.seed(0)
                generate_answers(target.model, tokenizer, prompts[:args.sampled_answers], answers,
                                 max_tokens=args.answer_tokens, batch_size=1024,
                                 temperature=args.sample_temperature, append=True)
            del target
            made_for = target_dir
        if not warmed and args.warm_up_steps:  # MLX CUDA compiles kernels on first use: ~80 s of one variant's budget
            warm_up = DraftTraining(steps=args.warm_up_steps, batch_size=64, seq_len=384, blocks_per_row=32,
                                    eval_every=100000, target_dtype="float32", distill=True, log_every=20)
            train_draft(target_dir, [answers], work / "warm-up", DEMO_DRAFT, warm_up)
            shutil.rmtree(work / "warm-up", ignore_errors=True)
            warmed = True
        run = DraftTraining(steps=100000, batch_size=64, seq_len=384, blocks_per_row=32, lr=3e-3, warmup=200,
                            eval_every=100000, eval_prompts=16, eval_max_tokens=96,
                            time_budget_s=args.draft_seconds, target_dtype="float32", warm_start=True,
                            distill=objective == "distill")
        draft_dir = work / f"draft_{i}"
        depth = json.loads((target_dir / "config.json").read_text())["num_hidden_layers"]
        taps = tap_set or [round(1 + i * (depth - 2) / 2) for i in range(3)]  # 4 layers: 1, 2, 3 (shipped); 8: 1, 4, 7
        train_draft(target_dir, [answers], draft_dir, replace(DEMO_DRAFT, target_layer_ids=taps), run,
                    eval_prompts_path=corpus / "heldout.jsonl")

        from dflash_tui.engine.session import Engine

        engine = Engine.load(target_dir, draft_dir)
        result = {"variant": label, "objective": objective, "taps": taps, "draft_losses": run.losses[-5:],
                  "heldout": heldout_tau(engine, heldout, max_tokens=128),
                  "heldout_t07": heldout_tau(engine, heldout, max_tokens=128, temperature=0.7, seed=0)["all"],
                  "samples": sample_answers(engine, heldout), "seconds": round(time.perf_counter() - v0)}
        results.append(result)
        print(json.dumps(result, indent=1), flush=True)
        with tarfile.open(out / f"v{i + 1}.tar", "w") as tar:
            for kind, d in (("target", target_dir), ("draft", draft_dir)):
                for name in WEIGHT_FILES:
                    tar.add(d / name, arcname=f"{kind}/{name}")
        (out / "sweep.json").write_text(json.dumps(results, indent=1))
        shutil.rmtree(draft_dir / "trainer", ignore_errors=True)
    (out / "sweep.json").write_text(json.dumps(results, indent=1))
    print(f"sweep done at {time.perf_counter() - t0:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
