"""The optimisation loop shared by the demo target's pretraining and the draft trainer.

One compiled step (model, optimizer and RNG state captured) with AdamW, linear
warm-up then cosine decay (over the steps or the wall-clock budget, whichever
ends first), gradient clipping, a text progress bar and a periodic callback
(evaluation, checkpoints).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from functools import partial
from typing import Callable, Iterator

from ..mlx_setup import import_mlx

mx = import_mlx()
import mlx.nn as nn  # noqa: E402
import mlx.optimizers as optim  # noqa: E402


@dataclass
class LoopSettings:
    steps: int
    lr: float = 1e-3
    warmup: int = 100
    weight_decay: float = 0.01
    clip: float = 1.0
    log_every: int = 50
    every: int = 0  # call `periodic` every this many steps (0 = never)
    time_budget_s: float | None = None  # the schedule's length in seconds; stop (final periodic call) at its end
    elapsed_before_s: float = 0.0  # seconds an earlier, resumed run already trained (the schedule goes on)
    stop_after_s: float | None = None  # this run's own limit (a resumable stint), the schedule unchanged
    stop_below_loss: float | None = None  # stop once a logged window's mean loss falls below this


def make_optimizer(settings: LoopSettings) -> optim.Optimizer:
    return optim.AdamW(learning_rate=settings.lr, weight_decay=settings.weight_decay)


def learning_rate(settings: LoopSettings, step: int, elapsed_s: float) -> float:
    """Linear warm-up, then cosine decay to 5% over whichever runs out first: steps or time budget."""
    if step < settings.warmup:
        return settings.lr * (0.01 + 0.99 * step / settings.warmup)
    progress = (step - settings.warmup) / max(1, settings.steps - settings.warmup)
    if settings.time_budget_s:
        progress = max(progress, elapsed_s / settings.time_budget_s)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return settings.lr * (0.05 + 0.95 * cosine)


def progress_line(step: int, total: int, loss: float, tok_s: float, elapsed: float, width: int = 24) -> str:
    done = int(width * step / max(1, total))
    return (f"\r[{'#' * done}{'.' * (width - done)}] {step}/{total} loss {loss:.4f} "
            f"{tok_s / 1000:.1f}k tok/s {elapsed:.0f}s")


def run(model: nn.Module, loss_fn: Callable, batch_iter: Iterator[tuple], settings: LoopSettings, *,
        optimizer: optim.Optimizer | None = None, start_step: int = 0,
        periodic: Callable[[int, optim.Optimizer], None] | None = None,
        log: Callable[[str], None] | None = None,
        observe: Callable[[int, float], None] | None = None) -> list[float]:
    """Train `model` on loss_fn(model, *arrays) -> loss, batch_iter yielding (arrays, tokens); return losses.

    observe(step, mean loss of the window) is called at every logged window (snapshots keyed by loss).
    """
    optimizer = optimizer or make_optimizer(settings)
    say = log or (lambda s: print(s, file=sys.stderr, end="", flush=True))
    value_and_grad = nn.value_and_grad(model, loss_fn)
    state = [model.state, optimizer.state, mx.random.state]

    @partial(mx.compile, inputs=state, outputs=state)
    def step(*batch):
        loss, grads = value_and_grad(model, *batch)
        grads, _ = optim.clip_grad_norm(grads, settings.clip)
        optimizer.update(model, grads)
        return loss

    losses: list[float] = []
    start = time.perf_counter() - settings.elapsed_before_s  # the schedule's clock
    window_start, window_tokens, window_loss, window_steps = time.perf_counter(), 0, 0.0, 0
    for i in range(start_step, settings.steps):
        batch, tokens = next(batch_iter)
        optimizer.learning_rate = mx.array(learning_rate(settings, i, time.perf_counter() - start))
        loss = step(*batch)
        mx.eval(state, loss)
        window_tokens += tokens
        window_loss += loss.item()
        window_steps += 1
        last = i + 1 == settings.steps
        over_budget = ((settings.time_budget_s is not None and time.perf_counter() - start > settings.time_budget_s)
                       or (settings.stop_after_s is not None
                           and time.perf_counter() - start - settings.elapsed_before_s > settings.stop_after_s))
        if window_steps == settings.log_every or last or over_budget:
            now = time.perf_counter()
            losses.append(window_loss / window_steps)
            if observe is not None:
                observe(i + 1, losses[-1])
            if settings.stop_below_loss is not None and losses[-1] < settings.stop_below_loss:
                over_budget = True  # good enough (a target meant not to memorise its corpus stops here)
            say(progress_line(i + 1, settings.steps, losses[-1], window_tokens / (now - window_start), now - start))
            window_start, window_tokens, window_loss, window_steps = now, 0, 0.0, 0
        if periodic is not None and ((settings.every and (i + 1) % settings.every == 0) or last or over_budget):
            say("\n")
            periodic(i + 1, optimizer)
        if over_budget:
            break
    say("\n")
    return losses
