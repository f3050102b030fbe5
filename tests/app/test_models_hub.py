"""Pull, delete and search in the models pane. Deleting runs on a real Hugging Face cache
layout; pulling and searching replace only the network calls (no network in tests)."""

import shutil
import threading
from pathlib import Path

import pytest
from app_helpers import make_app, wait_until

import huggingface_hub.constants
from dflash_tui.hub import download, search
from dflash_tui.hub.download import PullProgress
from dflash_tui.hub.errors import DownloadCancelled, OfflineError
from dflash_tui.hub.search import HubModel
from dflash_tui.synthetic import build_target


@pytest.fixture(scope="module")
def tiny_target(tmp_path_factory):
    return build_target(tmp_path_factory.mktemp("tiny") / "tiny-qwen3", "qwen3")


def put_in_hf_cache(model_dir, repo_id):
    """Lay model_dir out as huggingface_hub caches a downloaded repo."""
    storage = Path(huggingface_hub.constants.HF_HUB_CACHE) / ("models--" + repo_id.replace("/", "--"))
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(model_dir, storage / "snapshots" / commit)
    (storage / "refs").mkdir()
    (storage / "refs" / "main").write_text(commit)
    return storage


async def test_delete_from_the_cache_confirms_with_the_space_freed_and_removes_it(tiny_target):
    storage = put_in_hf_cache(tiny_target, "tiny/qwen3")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f2")
        await wait_until(pilot, lambda: any(e.model.source == "hf-cache" for e in app.models_pane.catalog.entries))
        table = app.query_one("#local-models")
        table.move_cursor(row=next(i for i, e in enumerate(app.models_pane.catalog.entries)
                                   if e.model.source == "hf-cache"))
        await pilot.press("delete")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "ConfirmScreen")
        question = str(app.screen.query_one(".dialog-question").render())
        assert "Delete tiny/qwen3" in question and "This frees 1.0 MB" in question
        await pilot.press("y")
        await wait_until(pilot, lambda: app.told("Deleted tiny/qwen3"))
        assert not storage.exists()
        await wait_until(pilot, lambda: all(e.model.source != "hf-cache" for e in app.models_pane.catalog.entries))


async def test_pull_shows_byte_progress_and_x_cancels_it(monkeypatch):
    started = threading.Event()

    def fake_pull(repo_id, *, progress, cancel, **kwargs):
        progress(PullProgress(repo_id, "model.safetensors", 1_500_000, 4_000_000, 0, 2))
        started.set()
        cancel.wait(10)
        raise DownloadCancelled(f"Pull of {repo_id} cancelled; pull it again to resume.")

    monkeypatch.setattr(download, "pull", fake_pull)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f2")
        app.query_one("#hub-query").value = "org/some-model"
        app.query_one("#local-models").focus()
        await pilot.press("p")
        await wait_until(pilot, lambda: "1.5 MB / 4.0 MB" in str(app.query_one("#pull-status").render()))
        assert app.query_one("#pull-row").display
        await pilot.press("x")
        await wait_until(pilot, lambda: app.told("cancelled; pull it again to resume"))
        assert not app.query_one("#pull-row").display


async def test_hub_search_lists_results_and_offline_says_so(monkeypatch):
    monkeypatch.setattr(search, "search_models", lambda query, **kw: [
        HubModel("z-lab/Qwen3-4B-DFlash-b16", 1234, 1_000_000_000, None, None, False),
        HubModel("Qwen/Qwen3-4B", 99999, 8_000_000_000, None, None, False)])
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f2")
        app.query_one("#hub-query").focus()
        await pilot.press(*"qwen3", "enter")
        table = app.query_one("#hub-results")
        await wait_until(pilot, lambda: table.row_count == 2)
        assert [str(c) for c in table.get_row_at(0)] == ["z-lab/Qwen3-4B-DFlash-b16", "1,234", "1.0 GB", "draft"]

        def offline(query, **kw):
            raise OfflineError("The Hugging Face hub cannot be reached: check the network.")

        monkeypatch.setattr(search, "search_models", offline)
        app.query_one("#hub-query").focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.told("cannot be reached"))
