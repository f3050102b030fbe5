"""compat.check_pair: a draft is refused for a target it was not made for, with the reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dflash_tui.compat import check_pair, draft_settings, is_draft_config
from dflash_tui.synthetic import draft_config, target_config

QWEN3_8B = target_config("qwen3", vocab_size=151936, hidden_size=4096, num_layers=36, heads=32, kv_heads=8)
QWEN35_9B = target_config("qwen3_5", vocab_size=248320, hidden_size=4096, num_layers=32, heads=16, kv_heads=4)


def qwen3_8b_draft(**overrides) -> dict:
    return {**draft_config(QWEN3_8B, num_layers=5, mask_token_id=151669), **overrides}


def test_matching_pair_has_no_problems():
    assert check_pair(QWEN3_8B, qwen3_8b_draft()) == []


def test_vocab_mismatch_names_both_sizes_and_the_right_draft():
    draft = draft_config(QWEN3_8B, num_layers=5, mask_token_id=151669, hidden_size=4096)
    draft["num_target_layers"] = 32
    draft["dflash_config"]["target_layer_ids"] = [1, 8, 15, 22, 29]

    problems = check_pair(QWEN35_9B, draft, target_name="mlx-community/Qwen3.5-9B-MLX-4bit")

    assert problems == ["draft vocab 151936 != target vocab 248320: pick the draft made for this target, "
                        "e.g. z-lab/Qwen3.5-9B-DFlash"]


def test_hidden_size_depth_taps_and_mask_token_are_each_reported():
    draft = qwen3_8b_draft(hidden_size=2560, num_target_layers=40, vocab_size=151936)
    draft["dflash_config"] = {"mask_token_id": 200000, "target_layer_ids": [1, 9, 17, 25, 38]}

    problems = check_pair(QWEN3_8B, draft)

    assert len(problems) == 4
    assert problems[0].startswith("draft hidden size 2560 != target hidden size 4096")
    assert problems[1].startswith("draft was trained on a 40-layer target, this target has 36 layers")
    assert problems[2].startswith("draft taps target layers [38] but the target only has layers 0..35")
    assert problems[3].startswith("draft mask token 200000 is outside the target vocabulary (0..151935)")


def test_target_settings_nested_under_text_config_are_read():
    draft = draft_config(QWEN35_9B, num_layers=6, mask_token_id=248077)

    assert check_pair(QWEN35_9B, draft) == []


def test_draft_keys_are_read_from_top_level_dflash_config_or_rope_parameters():
    legacy = draft_config(QWEN3_8B, num_layers=5, mask_token_id=151669, schema="legacy")
    nested = draft_config(QWEN3_8B, num_layers=5, mask_token_id=151669, schema="nested")

    assert draft_settings(legacy) == draft_settings(nested)
    assert draft_settings(nested)["block_size"] == 16 and draft_settings(nested)["rope_theta"] == 10000.0
    assert draft_settings(nested)["target_layer_ids"] == [1, 9, 17, 25, 33]


def test_dflash2_drafts_are_recognised_but_refused_with_a_message():
    draft = qwen3_8b_draft(architectures=["DFlash2DraftModel"])

    assert is_draft_config(draft)
    [problem] = check_pair(QWEN3_8B, draft)
    assert "DFlash2DraftModel is not supported" in problem


def test_a_target_config_is_not_a_draft():
    assert not is_draft_config(QWEN3_8B)
    assert check_pair(QWEN3_8B, QWEN3_8B)[0].startswith("not a DFlash draft")


def test_compat_loads_without_mlx_or_huggingface_hub():
    code = "import sys, dflash_tui.compat; print(sorted({'mlx', 'huggingface_hub'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2]).stdout

    assert out.strip() == "[]"
