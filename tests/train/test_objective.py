"""The training objective must show the draft exactly what the decoder shows it."""

import numpy as np

from dflash_tui.mlx_setup import import_mlx

mx = import_mlx()

from dflash_tui.engine.draft import DFlashDraftModel, DraftConfig  # noqa: E402
from dflash_tui.train.objective import (block_inputs, draft_block_logits, position_weights,  # noqa: E402
                                        sample_anchors, target_pass)
from dflash_tui.train.trainer import DraftShape, load_target, new_draft_config  # noqa: E402


def test_batched_blocks_match_the_decoders_single_block_pass(tiny_target):
    target, tokenizer, config = load_target(tiny_target)
    cfg = new_draft_config(config, tokenizer, DraftShape(num_layers=2, target_layer_ids=[1, 2]))
    mx.random.seed(3)
    draft = DFlashDraftModel(DraftConfig.from_dict(cfg))
    ids = np.array([tokenizer.encode("The quick brown fox jumps over the lazy dog. def main(): return 42")],
                   dtype=np.int32)
    learnable = np.zeros_like(ids, dtype=bool)
    learnable[:, 4:] = True
    anchors = sample_anchors(learnable, 4, 16, np.random.default_rng(0))
    tokens, _, mask = block_inputs(ids, anchors, 16, draft.config.mask_token_id)
    features, _ = target_pass(target, mx.array(ids), [1, 2], want_logits=False)
    batched = draft_block_logits(draft, target, features, mx.array(anchors.rows), mx.array(anchors.positions),
                                 mx.array(tokens), mx.array(mask))
    for j, p in enumerate(anchors.positions.tolist()):
        context = draft.context_kv(draft.fuse(features[:, :p]), 0)
        hidden = draft(target.embed(mx.array(tokens[j:j + 1])), context, p)
        single = target.logits(hidden[:, 1:])[0]
        assert mx.allclose(single, batched[j], atol=1e-4).item()


def test_anchors_sit_on_learnable_tokens_and_labels_follow_them():
    learnable = np.zeros((2, 40), dtype=bool)
    learnable[0, 10:30] = True
    learnable[1, 5:40] = True
    anchors = sample_anchors(learnable, 8, 16, np.random.default_rng(1))
    assert learnable[anchors.rows, anchors.positions].all()
    ids = np.arange(80, dtype=np.int32).reshape(2, 40)
    tokens, labels, mask = block_inputs(ids, anchors, 16, mask_token_id=999)
    assert (tokens[:, 0] == ids[anchors.rows, anchors.positions]).all() and (tokens[:, 1:] == 999).all()
    assert (labels[:, 0] == ids[anchors.rows, anchors.positions + 1]).all()
    # a block sees context strictly before its anchor, and all of its own positions
    for j, p in enumerate(anchors.positions):
        assert mask[j, 0, 0, :p].all() and not mask[j, 0, 0, p:40].any() and mask[j, 0, :, 40:].all()
    # targets past the learnable span (or the sequence) carry no loss
    row0 = anchors.rows == 0
    beyond = anchors.positions[row0, None] + np.arange(1, 16)[None, :] >= 30
    assert not anchors.valid[row0][beyond].any()


def test_position_weights_decay_with_gamma_7_for_block_16():
    w = np.array(position_weights(16, 7.0))
    assert w[0] == 1.0 and np.allclose(w[7], np.exp(-1.0)) and (np.diff(w) < 0).all()
