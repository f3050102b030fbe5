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


async def search_the_hub(pilot, query: str) -> None:
    """F2, then type the query into the hub search box and press Enter, as a user does."""
    await pilot.press("f2")
    pilot.app.query_one("#hub-query").focus()
    await pilot.press(*query, "enter")


async def test_hub_search_lists_results_and_offline_says_so(monkeypatch):
    monkeypatch.setattr(search, "search_models", lambda query, **kw: [
        HubModel("z-lab/Qwen3-4B-DFlash-b16", 1234, 1_000_000_000, None, None, False),
        HubModel("Qwen/Qwen3-4B", 99999, 8_000_000_000, None, None, False)])
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await search_the_hub(pilot, "qwen3")
        table = app.query_one("#hub-results")
        await wait_until(pilot, lambda: table.row_count == 2)
        assert [str(c) for c in table.get_row_at(0)] == ["z-lab/Qwen3-4B-DFlash-b16", "1,234", "1.0 GB", "draft"]

        def offline(query, **kw):
            raise OfflineError("The Hugging Face hub cannot be reached: check the network.")

        monkeypatch.setattr(search, "search_models", offline)
        app.query_one("#hub-query").focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.told("cannot be reached"))
        status = str(app.query_one("#hub-status").render())
        assert "Search for “qwen3” failed: The Hugging Face hub cannot be reached" in status  # stays on screen


async def test_a_slow_search_says_it_is_searching_and_shows_the_clients_retries(monkeypatch):
    """The hub client retries an unreachable hub for about 25 s, logging each retry: the status line says a
    search is running and why nothing came yet, and the client's log line is not written to the terminal."""
    import logging

    go = threading.Event()

    def slow(query, **kw):
        logging.getLogger("huggingface_hub.utils._http").warning("Retrying in 1s [Retry 1/5].")
        go.wait(10)
        return [HubModel("Qwen/Qwen3-4B", 99999, 8_000_000_000, None, None, False)]

    monkeypatch.setattr(search, "search_models", slow)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await search_the_hub(pilot, "qwen3")
        status = app.query_one("#hub-status")
        await wait_until(pilot, lambda: "no answer yet: Retrying in 1s [Retry 1/5]." in str(status.render()))
        assert str(status.render()).startswith("Searching the hub for “qwen3”…")
        go.set()
        await wait_until(pilot, lambda: str(status.render()).startswith("1 model on the hub for “qwen3”"))


async def test_the_hub_clients_terminal_log_handler_is_swapped_out_while_the_app_runs():
    import logging

    hub_logger = logging.getLogger("huggingface_hub")
    terminal = [h for h in hub_logger.handlers if type(h) is logging.StreamHandler]
    assert terminal, "huggingface_hub logs to stderr by default"
    app = make_app()
    async with app.run_test(size=(120, 40)):
        assert not any(type(h) is logging.StreamHandler for h in hub_logger.handlers)
    assert [h for h in hub_logger.handlers if type(h) is logging.StreamHandler] == terminal  # the CLI prints again
