"""Searching the hub returns what a user needs to choose: downloads, size, last change."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from huggingface_hub import constants
from repo_names import DRAFT_REPO, QUANTIZED_REPO, TARGET_REPO

from dflash_tui.hub.errors import OfflineError
from dflash_tui.hub.search import search_models


def test_search_lists_matches_most_downloaded_first_with_size_and_date(hub_env, hub):
    found = search_models("tiny-qwen3")

    assert [m.repo_id for m in found] == [QUANTIZED_REPO, TARGET_REPO, DRAFT_REPO]
    top = found[0]
    assert (top.downloads, top.parameters) == (9000, 4_200_000)
    assert top.size_bytes == sum(len(b) for b in hub.repos[QUANTIZED_REPO].files.values())
    assert top.last_modified == datetime(2026, 5, 20, 8, 30, tzinfo=timezone.utc)
    assert [m.looks_like_draft for m in found] == [False, False, True]


def test_search_can_keep_to_one_organisation(hub_env):
    assert [m.repo_id for m in search_models("tiny", author="z-lab")] == [DRAFT_REPO]


def test_search_while_offline_says_how_to_go_online(hub_env, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    with pytest.raises(OfflineError, match="unset HF_HUB_OFFLINE to search or pull"):
        search_models("qwen")


def test_search_hits_for_registry_targets_name_their_draft(hub_env, hub, model_dirs):
    hub.add_repo("mlx-community/Qwen3-8B-4bit", model_dirs["quantized"], downloads=1)
    hub.add_repo("z-lab/Qwen3-8B-DFlash-b16", model_dirs["draft"], downloads=2)

    found = {m.repo_id: m for m in search_models("qwen3-8b")}

    assert found["mlx-community/Qwen3-8B-4bit"].known_draft == "z-lab/Qwen3-8B-DFlash-b16"
    assert found["z-lab/Qwen3-8B-DFlash-b16"].known_draft is None
