"""The trainer learns, writes a checkpoint the engine loads like a published draft, and resumes."""

import json

import pytest

from dflash_tui.mlx_setup import import_mlx

mx = import_mlx()

from dflash_tui.engine.draft import load_draft  # noqa: E402
from dflash_tui.engine.session import Engine  # noqa: E402
from dflash_tui.train.checkpoint import STATE_FILE  # noqa: E402
from dflash_tui.train.evaluate import heldout_tau  # noqa: E402
from dflash_tui.train.trainer import DraftShape, DraftTraining, train_draft  # noqa: E402

SHAPE = DraftShape(num_layers=1, target_layer_ids=[1, 3], intermediate_size=128)


def small_run(steps, **kw) -> DraftTraining:
    return DraftTraining(steps=steps, batch_size=4, seq_len=64, blocks_per_row=8, lr=3e-3, warmup=2,
                         eval_every=0, **kw)


def test_loss_falls_in_a_few_steps(tiny_target, chats_file, tmp_path):
    # a short plateau (~60 steps) precedes the fall: the draft first learns to read its context
    run = small_run(120, log_every=10)
    train_draft(tiny_target, [chats_file], tmp_path / "draft", DraftShape(2, [1, 3], intermediate_size=192), run)
    assert run.losses[-1] < 0.5 * run.losses[0], run.losses


@pytest.mark.parametrize("distill", [False, True], ids=["ce", "distill"])
def test_checkpoint_round_trips_through_the_engines_loader(tiny_target, chats_file, tmp_path, distill):
    out = tmp_path / "draft"
    train_draft(tiny_target, [chats_file], out, SHAPE, small_run(3, distill=distill))
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["DFlashDraftModel"] and config["block_size"] == 16
    assert config["dflash_config"]["target_layer_ids"] == [1, 3]
    loaded = load_draft(out)
    engine = Engine.load(tiny_target, out)
    assert engine.has_draft and loaded.config.mask_token_id == engine.tokenizer.convert_tokens_to_ids("<|mask|>")
    result = heldout_tau(engine, [{"messages": [{"role": "user", "content": "What does ls do?"}],
                                   "category": "unix"}], max_tokens=8)
    assert result["by_category"]["unix"]["tokens"] > 0


def test_resume_continues_from_the_saved_step(tiny_target, chats_file, tmp_path):
    out = tmp_path / "draft"
    train_draft(tiny_target, [chats_file], out, SHAPE, small_run(3))
    assert json.loads((out / STATE_FILE).read_text())["step"] == 3
    train_draft(tiny_target, [chats_file], out, SHAPE, small_run(5), resume=out)
    assert json.loads((out / STATE_FILE).read_text())["step"] == 5


def test_warm_start_copies_the_targets_last_layers_where_shapes_match(tiny_target):
    from dflash_tui.engine.draft import DFlashDraftModel, DraftConfig
    from dflash_tui.train.trainer import load_target, new_draft_config
    from dflash_tui.train.warm_start import warm_start_from_target

    target, tokenizer, config = load_target(tiny_target)
    draft = DFlashDraftModel(DraftConfig.from_dict(new_draft_config(config, tokenizer, SHAPE)))
    copied = warm_start_from_target(draft, target)
    assert "layers.0.self_attn.q_proj.weight" in copied and "norm.weight" in copied
    assert "layers.0.mlp.up_proj.weight" not in copied  # draft MLP 128 wide, target's 192
    assert mx.array_equal(draft.layers[0].self_attn.q_proj.weight, target.layers[-1].self_attn.q_proj.weight)


@pytest.mark.parametrize("family", ["llama", "qwen3_5"])
def test_trains_drafts_for_other_supported_families(family, tiny_target, chats_file, tmp_path):
    from dflash_tui.synthetic import build_target

    target = build_target(tmp_path / family, family, tokenizer_dir=tiny_target)
    out = tmp_path / "draft"
    run = small_run(2)
    train_draft(target, [chats_file], out, SHAPE, run)
    assert Engine.load(target, out).has_draft and run.losses


def test_resume_restores_the_fp32_weights_not_their_bf16_rounding(tiny_target, chats_file, tmp_path):
    from dflash_tui.engine.draft import DFlashDraftModel, DraftConfig
    from dflash_tui.train.checkpoint import load_training_state
    from dflash_tui.train.loop import LoopSettings, make_optimizer
    from mlx.utils import tree_flatten

    out = tmp_path / "draft"
    train_draft(tiny_target, [chats_file], out, SHAPE, small_run(3))
    saved = mx.load(str(out / "trainer" / "weights.safetensors"))
    draft = DFlashDraftModel(DraftConfig.from_dict(json.loads((out / "config.json").read_text())))
    load_training_state(out, draft, make_optimizer(LoopSettings(steps=1)))
    restored = dict(tree_flatten(draft.parameters()))
    assert all(mx.array_equal(restored[k], v) for k, v in saved.items())
    rounded = [k for k, v in saved.items() if not mx.array_equal(v.astype(mx.bfloat16).astype(mx.float32), v)]
    assert rounded, "the fp32 weights should hold bits the bf16 checkpoint drops"


def test_a_stint_ends_early_and_the_resumed_run_keeps_the_schedules_clock(tiny_target, chats_file, tmp_path):
    out = tmp_path / "draft"
    train_draft(tiny_target, [chats_file], out, SHAPE, small_run(50, time_budget_s=3600, stop_after_s=0))
    first = json.loads((out / STATE_FILE).read_text())
    assert first["step"] == 1 and first["elapsed_s"] > 0  # stopped after one step, resumable
    train_draft(tiny_target, [chats_file], out, SHAPE, small_run(50, time_budget_s=3600, stop_after_s=0),
                resume=out)
    second = json.loads((out / STATE_FILE).read_text())
    assert second["step"] == 2 and second["elapsed_s"] > first["elapsed_s"]
