"""Build the embedded demo pair in one GPU session: target, its greedy answers, then its draft.

Run by scripts/device/build_demo_pair.sh on the GPU host (MLX CUDA). Each stage
has a wall-clock budget so the whole run fits one 10-minute device call; the
target and the draft land in OUT/target and OUT/draft as soon as they exist.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sys
import time
from pathlib import Path

from dflash_tui.train import loop
from dflash_tui.train.demo_target import train_demo_target
from dflash_tui.train.self_distill import generate_answers
from dflash_tui.train.trainer import DraftShape, DraftTraining, load_target, train_draft
from dflash_tui.train.evaluate import heldout_tau, load_prompts

DEMO_DRAFT = DraftShape(num_layers=2, target_layer_ids=[1, 2, 3], block_size=16, intermediate_size=512)


def main() -> int:
    out = Path(os.environ["OUT"])
    corpus = Path(".work/corpus")
    target_budget, answer_tokens, draft_budget = (float(x) for x in sys.argv[1:4])
    work = Path("/tmp/demo")
    t0 = time.perf_counter()

    settings = loop.LoopSettings(steps=100000, lr=2e-3, warmup=300, log_every=200, time_budget_s=target_budget)
    train_demo_target(corpus / "train.jsonl.gz", work / "target", settings, batch_size=64,
                      tokenizer_dir=Path(".work/tok4k"))
    shutil.copytree(work / "target", out / "target")
    print(f"target done at {time.perf_counter() - t0:.0f}s", flush=True)

    # fp32 like the CPU the pair ships for, so the greedy answers are the ones the app will see
    model_target, tokenizer, _ = load_target(work / "target", "float32")
    prompts = []
    with gzip.open(corpus / "train.jsonl.gz", "rt") as f:
        for line in f:
            record = json.loads(line)
            prompts.append({"messages": record["messages"][:1], "category": record["category"]})
    generate_answers(model_target.model, tokenizer, prompts, work / "answers.jsonl",
                     max_tokens=int(answer_tokens), batch_size=512)
    print(f"answers done at {time.perf_counter() - t0:.0f}s", flush=True)

    run = DraftTraining(steps=100000, batch_size=64, seq_len=384, blocks_per_row=16, lr=2e-3, warmup=200,
                        eval_every=1500, eval_prompts=16, eval_max_tokens=96, time_budget_s=draft_budget,
                        target_dtype="float32")
    train_draft(work / "target", work / "answers.jsonl", work / "draft", DEMO_DRAFT, run,
                eval_prompts_path=corpus / "heldout.jsonl")
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
