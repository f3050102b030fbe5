"""Pairing targets with their z-lab drafts: registry names, user overrides, checks on disk."""

from __future__ import annotations

import pytest

from dflash_tui.hub.errors import PairOverridesInvalid
from dflash_tui.hub.pair_overrides import overrides_path, set_pair_override
from dflash_tui.hub.pairing import check_local_pair, draft_for
from dflash_tui.hub.registry import registry_draft_for

EXPECTED_DRAFTS = {
    "Qwen/Qwen3.5-4B": "z-lab/Qwen3.5-4B-DFlash",
    "mlx-community/Qwen3.5-9B-MLX-4bit": "z-lab/Qwen3.5-9B-DFlash",
    "mlx-community/Qwen3.5-27B-4bit": "z-lab/Qwen3.5-27B-DFlash",
    "mlx-community/Qwen3.5-35B-A3B-8bit": "z-lab/Qwen3.5-35B-A3B-DFlash",
    "Qwen/Qwen3.6-27B": "z-lab/Qwen3.6-27B-DFlash",
    "mlx-community/Qwen3.6-35B-A3B-bf16": "z-lab/Qwen3.6-35B-A3B-DFlash",
    "mlx-community/Qwen3-4B-4bit-DWQ-053125": "z-lab/Qwen3-4B-DFlash-b16",
    "mlx-community/Qwen3-8B-4bit": "z-lab/Qwen3-8B-DFlash-b16",
    "Qwen/Qwen3-8B": "z-lab/Qwen3-8B-DFlash-b16",
    "mlx-community/Qwen3-Coder-30B-A3B-Instruct-4bit": "z-lab/Qwen3-Coder-30B-A3B-DFlash",
    "openai/gpt-oss-20b": "z-lab/gpt-oss-20b-DFlash",
    "mlx-community/gpt-oss-120b-MXFP4-Q8": "z-lab/gpt-oss-120b-DFlash",
    "lmstudio-community/gpt-oss-20b-MLX-8bit": "z-lab/gpt-oss-20b-DFlash",
    "meta-llama/Llama-3.1-8B-Instruct": "z-lab/LLaMA3.1-8B-Instruct-DFlash-UltraChat",
    "mlx-community/Meta-Llama-3.1-8B-Instruct-4bit": "z-lab/LLaMA3.1-8B-Instruct-DFlash-UltraChat",
    "/Users/me/models/Qwen3-8B-MLX-bf16/": "z-lab/Qwen3-8B-DFlash-b16",
}


@pytest.mark.parametrize("target", EXPECTED_DRAFTS)
def test_registry_finds_the_draft_whatever_the_org_and_suffixes(target):
    assert registry_draft_for(target) == EXPECTED_DRAFTS[target]


@pytest.mark.parametrize("target", ["Qwen/Qwen3-4B-Instruct-2507", "mlx-community/Qwen3-14B-4bit",
                                    "mlx-community/Llama-3.2-3B-Instruct-4bit"])
def test_registry_proposes_nothing_for_models_without_a_draft(target):
    assert registry_draft_for(target) is None


def test_user_override_wins_over_the_registry_and_survives_a_restart(tmp_path, monkeypatch):
    monkeypatch.setenv("DFLASH_TUI_HOME", str(tmp_path))
    set_pair_override("mlx-community/Qwen3-8B-4bit", "me/my-qwen3-8b-draft")

    choice = draft_for("mlx-community/Qwen3-8B-4bit")

    assert (choice.draft, choice.source) == ("me/my-qwen3-8b-draft", "override")
    assert overrides_path().is_file() and str(tmp_path) in str(overrides_path())
    set_pair_override("mlx-community/Qwen3-8B-4bit", None)
    assert draft_for("mlx-community/Qwen3-8B-4bit").source == "registry"


def test_broken_overrides_file_is_reported_and_left_untouched(tmp_path, monkeypatch):
    monkeypatch.setenv("DFLASH_TUI_HOME", str(tmp_path))
    overrides_path().parent.mkdir(parents=True)
    overrides_path().write_text("[pairs\n")

    with pytest.raises(PairOverridesInvalid, match="fix or delete that file"):
        set_pair_override("a/b", "c/d")
    assert overrides_path().read_text() == "[pairs\n"


def test_a_draft_built_for_the_target_passes_the_check_on_disk(model_dirs):
    assert check_local_pair(model_dirs["target"], model_dirs["draft"]) == []
    assert check_local_pair(model_dirs["quantized"], model_dirs["draft"]) == []


def test_a_draft_for_another_target_is_refused_naming_the_mismatch(model_dirs, tmp_path):
    from dflash_tui.synthetic import build_target

    other = build_target(tmp_path / "wide-qwen3", "qwen3", hidden_size=96, num_layers=6, heads=4)

    problems = check_local_pair(other, model_dirs["draft"])

    assert any(p.startswith("draft hidden size 64 != target hidden size 96") for p in problems)
    assert any(p.startswith("draft was trained on a 4-layer target, this target has 6 layers") for p in problems)
