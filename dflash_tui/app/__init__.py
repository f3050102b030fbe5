"""The Textual app: chat, models and live-stats panes over the decoder service."""

from .app import DflashApp, run_app

__all__ = ["DflashApp", "run_app"]
