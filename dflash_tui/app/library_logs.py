"""Library log lines inside the app instead of over its screen.

huggingface_hub gives its loggers a StreamHandler bound to stderr when it is imported, and Textual
draws the app on that same terminal: a hub search with no network wrote "Retrying in 1s [Retry 1/5]."
straight over the models pane. While the app runs, those handlers are swapped for one that hands each
warning to the app (the models pane shows it on its hub status line); they are put back when the app
exits, so the command-line tools keep printing them. (transformers does the same, but it is first
imported on the decoder thread while the app runs, when Textual already captures stderr.)
"""

from __future__ import annotations

import logging
from typing import Callable

LIBRARY_LOGGERS = ("huggingface_hub",)


class ToApp(logging.Handler):
    """Hands each record (warnings and worse) to deliver(logger name, level, message)."""

    def __init__(self, deliver: Callable[[str, int, str], None]):
        super().__init__(logging.WARNING)
        self.deliver = deliver

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.deliver(record.name, record.levelno, self.format(record))
        except Exception:  # a log line must never take the app down
            self.handleError(record)


def _writes_to_terminal(handler: logging.Handler) -> bool:
    return isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)


def route_library_logs(deliver: Callable[[str, int, str], None]) -> Callable[[], None]:
    """Swap the terminal handlers of LIBRARY_LOGGERS for one calling deliver; returns the undo."""
    import huggingface_hub.utils.logging  # noqa: F401  (adds its stderr handler on import: swap it, not miss it)

    handler = ToApp(deliver)
    swapped = []
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        removed = [h for h in logger.handlers if _writes_to_terminal(h)]
        for h in removed:
            logger.removeHandler(h)
        logger.addHandler(handler)
        swapped.append((logger, removed))

    def undo() -> None:
        for logger, removed in swapped:
            logger.removeHandler(handler)
            for h in removed:
                logger.addHandler(h)

    return undo
