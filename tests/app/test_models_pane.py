"""The models pane over real model folders (tiny synthetic models) and the real hub listing code."""

import pytest
from app_helpers import make_app, wait_until

from dflash_tui.app.models.catalog import build_catalog
from dflash_tui.settings import Settings, load_settings, save_settings
from dflash_tui.synthetic import build_draft, build_target


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    build_target(folder / "tiny-qwen3", "qwen3")
    build_draft(folder / "tiny-qwen3-dflash", folder / "tiny-qwen3")
    build_target(folder / "tiny-llama", "llama", hidden_size=96)
    return folder


def test_catalog_says_which_drafts_fit_which_targets(model_folder):
    catalog = build_catalog([str(model_folder)])
    by_name = {e.model.path.name: e for e in catalog.entries}
    assert by_name["tiny-qwen3-dflash"].model.description.kind == "draft"
    assert catalog.fits_text(by_name["tiny-qwen3"]).endswith("/tiny-qwen3-dflash")
    assert catalog.fits_text(by_name["tiny-llama"]) == "no local draft"
    assert catalog.proposed_draft(by_name["tiny-qwen3"]) is by_name["tiny-qwen3-dflash"]
    assert "hidden size" in " ".join(catalog.pair_problems(by_name["tiny-llama"], by_name["tiny-qwen3-dflash"]))


def listed(app, *names):
    shown = {e.model.path.name for e in app.models_pane.catalog.entries}
    return set(names) <= shown


def remember_folder(model_folder) -> None:
    settings = Settings()
    settings.models.folders = [str(model_folder)]
    save_settings(settings)


async def open_models_pane(pilot, app) -> None:
    await pilot.press("f2")
    await wait_until(pilot, lambda: listed(app, "tiny-qwen3", "tiny-qwen3-dflash", "tiny-llama"))


def _select_row(app, name):
    table = app.query_one("#local-models")
    row = next(i for i, e in enumerate(app.models_pane.catalog.entries) if e.model.path.name == name)
    table.move_cursor(row=row)


async def test_choosing_a_target_proposes_its_draft_and_loading_uses_the_pair(model_folder):
    remember_folder(model_folder)
    engines = []
    app = make_app(engines=engines)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_models_pane(pilot, app)
        table = app.query_one("#local-models")
        table_text = " ".join(str(cell) for row in range(table.row_count) for cell in table.get_row_at(row))
        assert "draft" in table_text and "qwen3" in table_text and "fits" in table_text
        _select_row(app, "tiny-qwen3")
        await pilot.press("t")
        assert app.models_pane.draft.model.path.name == "tiny-qwen3-dflash"
        await pilot.press("l")
        await wait_until(pilot, lambda: app.model.ready and app.model.target.endswith("tiny-qwen3"))
        assert app.model.draft.endswith("tiny-qwen3-dflash")
        assert app.settings.models.target.endswith("tiny-qwen3")


async def test_an_incompatible_draft_is_refused_with_the_reason(model_folder):
    remember_folder(model_folder)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_models_pane(pilot, app)
        _select_row(app, "tiny-llama")
        await pilot.press("t")
        assert app.models_pane.draft is None
        _select_row(app, "tiny-qwen3-dflash")
        await pilot.press("d")
        assert app.told("does not fit") and app.told("hidden size")
        assert app.models_pane.draft is None


async def test_deleting_a_user_folder_model_explains_it_is_not_ours_to_delete(model_folder):
    remember_folder(model_folder)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_models_pane(pilot, app)
        await pilot.press("delete")
        assert app.told("is a folder you added")
        assert (model_folder / "tiny-qwen3").is_dir()


async def test_a_user_folder_added_in_the_pane_is_listed_and_remembered(model_folder):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f2")
        await pilot.press("a")
        await pilot.pause()
        app.screen.query_one("Input").value = "/no/such/folder"
        await pilot.press("enter")
        await pilot.pause()
        assert app.told("/no/such/folder is not a folder")
        await pilot.press("a")
        await pilot.pause()
        app.screen.query_one("Input").value = str(model_folder)
        await pilot.press("enter")
        await wait_until(pilot, lambda: listed(app, "tiny-qwen3", "tiny-qwen3-dflash", "tiny-llama"))
    assert load_settings().settings.models.folders == [str(model_folder)]
