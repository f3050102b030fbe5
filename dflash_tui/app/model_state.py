"""What the app knows about the loaded model pair, and how to say it (no Textual)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

NONE, LOADING, READY, FAILED = "none", "loading", "ready", "failed"
HOW_TO_GET_ONE = ("Press F2 to choose a model, or start with `dflash-tui --target PATH_OR_REPO` "
                  "(`dflash-tui models pull REPO` downloads one).")


def short_name(name: str) -> str:
    """A repo id as is; a folder path by its last two parts, e.g. demo/target (paths crowd the status line)."""
    return "/".join(Path(name).parts[-2:]) if name.startswith(("/", "~", ".")) else name


@dataclass
class ModelState:
    status: str = NONE
    target: str = ""
    draft: str | None = None
    block_size: int | None = None
    message: str = ""  # the latest progress or failure text

    @property
    def ready(self) -> bool:
        return self.status == READY

    @property
    def is_demo(self) -> bool:
        """The tiny pair shipped in the package, which the app starts on when no model is configured."""
        from ..demo import demo_target_path

        try:
            return Path(self.target).resolve() == demo_target_path()
        except (OSError, ValueError):
            return False

    def describe(self) -> str:
        if self.status == READY and self.is_demo:
            return "embedded demo pair (F2 for real models)"
        if self.status == READY:
            target = short_name(self.target)
            return f"{target} + {short_name(self.draft)}" if self.draft else f"{target} (no draft)"
        if self.status == LOADING:
            return f"⏳ {self.message}"
        if self.status == FAILED:
            return "Model failed to load (F2 to choose another)"
        return "No model loaded (F2 to choose one)"

    def explain_not_ready(self) -> str:
        if self.status == LOADING:
            return "The model is still loading; wait for it to finish."
        if self.status == FAILED:
            return f"The model failed to load: {self.message} {HOW_TO_GET_ONE}"
        return f"No model is loaded. {HOW_TO_GET_ONE}"
