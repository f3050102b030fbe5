"""Train a DFlash v1 draft for a frozen mlx-lm target (what `dflash-tui train-draft` runs).

The draft is the engine's own DFlashDraftModel; the target runs through the
engine's TargetAdapter, whose tap features are computed on the fly for every
batch. The objective (anchored blocks, block mask, decayed position weights)
lives in objective.py. Works on any MLX device: Apple silicon, CUDA, or CPU
(small runs only).
"""

from __future__ import annotations

import json
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..engine.draft import DFlashDraftModel, DraftConfig
from ..engine.session import Engine
from ..engine.target import TargetAdapter, check_supported
from ..mlx_setup import import_mlx
from ..synthetic import draft_config
from . import loop
from .chat_data import batches, load_sequences
from .checkpoint import load_training_state, save_draft, save_training_state
from .evaluate import heldout_tau, load_prompts
from .objective import block_inputs, block_loss, default_gamma, sample_anchors, target_pass
from .warm_start import warm_start_from_target

mx = import_mlx()
from mlx.utils import tree_flatten  # noqa: E402

MASK_TOKEN = "<|mask|>"


@dataclass
class DraftShape:
    num_layers: int = 2
    target_layer_ids: list[int] | None = None  # None: z-lab's default for the target depth
    block_size: int = 16
    intermediate_size: int | None = None  # None: 3 x hidden
    mask_token: str = MASK_TOKEN


@dataclass
class DraftTraining:
    steps: int = 2000
    batch_size: int = 32
    seq_len: int = 512
    blocks_per_row: int = 16
    lr: float = 1e-3
    warmup: int = 100
    gamma: float | None = None  # None: 7 for B = 16
    distill: bool = False  # soft targets from the target's logits instead of the data tokens
    eval_every: int = 500
    eval_prompts: int = 24
    eval_max_tokens: int = 96
    time_budget_s: float | None = None  # the whole schedule, across resumed stints
    stop_after_s: float | None = None  # this stint's limit from the call on (checkpoint written; `--resume` goes on)
    target_dtype: str | None = None  # e.g. "float32" to train against the precision the draft will run with
    warm_start: bool = False  # copy matching tensors from the target's last layers (warm_start.py)
    seed: int = 0
    log_every: int = 50
    log: list = field(default_factory=list)  # eval results, filled during training
    losses: list = field(default_factory=list)  # mean loss per log_every steps, filled during training


def load_target(path: Path, dtype: str | None = None):
    """(TargetAdapter, tokenizer, config dict); fp32 on the CPU, else `dtype` or the checkpoint's."""
    from mlx_lm import load as mlx_load

    config = json.loads((Path(path) / "config.json").read_text())
    check_supported(config, str(Path(path) / "config.json"))
    model, tokenizer = mlx_load(str(path))
    if dtype or mx.default_device() == mx.cpu:
        model.set_dtype(getattr(mx, dtype or "float32"))
    model.freeze()
    return TargetAdapter(model, config), tokenizer, config


def new_draft_config(target_config: dict, tokenizer, shape: DraftShape) -> dict:
    mask_id = tokenizer.convert_tokens_to_ids(shape.mask_token)
    if mask_id is None or mask_id == getattr(tokenizer, "unk_token_id", None):
        raise ValueError(f"the target's tokenizer has no {shape.mask_token!r} token: pass --mask-token with a "
                         "token it has (an unused reserved/special token)")
    return draft_config(target_config, num_layers=shape.num_layers, block_size=shape.block_size,
                        mask_token_id=mask_id, target_layer_ids=shape.target_layer_ids,
                        intermediate_size=shape.intermediate_size)


def make_batches(target: TargetAdapter, draft: DFlashDraftModel, seqs, run: DraftTraining, pad_id: int,
                 start_step: int = 0):
    """Endless (arrays for objective.block_loss, tokens) pairs; the target runs here, outside the grad.

    A resumed run draws a fresh order (seeded by its start step), not the first stint's batches again."""
    cfg = draft.config
    rng = np.random.default_rng([run.seed, start_step] if start_step else run.seed)
    order = random.Random(f"{run.seed}:{start_step}" if start_step else run.seed)
    for ids, mask in batches(seqs, run.batch_size, run.seq_len, pad_id, order):
        anchors = sample_anchors(mask, run.blocks_per_row, cfg.block_size, rng)
        tokens, labels, attn = block_inputs(ids, anchors, cfg.block_size, cfg.mask_token_id)
        features, logits = target_pass(target, mx.array(ids), cfg.target_layer_ids, run.distill)
        arrays = [features, mx.array(anchors.rows), mx.array(anchors.positions), mx.array(tokens),
                  mx.array(attn), mx.array(labels), mx.array(anchors.valid.astype(np.float32))]
        if run.distill:
            k = np.arange(cfg.block_size - 1)[None, :]
            at = np.minimum(anchors.positions[:, None] + k, ids.shape[1] - 1)
            arrays.append(logits[mx.array(anchors.rows[:, None]), mx.array(at)])
        yield arrays, int(ids.size)


def loss_for(target: TargetAdapter, run: DraftTraining, block_size: int):
    gamma = run.gamma or default_gamma(block_size)
    names = ["features", "rows", "positions", "tokens", "mask", "labels", "valid", "teacher_logits"]

    def loss_fn(draft, *arrays):
        return block_loss(draft, target, dict(zip(names, arrays)), gamma, run.distill)[0]

    return loss_fn


def train_draft(target_path: Path, data_paths: list[Path], out: Path, shape: DraftShape, run: DraftTraining, *,
                eval_prompts_path: Path | None = None, resume: Path | None = None, log=None) -> Path:
    """Train and write a draft checkpoint to `out`; returns `out`."""
    say = log or (lambda s: print(s, file=sys.stderr, flush=True))
    called = time.perf_counter()  # a stint's --stop-after counts loading too
    target, tokenizer, target_config = load_target(target_path, run.target_dtype)
    config = (json.loads((Path(resume) / "config.json").read_text()) if resume
              else new_draft_config(target_config, tokenizer, shape))
    mx.random.seed(run.seed)
    draft = DFlashDraftModel(DraftConfig.from_dict(config))
    settings = loop.LoopSettings(steps=run.steps, lr=run.lr, warmup=run.warmup, every=run.eval_every,
                                 log_every=run.log_every, time_budget_s=run.time_budget_s,
                                 stop_after_s=run.stop_after_s)
    optimizer = loop.make_optimizer(settings)
    state = load_training_state(resume, draft, optimizer) if resume else {"step": 0}
    start_step = state["step"]
    settings.elapsed_before_s = float(state.get("elapsed_s", 0.0))
    if resume:
        say(f"resuming at step {start_step} after {settings.elapsed_before_s:.0f}s of training")
    if run.warm_start and not resume:
        say(f"warm start: {len(warm_start_from_target(draft, target))} tensors copied from the target")
    seqs = [s for path in data_paths for s in load_sequences(path, tokenizer, run.seq_len)]
    if not seqs:
        raise ValueError(f"{', '.join(map(str, data_paths))}: no training sequences with learnable tokens")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    n_params = sum(v.size for _, v in tree_flatten(draft.parameters()))
    say(f"draft: {n_params / 1e6:.2f}M parameters, taps {draft.config.target_layer_ids}, "
        f"block {draft.config.block_size}; data: {len(seqs)} sequences, {sum(len(s.ids) for s in seqs)} tokens")
    prompts = load_prompts(eval_prompts_path, run.eval_prompts) if eval_prompts_path else []
    engine = Engine(target, tokenizer, draft)

    def checkpoint(step: int, optimizer) -> None:
        elapsed = settings.elapsed_before_s + time.perf_counter() - started_at
        save_draft(out, draft, config, target_path)
        save_training_state(out, step, optimizer, {"target": str(target_path), "data": [str(p) for p in data_paths],
                                                   "elapsed_s": round(elapsed, 3)}, model=draft)
        if prompts:
            started = time.perf_counter()
            result = heldout_tau(engine, prompts, run.eval_max_tokens)
            run.log.append({"step": step, **result["all"]})
            say(f"step {step}: held-out tau {result['all']['tau']:.2f}, acceptance "
                f"{result['all']['acceptance']:.1%} ({time.perf_counter() - started:.0f}s)")

    data = make_batches(target, draft, seqs, run, pad_id, start_step)
    started_at = time.perf_counter()
    if run.stop_after_s is not None:
        settings.stop_after_s = max(0.0, run.stop_after_s - (started_at - called))
    run.losses += loop.run(draft, loss_for(target, run, draft.config.block_size), data, settings,
                           optimizer=optimizer, start_step=start_step, periodic=checkpoint)
    return Path(out)
