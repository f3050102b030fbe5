"""The model-manager pane: local models, choosing a pair, pulling, deleting, hub search.

Hub and disk work (listing, pulling, deleting, searching) runs in thread workers
through dflash_tui.hub; loading goes to the decoder thread via the app, so the
UI stays responsive throughout. A pair that does not fit is refused with the reason.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Label, ProgressBar, Static

from ...hub.errors import HubError
from ...hub.units import format_size
from ..dialogs import ConfirmScreen, TextPromptScreen
from ..model_state import HOW_TO_GET_ONE, ModelState
from .catalog import Catalog, CatalogEntry, build_catalog, demo_pair, propose_draft

if TYPE_CHECKING:
    from ..app import DflashApp

PROGRESS_EVERY_S = 0.1


class ModelsPane(Vertical):
    app: "DflashApp"

    BINDINGS = [
        Binding("t", "choose_target", "Use as target", id="models.target"),
        Binding("d", "choose_draft", "Use as draft", id="models.draft"),
        Binding("n", "no_draft", "No draft", id="models.no_draft", show=False),
        Binding("l", "load", "Load pair", id="models.load"),
        Binding("delete", "delete_model", "Delete", id="models.delete"),
        Binding("p", "pull", "Pull", id="models.pull"),
        Binding("x", "cancel_pull", "Cancel pull", id="models.cancel_pull"),
        Binding("slash", "focus_search", "Search hub", id="models.search"),
        Binding("a", "add_folder", "Add folder", id="models.add_folder"),
        Binding("r", "refresh", "Refresh", id="models.refresh", show=False),
    ]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.catalog = Catalog([])
        self.target: CatalogEntry | None = None
        self.draft: CatalogEntry | None = None
        self._pull_cancel: threading.Event | None = None
        self._searching: str | None = None  # the query of the hub search in flight

    def compose(self) -> ComposeResult:
        yield Static("", id="model-state", markup=False)
        yield Static("", id="model-choice", markup=False)
        yield Label("Local models · t target · d draft · n no draft · l load · Del delete · a add folder")
        table = DataTable(id="local-models", cursor_type="row", zebra_stripes=True)
        table.add_columns("Name", "Kind", "Family", "Size", "Quant", "Fits")
        yield table
        yield Input(placeholder="Search the hub (Enter), or type a repo id and press p to pull", id="hub-query")
        yield Static("", id="hub-status", markup=False)
        with Horizontal(id="pull-row"):
            yield ProgressBar(id="pull-progress", show_eta=True)
            yield Static("", id="pull-status", markup=False)
        hub = DataTable(id="hub-results", cursor_type="row")
        hub.add_columns("Repo", "Downloads", "Size", "Kind")
        yield hub

    def on_mount(self) -> None:
        self.query_one("#pull-row").display = False
        self.query_one("#hub-results").display = False
        self.query_one("#hub-status").display = False  # until a search or the hub client has something to say
        self._show_choice()

    # start-up

    def start_with(self, target: str | None, draft: str | None, no_draft: bool) -> None:
        """Load the pair asked for on the command line, else the saved one, else the demo pair."""
        saved = self.app.settings.models
        if not target and saved.target:
            target, draft = saved.target, draft or saved.draft or None
        if not target:
            target, draft = demo_pair()
        if not target:
            self.app.notify(f"No model is available yet. {HOW_TO_GET_ONE}", title="No model", severity="warning",
                            timeout=30)
        else:
            if no_draft:
                draft = None
            elif not draft:
                draft = propose_draft(target)
            self.app.load_model(target, draft)
        self.refresh_catalog()

    # the local list

    @work(thread=True, exclusive=True, group="catalog")
    def refresh_catalog(self) -> None:
        try:
            catalog = build_catalog(self.app.settings.models.folders)
        except (HubError, OSError) as error:
            self.app.call_from_thread(self.app.notify, f"Could not list local models: {error}", severity="error")
            return
        self.app.call_from_thread(self._show_catalog, catalog)

    def _show_catalog(self, catalog: Catalog) -> None:
        self.catalog = catalog
        table = self.query_one("#local-models", DataTable)
        table.clear()
        for entry in catalog.entries:
            d = entry.model.description
            table.add_row(entry.display_name, d.kind, d.family or "?", format_size(d.size_bytes),
                          str(d.quantization) if d.quantization else "–", catalog.fits_text(entry),
                          key=entry.key)
        if not catalog.entries:
            self.query_one("#model-choice", Static).update(
                f"No local models found (Hugging Face cache, models.folders in settings.toml). {HOW_TO_GET_ONE}")

    def _highlighted(self) -> CatalogEntry | None:
        table = self.query_one("#local-models", DataTable)
        if not self.catalog.entries or table.cursor_row is None:
            return None
        key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        return self.catalog.by_key(key)

    # choosing and loading

    def action_choose_target(self) -> None:
        entry = self._highlighted()
        if entry is None:
            self.app.notify("Highlight a model in the list first.")
            return
        if entry.model.description.kind != "target":
            self.app.notify(f"{entry.model.name} is a {entry.model.description.kind} model, not a target.",
                            severity="warning")
            return
        self.target = entry
        self.draft = self.catalog.proposed_draft(entry)
        self._show_choice()

    def action_choose_draft(self) -> None:
        entry = self._highlighted()
        if entry is None or entry.model.description.kind != "draft":
            self.app.notify("Highlight a DFlash draft (kind: draft) first.", severity="warning")
            return
        problems = self.catalog.pair_problems(self.target, entry) if self.target else []
        if problems:
            self.app.notify(f"{entry.model.name} does not fit {self.target.model.name}: " + "; ".join(problems),
                            title="Incompatible pair", severity="error", timeout=20)
            return
        self.draft = entry
        self._show_choice()

    def action_no_draft(self) -> None:
        self.draft = None
        self._show_choice()

    def action_load(self) -> None:
        if self.target is None:
            self.app.notify("Choose a target first: highlight it and press t.")
            return
        problems = self.catalog.pair_problems(self.target, self.draft) if self.draft else []
        if problems:
            self.app.notify("Refused: " + "; ".join(problems), title="Incompatible pair", severity="error")
            return
        target, draft = self.target.model.name, self.draft.model.name if self.draft else None
        self.app.load_model(target, draft)
        self.app.save_setting(models=replace(self.app.settings.models, target=target, draft=draft or ""))

    def _show_choice(self) -> None:
        target = self.target.model.name if self.target else "– (t on a target)"
        draft = self.draft.model.name if self.draft else "none (plain decoding only)"
        self.query_one("#model-choice", Static).update(f"Chosen: target {target} · draft {draft} · l loads")

    def show_model_state(self, state: ModelState) -> None:
        text = f"In use: {state.describe()}"
        if state.status == "failed":
            text += f"\n{state.message}"
        self.query_one("#model-state", Static).update(text)

    # delete

    def action_delete_model(self) -> None:
        entry = self._highlighted()
        if entry is None:
            self.app.notify("Highlight a model to delete first.")
            return
        if entry.model.source != "hf-cache":
            self.app.notify(f"{entry.model.name} is a folder you added: delete it with your file manager, "
                            "or remove it from models.folders in settings.toml.", severity="warning", timeout=15)
            return
        self._plan_delete(entry.model.name)

    @work(thread=True, group="delete")
    def _plan_delete(self, repo_id: str) -> None:
        from ...hub.remove import plan_removal

        try:
            plan = plan_removal(repo_id)
        except (HubError, OSError) as error:
            self.app.call_from_thread(self.app.notify, str(error), severity="error")
            return
        self.app.call_from_thread(self._confirm_delete, plan)

    def _confirm_delete(self, plan) -> None:
        def answer(confirmed: bool | None) -> None:
            if confirmed:
                self._delete(plan)

        self.app.push_screen(ConfirmScreen(f"Delete {plan.repo_id} from the Hugging Face cache? "
                                           f"This frees {format_size(plan.freed_bytes)}."), answer)

    @work(thread=True, group="delete")
    def _delete(self, plan) -> None:
        from ...hub.remove import remove

        try:
            freed = remove(plan)
        except OSError as error:
            self.app.call_from_thread(self.app.notify, f"Could not delete {plan.repo_id}: {error}",
                                      severity="error", timeout=15)
            return
        self.app.call_from_thread(self.app.notify, f"Deleted {plan.repo_id}, freed {format_size(freed)}.")
        self.refresh_catalog()

    def action_refresh(self) -> None:
        self.refresh_catalog()

    def action_add_folder(self) -> None:
        def add(folder: str | None) -> None:
            if not folder:
                return
            path = Path(folder).expanduser()
            if not path.is_dir():
                self.app.notify(f"{path} is not a folder: give a model folder (with config.json) or a folder "
                                "of model folders.", severity="error", timeout=15)
                return
            models = self.app.settings.models
            if str(path) not in models.folders:
                self.app.save_setting(models=replace(models, folders=[*models.folders, str(path)]))
            self.refresh_catalog()

        self.app.push_screen(TextPromptScreen("Add a folder of models (or one model folder)"), add)

    # hub: search and pull

    def action_focus_search(self) -> None:
        self.query_one("#hub-query").focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "hub-query" and event.value.strip():
            query = event.value.strip()
            self._searching = query
            self._hub_status(f"Searching the hub for “{query}”…")
            self._search(query)

    def _hub_status(self, text: str) -> None:
        status = self.query_one("#hub-status", Static)
        status.update(text)
        status.display = True

    def hub_message(self, message: str) -> None:
        """A warning from the hub client (a retry, say): on the status line, next to what it is about. With
        no network a search retries for about 25 s before it fails; this says why nothing has come yet."""
        if self._searching is not None:
            self._hub_status(f"Searching the hub for “{self._searching}”… no answer yet: {message}")
        else:
            self._hub_status(f"Hub: {message}")

    @work(thread=True, exclusive=True, group="search")
    def _search(self, query: str) -> None:
        from ...hub.search import search_models

        try:
            found = search_models(query)
        except (HubError, OSError) as error:
            self.app.call_from_thread(self._search_failed, query, str(error))
            return
        self.app.call_from_thread(self._show_hits, found, query)

    def _search_failed(self, query: str, error: str) -> None:
        self._searching = None
        self._hub_status(f"Search for “{query}” failed: {error}")
        self.app.notify(error, title="Hub search failed", severity="error", timeout=15)

    def _show_hits(self, found, query: str) -> None:
        self._searching = None
        self._hub_status(f"{len(found)} model{'s' if len(found) != 1 else ''} on the hub for “{query}”"
                         + (" · p pulls the highlighted one" if found else ""))
        table = self.query_one("#hub-results", DataTable)
        table.clear()
        for model in found:
            table.add_row(model.repo_id, f"{model.downloads:,}",
                          format_size(model.size_bytes) if model.size_bytes else "?",
                          "draft" if model.looks_like_draft else "model", key=model.repo_id)
        table.display = True
        table.focus()
        if not found:
            self.app.notify("No models found on the hub for that search.")

    def _repo_to_pull(self) -> str | None:
        hub = self.query_one("#hub-results", DataTable)
        if hub.has_focus and hub.row_count:
            return hub.coordinate_to_cell_key((hub.cursor_row, 0)).row_key.value
        typed = self.query_one("#hub-query", Input).value.strip()
        return typed if typed.count("/") == 1 else None

    def action_pull(self) -> None:
        repo = self._repo_to_pull()
        if repo is None:
            self.app.notify("Type a repo id (owner/name) in the search box, or highlight a search result.")
            return
        if self._pull_cancel is not None:
            self.app.notify("A download is already running: x cancels it.", severity="warning")
            return
        self._pull_cancel = threading.Event()
        self.query_one("#pull-row").display = True
        self.query_one("#pull-status", Static).update(f"Pulling {repo}…")
        self._pull(repo, self._pull_cancel)

    def action_cancel_pull(self) -> None:
        if self._pull_cancel is None:
            self.app.notify("No download is running.")
            return
        self._pull_cancel.set()

    @work(thread=True, group="pull")
    def _pull(self, repo: str, cancel: threading.Event) -> None:
        from ...hub.download import pull

        last = 0.0

        def progress(p) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= PROGRESS_EVERY_S or p.done_bytes >= p.total_bytes:
                last = now
                self.app.call_from_thread(self._show_pull, p)

        try:
            path = pull(repo, progress=progress, cancel=cancel)
            message, severity = f"Downloaded {repo} to {path}.", "information"
        except (HubError, OSError) as error:
            message, severity = str(error), "warning" if cancel.is_set() else "error"
        self.app.call_from_thread(self._pull_done, message, severity)

    def _show_pull(self, p) -> None:
        bar = self.query_one("#pull-progress", ProgressBar)
        bar.update(total=max(p.total_bytes, 1), progress=p.done_bytes)
        self.query_one("#pull-status", Static).update(
            f"{p.repo_id}: {format_size(p.done_bytes)} / {format_size(p.total_bytes)} · "
            f"file {p.files_done + 1}/{p.files_total} {Path(p.file).name} · x cancels")

    def _pull_done(self, message: str, severity: str) -> None:
        self._pull_cancel = None
        self.query_one("#pull-row").display = False
        self.app.notify(message, severity=severity, timeout=15)
        self.refresh_catalog()
