"""Pulling a model through the real huggingface_hub client from the loopback hub."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest
from huggingface_hub import constants
from loopback_hub import LoopbackHub
from repo_names import DRAFT_REPO, GATED_REPO, TARGET_REPO

from dflash_tui.hub.download import pull
from dflash_tui.hub.errors import (
    DiskFull,
    DownloadCancelled,
    DownloadInterrupted,
    GatedRepo,
    HubError,
    OfflineError,
    RepoNotFound,
)

MODEL_FILES = ["config.json", "model.safetensors", "special_tokens_map.json", "tokenizer.json",
               "tokenizer_config.json"]


def test_pulled_model_loads_and_generates_with_mlx_lm(hub_env, model_dirs):
    from dflash_tui.mlx_setup import load_openblas

    load_openblas()
    from mlx_lm import generate, load

    events = []
    snapshot = pull(TARGET_REPO, progress=events.append)

    assert sorted(p.name for p in snapshot.iterdir()) == MODEL_FILES
    assert (snapshot / "model.safetensors").read_bytes() == (model_dirs["target"] / "model.safetensors").read_bytes()
    assert events[-1].done_bytes == events[-1].total_bytes > 0
    assert events[-1].files_done == events[-1].files_total == len(MODEL_FILES)
    model, tokenizer = load(str(snapshot))
    text = generate(model, tokenizer, prompt="The quick brown fox", max_tokens=4)
    assert len(tokenizer.encode(text)) >= 1


def test_pull_skips_files_a_model_does_not_need(hub_env, hub):
    snapshot = pull(TARGET_REPO)

    assert not (snapshot / "README.md").exists() and not (snapshot / "pytorch_model.bin").exists()
    assert not any("pytorch_model.bin" in r.path or "original/" in r.path for r in hub.requests)


def test_pulling_a_model_already_in_the_cache_downloads_nothing(hub_env, hub):
    first = pull(TARGET_REPO)
    hub.requests.clear()

    assert pull(TARGET_REPO) == first
    assert [r.path for r in hub.requests] == [f"/api/models/{TARGET_REPO}/revision/main"]


def test_cancel_from_another_thread_stops_promptly_and_the_next_pull_resumes_with_range(hub_env, hub, model_dirs):
    hub.trickle_seconds["model.safetensors"] = 0.005
    cancel, a_third_done, outcome = threading.Event(), threading.Event(), []

    def watch(progress):
        if progress.file == "model.safetensors" and progress.done_bytes > progress.total_bytes // 3:
            a_third_done.set()

    def worker():
        try:
            pull(TARGET_REPO, progress=watch, cancel=cancel)
        except DownloadCancelled as error:
            outcome.append(error)

    thread = threading.Thread(target=worker)
    thread.start()
    assert a_third_done.wait(30)
    cancelled_at = time.monotonic()
    cancel.set()
    thread.join(30)

    assert time.monotonic() - cancelled_at < 1.0
    assert "pull again to resume" in str(outcome[0])
    partials = list(hub_env.glob("models--*/blobs/*.incomplete"))
    assert len(partials) == 1
    kept = partials[0].stat().st_size
    assert 0 < kept < (model_dirs["target"] / "model.safetensors").stat().st_size

    hub.trickle_seconds.clear()
    snapshot = pull(TARGET_REPO)

    assert hub.ranges_for("model.safetensors") == [None, f"bytes={kept}-"]
    assert (snapshot / "model.safetensors").read_bytes() == (model_dirs["target"] / "model.safetensors").read_bytes()
    assert not list(hub_env.glob("models--*/blobs/*.incomplete"))


def test_cancel_while_the_server_is_silent_returns_at_once(hub_env, hub):
    hub.trickle_seconds["model.safetensors"] = 5.0  # one 16 KiB chunk, then 5 s of silence
    cancel, outcome = threading.Event(), []
    thread = threading.Thread(target=lambda: outcome.append(_pull_outcome(TARGET_REPO, cancel)))
    thread.start()
    deadline = time.monotonic() + 30
    while not any(p.stat().st_size for p in hub_env.glob("models--*/blobs/*.incomplete")):
        assert time.monotonic() < deadline
        time.sleep(0.02)

    cancelled_at = time.monotonic()
    cancel.set()
    thread.join(30)

    assert time.monotonic() - cancelled_at < 1.0
    assert isinstance(outcome[0], DownloadCancelled)


def _pull_outcome(repo_id: str, cancel: threading.Event):
    try:
        return pull(repo_id, cancel=cancel)
    except DownloadCancelled as error:
        return error


def test_dropped_connection_resumes_from_the_last_byte_received(hub_env, hub, model_dirs):
    hub.drop_once_after["model.safetensors"] = 100_000

    snapshot = pull(TARGET_REPO)

    assert hub.ranges_for("model.safetensors") == [None, "bytes=100000-"]
    assert (snapshot / "model.safetensors").read_bytes() == (model_dirs["target"] / "model.safetensors").read_bytes()


def test_connection_that_keeps_failing_stops_with_a_message_and_the_next_pull_resumes(hub_env, hub, model_dirs):
    hub.drop_always_after["model.safetensors"] = 100_000

    with pytest.raises(DownloadInterrupted, match="stopped at .*pull again to resume from there"):
        pull(TARGET_REPO)
    hub.drop_always_after.clear()
    snapshot = pull(TARGET_REPO)

    assert hub.ranges_for("model.safetensors")[-1] == "bytes=100000-"
    assert (snapshot / "model.safetensors").read_bytes() == (model_dirs["target"] / "model.safetensors").read_bytes()


def test_server_ignoring_range_restarts_the_file_without_corrupting_it(hub_env, hub, model_dirs):
    hub.drop_once_after["model.safetensors"] = 100_000
    hub.ignore_range = True

    snapshot = pull(TARGET_REPO)

    assert hub.ranges_for("model.safetensors") == [None, "bytes=100000-"]
    assert (snapshot / "model.safetensors").read_bytes() == (model_dirs["target"] / "model.safetensors").read_bytes()


def test_disk_filling_up_mid_download_says_to_free_space(hub_env, model_dirs):
    # The partial blob is /dev/full, where every write fails with ENOSPC, as on a full disk.
    etag = hashlib.sha256((model_dirs["target"] / "model.safetensors").read_bytes()).hexdigest()
    blobs = hub_env / "models--test-org--Tiny-Qwen3" / "blobs"
    blobs.mkdir(parents=True)
    (blobs / f"{etag}.incomplete").symlink_to("/dev/full")

    with pytest.raises(DiskFull, match="the disk filled up while writing test-org/Tiny-Qwen3: free some space"):
        pull(TARGET_REPO)


def test_weights_redirected_to_a_cdn_download_without_sending_the_token(hub_env, hub, model_dirs):
    with LoopbackHub() as cdn:
        cdn.repos = hub.repos
        hub.cdn = cdn

        snapshot = pull(TARGET_REPO, token="hf_secret_test_token")

    [weights] = [r for r in cdn.requests if r.method == "GET"]
    assert weights.path.startswith("/blobs/") and not weights.authorized
    assert all(r.authorized for r in hub.requests if "/resolve/" in r.path)
    assert (snapshot / "model.safetensors").read_bytes() == (model_dirs["target"] / "model.safetensors").read_bytes()


def test_missing_repo_says_so_and_how_to_find_the_right_name(hub_env):
    with pytest.raises(RepoNotFound, match=r"no model repo test-org/Qwen3-8B-4bti .*models search qwen3-8b-4bti"):
        pull("test-org/Qwen3-8B-4bti")


def test_malformed_repo_id_says_what_a_repo_id_looks_like(hub_env):
    with pytest.raises(RepoNotFound, match="is not a repo id: use org/name"):
        pull("not a/repo id")


def test_repo_without_safetensors_points_to_mlx_conversions(hub_env, hub):
    hub.add_repo("someone/Qwen3-8B-GGUF", extra_files={"config.json": b"{}", "qwen3-8b-q4_k_m.gguf": b"GGUF"})

    with pytest.raises(HubError, match="no .safetensors weights .*models search qwen3-8b --author mlx-community"):
        pull("someone/Qwen3-8B-GGUF")
    assert not list(hub_env.rglob("*.gguf"))


def test_gated_repo_says_to_accept_terms_and_log_in(hub_env):
    with pytest.raises(GatedRepo, match=r"meta-llama/Tiny-Llama is gated: accept its terms .*hf auth login"):
        pull(GATED_REPO)


def test_offline_mode_gives_a_clear_message(hub_env, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    with pytest.raises(OfflineError, match="HF_HUB_OFFLINE"):
        pull(TARGET_REPO)


def test_unreachable_hub_says_to_check_the_network(hub_env, hub, monkeypatch):
    closed = hub.url.rsplit(":", 1)[0] + ":9"  # the discard port: nothing listens on loopback
    monkeypatch.setattr(constants, "ENDPOINT", closed)

    with pytest.raises(OfflineError, match="cannot reach .* check the network connection"):
        pull(TARGET_REPO)


def test_repo_larger_than_the_free_disk_is_refused_before_writing(hub_env, hub):
    huge = 1 << 60  # 1 EiB: more than any disk has free
    hub.repos[TARGET_REPO].files["model-00002-of-00002.safetensors"] = b""
    hub.repos[TARGET_REPO].declared_sizes = {"model-00002-of-00002.safetensors": huge}

    with pytest.raises(DiskFull, match="not enough disk space .* free some space"):
        pull(TARGET_REPO)
    assert not hub_env.exists() or not list(hub_env.rglob("*.incomplete"))


def test_pulled_target_and_draft_load_as_a_dflash_pair_and_generate(hub_env):
    from dflash_tui.engine.events import GenerationSummary
    from dflash_tui.engine.session import Engine

    engine = Engine.load(pull(TARGET_REPO), pull(DRAFT_REPO))
    events = list(engine.generate(engine.encode_chat([{"role": "user", "content": "hi"}]), max_tokens=8,
                                  mode="dflash"))

    summary = events[-1]
    assert isinstance(summary, GenerationSummary) and summary.mode == "dflash"
    assert summary.generated_tokens > 0
