"""DecoderService: one thread owns every MLX call (loading and generation).

MLX streams are thread-local, so the engine is created and used on this thread
only. The UI sends commands (methods below, all non-blocking) and drains results
with `poll()` on its own clock, which coalesces a fast decoder into at most one
UI update per tick. Nothing here imports Textual.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from typing import Callable

from .engine.events import CycleStats, GenerationEvent, GenerationSummary, PrefillDone, TokenChunk
from .settings import GenerationSettings


def settings_mode(settings: GenerationSettings) -> str:
    """The engine mode a conversation's settings ask for: auto (policy), dflash (fixed block) or plain."""
    if not settings.dflash:
        return "plain"
    return "auto" if settings.auto_block else "dflash"


@dataclass
class LoadProgress:
    message: str


@dataclass
class ModelReady:
    target_name: str
    draft_name: str | None
    block_size: int | None = None


@dataclass
class LoadFailed:
    message: str


@dataclass
class RequestEvent:
    """An engine event for one generate request."""

    request_id: int
    event: GenerationEvent


@dataclass
class RequestFailed:
    request_id: int
    message: str


ServiceEvent = LoadProgress | ModelReady | LoadFailed | RequestEvent | RequestFailed


@dataclass
class RequestUpdate:
    """Everything one request produced since the last poll, merged."""

    request_id: int
    text: str = ""
    prefill: PrefillDone | None = None
    cycles: list[CycleStats] = field(default_factory=list)
    summary: GenerationSummary | None = None
    error: str | None = None


def coalesce(events: list[ServiceEvent]) -> list[LoadProgress | ModelReady | LoadFailed | RequestUpdate]:
    """Merge consecutive events of a request into one RequestUpdate, keeping order otherwise."""
    merged: list = []
    for event in events:
        if not isinstance(event, (RequestEvent, RequestFailed)):
            merged.append(event)
            continue
        last = merged[-1] if merged else None
        if not (isinstance(last, RequestUpdate) and last.request_id == event.request_id):
            last = RequestUpdate(event.request_id)
            merged.append(last)
        if isinstance(event, RequestFailed):
            last.error = event.message
            continue
        inner = event.event
        if isinstance(inner, TokenChunk):
            last.text += inner.text
        elif isinstance(inner, CycleStats):
            last.cycles.append(inner)
        elif isinstance(inner, PrefillDone):
            last.prefill = inner
        elif isinstance(inner, GenerationSummary):
            last.summary = inner
    return merged


EngineLoader = Callable[[str, str | None, Callable[..., None]], object]

NO_MODEL_MESSAGE = (
    "No model is loaded. Pick a target in the Models pane (F3), or start with "
    "`dflash-tui --target PATH_OR_REPO`."
)


def load_real_engine(target: str, draft: str | None, progress: Callable[..., None]):
    from .engine.session import Engine  # imports MLX: only ever on the decoder thread

    return Engine.load(target, draft, progress=progress)


class DecoderService:
    def __init__(self, engine_loader: EngineLoader = load_real_engine):
        self._engine_loader = engine_loader
        self._engine = None
        self._commands: queue.Queue = queue.Queue()
        self._results: queue.SimpleQueue = queue.SimpleQueue()
        self._cancels: dict[int, threading.Event] = {}  # queued or running requests
        self._thread = threading.Thread(target=self._run, name="dflash-decoder", daemon=True)
        self._thread.start()

    # commands (any thread)

    def load(self, target: str, draft: str | None = None) -> None:
        self._commands.put(("load", target, draft))

    def generate(self, request_id: int, messages: list[dict], settings: GenerationSettings,
                 mode: str | None = None) -> None:
        """Queue a reply to messages; mode overrides settings.dflash ("plain" runs the comparison)."""
        self._cancels[request_id] = threading.Event()
        self._commands.put(("generate", request_id, messages, settings, mode))

    def cancel(self) -> None:
        """Stop every queued or running generation; each still ends with a GenerationSummary."""
        for event in list(self._cancels.values()):
            event.set()

    def poll(self) -> list[ServiceEvent]:
        events = []
        while True:
            try:
                events.append(self._results.get_nowait())
            except queue.Empty:
                return events

    def shutdown(self, timeout_s: float = 5.0) -> None:
        self.cancel()
        self._commands.put(("stop",))
        self._thread.join(timeout_s)

    # the decoder thread

    def _run(self) -> None:
        while True:
            command, *args = self._commands.get()
            if command == "stop":
                return
            if command == "load":
                self._load(*args)
            elif command == "generate":
                self._generate(*args)

    def _load(self, target: str, draft: str | None) -> None:
        from .engine.errors import ModelLoadError

        self._results.put(LoadProgress(f"loading {target}" + (f" with draft {draft}" if draft else "")))
        self._engine = None
        try:
            engine = self._engine_loader(
                target, draft, lambda *parts: self._results.put(LoadProgress(" ".join(map(str, parts))))
            )
        except ModelLoadError as error:
            self._results.put(LoadFailed(str(error)))
            return
        except Exception as error:  # any failure to load must reach the user, not kill the thread
            self._results.put(LoadFailed(f"Could not load {target}: {type(error).__name__}: {error}"))
            return
        self._engine = engine
        self._results.put(ModelReady(engine.target_name, engine.draft_name,
                                     getattr(engine, "block_size", None)))

    def _generate(self, request_id: int, messages: list[dict], settings: GenerationSettings,
                  mode: str | None) -> None:
        cancel = self._cancels[request_id]
        try:
            self._generate_with(request_id, messages, settings, mode, cancel)
        finally:
            del self._cancels[request_id]

    def _generate_with(self, request_id: int, messages: list[dict], settings: GenerationSettings,
                       mode: str | None, cancel: threading.Event) -> None:
        if self._engine is None:
            self._results.put(RequestFailed(request_id, NO_MODEL_MESSAGE))
            return
        engine = self._engine
        if mode is None:
            mode = settings_mode(settings) if engine.has_draft else "plain"
        try:
            ids = engine.encode_chat(messages)
            for event in engine.generate(ids, max_tokens=settings.max_tokens, mode=mode,
                                         block_size=settings.block_size or None, cancel=cancel,
                                         **settings.sampling_kwargs()):
                self._results.put(RequestEvent(request_id, event))
        except Exception as error:  # a failed reply is reported; the service keeps serving
            self._results.put(RequestFailed(request_id, f"Generation failed: {type(error).__name__}: {error}"))
