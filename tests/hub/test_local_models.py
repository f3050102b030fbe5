"""Listing and removing models, on a real HF cache filled by pulls from the loopback hub."""

from __future__ import annotations

import json
import threading

import pytest
from repo_names import DRAFT_REPO, QUANTIZED_REPO, TARGET_REPO

from dflash_tui.hub.download import pull
from dflash_tui.hub.errors import DownloadCancelled, NotCached
from dflash_tui.hub.local import PartialDownload, list_local_models, partial_downloads, resolve_local
from dflash_tui.hub.remove import plan_removal, remove


def test_listing_shows_kind_family_parameters_quantization_and_size(hub_env, model_dirs):
    for repo in (TARGET_REPO, QUANTIZED_REPO, DRAFT_REPO):
        pull(repo)

    models = {m.name: m for m in list_local_models()}

    target, quantized, draft = models[TARGET_REPO], models[QUANTIZED_REPO], models[DRAFT_REPO]
    assert (target.description.kind, target.description.family) == ("target", "qwen3")
    assert (draft.description.kind, quantized.description.kind) == ("draft", "target")
    assert target.description.quantization is None and not target.description.parameters_estimated
    assert (quantized.description.quantization.bits, quantized.description.quantization.group_size) == (4, 32)
    assert quantized.description.parameters_estimated
    assert quantized.description.parameters == target.description.parameters
    assert target.description.size_bytes == sum(p.stat().st_size for p in model_dirs["target"].iterdir())
    assert target.refs == ("main",) and target.source == "hf-cache"
    assert resolve_local(TARGET_REPO) == target.path


def test_user_folders_are_listed_next_to_the_cache(hub_env, model_dirs):
    models = list_local_models([model_dirs["target"].parent])

    assert {m.path for m in models} == set(model_dirs.values())
    assert all(m.source == "folder" and m.revision is None for m in models)


def test_a_hybrid_qwen3_5_target_is_listed_with_its_family(tmp_path):
    from dflash_tui.synthetic import build_target

    build_target(tmp_path / "tiny-qwen3.5", "qwen3_5", hidden_size=64, num_layers=4)

    [model] = list_local_models([tmp_path])

    assert (model.description.kind, model.description.family) == ("target", "qwen3_5")
    assert model.description.parameters > 0


def test_a_folder_with_a_broken_config_is_listed_with_the_reason(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")

    [model] = list_local_models([tmp_path])

    assert model.description.kind == "unknown"
    assert "unreadable config.json" in model.description.problem


def test_removing_a_model_frees_the_reported_space_and_unlists_it(hub_env):
    pull(TARGET_REPO)
    pull(DRAFT_REPO)
    blobs = hub_env / "models--test-org--Tiny-Qwen3" / "blobs"
    on_disk = sum(p.stat().st_size for p in blobs.iterdir())

    plan = plan_removal(TARGET_REPO)
    freed = remove(plan)

    assert freed == plan.freed_bytes == on_disk
    assert [m.name for m in list_local_models()] == [DRAFT_REPO]
    assert not blobs.exists()


def test_removing_an_old_revision_keeps_the_current_one_and_the_blobs_it_shares(hub_env, hub):
    old = pull(TARGET_REPO)
    repo = hub.repos[TARGET_REPO]
    repo.files["config.json"] = json.dumps({**json.loads(repo.files["config.json"]), "updated": True}).encode()
    new = pull(TARGET_REPO)
    assert [m.revision for m in list_local_models()] == [new.name, old.name]
    only_in_old = (old / "config.json").stat().st_size

    freed = remove(plan_removal(TARGET_REPO, [old.name[:8]]))

    assert freed == only_in_old
    assert [m.revision for m in list_local_models()] == [new.name]
    assert (new / "model.safetensors").is_file()


def test_a_cancelled_pull_is_listed_as_partial_and_removing_it_clears_the_files(hub_env, hub):
    hub.trickle_seconds["model.safetensors"] = 0.005
    cancel = threading.Event()
    with pytest.raises(DownloadCancelled):
        pull(TARGET_REPO, cancel=cancel,
             progress=lambda p: p.file == "model.safetensors" and p.done_bytes > 200_000 and cancel.set())
    partial = next(hub_env.glob("models--*/blobs/*.incomplete"))
    assert partial_downloads() == [PartialDownload(TARGET_REPO, partial.stat().st_size)]

    plan = plan_removal(TARGET_REPO)

    assert plan.freed_bytes >= partial.stat().st_size
    remove(plan)
    assert not partial.exists()
    assert list_local_models() == []


def test_removing_a_model_that_is_not_cached_says_so(hub_env):
    with pytest.raises(NotCached, match="not in the Hugging Face cache: `dflash-tui models list`"):
        plan_removal(TARGET_REPO)
