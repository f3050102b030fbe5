"""The DFlash draft's training objective: many anchored blocks per sequence in one pass.

For a sequence x with target tap features F, an anchor at position p makes the
block [x_p, MASK x (B-1)] at positions p..p+B-1; block position k predicts
x_{p+k}. The block attends to the fused context of positions < p and to its
own B positions in both directions, nothing else: exactly what the decoder
shows the draft when x_p is the staged token. Blocks are laid out as a batch
of their own (one row per block, its anchor as RoPE offset) and share their
sequence's context K/V through a boolean mask, so the draft module is the
engine's own, unchanged. Loss per block position k is weighted by
exp(-(k-1)/gamma): early positions decide the acceptance length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine.draft import DFlashDraftModel
from ..engine.target import TargetAdapter
from ..mlx_setup import import_mlx

mx = import_mlx()
import mlx.nn as nn  # noqa: E402


def default_gamma(block_size: int) -> float:
    """gamma = 7 for B = 16 (DFlash), scaled with the block size."""
    return 7.0 * block_size / 16


@dataclass
class Anchors:
    rows: np.ndarray       # [N] sequence index of each block
    positions: np.ndarray  # [N] anchor position p
    valid: np.ndarray      # [N, B-1] bool: block position k+1 has a target to learn


def sample_anchors(loss_mask: np.ndarray, blocks_per_row: int, block_size: int,
                   rng: np.random.Generator) -> Anchors:
    """Anchors drawn uniformly (without replacement where possible) from each row's learnable tokens.

    A learnable anchor token is one the target produced (loss_mask) with at
    least one learnable token after it.
    """
    n_rows, length = loss_mask.shape
    nxt = np.zeros_like(loss_mask)
    nxt[:, :-1] = loss_mask[:, 1:]
    eligible = loss_mask & nxt
    eligible[:, 0] = False  # the decoder always has a context before the staged token
    rows, positions = [], []
    for r in range(n_rows):
        candidates = np.flatnonzero(eligible[r])
        if candidates.size == 0:
            candidates = np.array([1])
        pick = rng.choice(candidates, size=blocks_per_row, replace=candidates.size < blocks_per_row)
        rows += [r] * blocks_per_row
        positions += list(pick)
    rows, positions = np.array(rows, dtype=np.int32), np.array(positions, dtype=np.int32)
    offsets = positions[:, None] + np.arange(1, block_size)[None, :]
    inside = offsets < length
    valid = inside & loss_mask[rows[:, None], np.minimum(offsets, length - 1)]
    return Anchors(rows, positions, valid)


def block_inputs(ids: np.ndarray, anchors: Anchors, block_size: int, mask_token_id: int):
    """Block tokens [N, B], labels [N, B-1], and the attention mask [N, 1, B, L + B]."""
    n, length = len(anchors.rows), ids.shape[1]
    tokens = np.full((n, block_size), mask_token_id, dtype=np.int32)
    tokens[:, 0] = ids[anchors.rows, anchors.positions]
    offsets = np.minimum(anchors.positions[:, None] + np.arange(1, block_size)[None, :], length - 1)
    labels = ids[anchors.rows[:, None], offsets]
    sees_context = np.arange(length)[None, :] < anchors.positions[:, None]  # [N, L]
    mask = np.concatenate([sees_context, np.ones((n, block_size), dtype=bool)], axis=1)
    mask = np.broadcast_to(mask[:, None, None, :], (n, 1, block_size, length + block_size))
    return tokens, labels, np.ascontiguousarray(mask)


def position_weights(block_size: int, gamma: float) -> mx.array:
    k = mx.arange(1, block_size, dtype=mx.float32)
    return mx.exp(-(k - 1) / gamma)


def target_pass(target: TargetAdapter, ids: mx.array, taps: list[int], want_logits: bool):
    """The frozen target over whole sequences: (tap features, logits or None), no gradient."""
    logits, features, _ = target.forward(ids, [None] * target.num_layers, taps)
    return mx.stop_gradient(features), (mx.stop_gradient(logits) if want_logits else None)


def draft_block_logits(draft: DFlashDraftModel, target: TargetAdapter, features: mx.array, rows: mx.array,
                       positions: mx.array, tokens: mx.array, mask: mx.array) -> mx.array:
    """Draft logits [N, B-1, V] for every block, through the target's embeddings and head."""
    context = draft.context_kv(draft.fuse(features), 0)
    per_block = [(k[rows], v[rows]) for k, v in context]
    hidden = draft(target.embed(tokens), per_block, positions, mask)
    return target.logits(hidden[:, 1:])


def block_loss(draft: DFlashDraftModel, target: TargetAdapter, batch: dict, gamma: float,
               distill: bool) -> tuple[mx.array, mx.array]:
    """(weighted mean loss, total weight) for one batch prepared by `prepare_batch`."""
    logits = draft_block_logits(draft, target, batch["features"], batch["rows"], batch["positions"],
                                batch["tokens"], batch["mask"]).astype(mx.float32)
    weight = position_weights(logits.shape[1] + 1, gamma)[None, :] * batch["valid"]
    if distill:
        teacher = mx.softmax(batch["teacher_logits"].astype(mx.float32), axis=-1)
        per_token = -(teacher * nn.log_softmax(logits, axis=-1)).sum(axis=-1)
    else:
        per_token = nn.losses.cross_entropy(logits, batch["labels"])
    total = mx.maximum(weight.sum(), 1e-6)
    return (per_token * weight).sum() / total, total
