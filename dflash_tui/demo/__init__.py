"""The embedded default pair: a small chat target and its DFlash draft, shipped inside the package.

The app and the tests use it when no other model is chosen, with no network.
Both were trained here (docs/DEMO.md says how; dflash_tui/train builds them):
a 4-layer qwen3 target on question-and-answer chats made from the Python
documentation and the manual pages, and a 2-layer DFlash v1 draft. bf16 on
disk (the engine runs them in fp32 on the CPU). heldout_prompts.jsonl holds
the prompts never trained on that the acceptance figures are measured with.
"""

from __future__ import annotations

from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent
REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")


def demo_target_path() -> Path:
    return DEMO_DIR / "target"


def demo_draft_path() -> Path:
    return DEMO_DIR / "draft"


def demo_heldout_prompts_path() -> Path:
    return DEMO_DIR / "heldout_prompts.jsonl"


def demo_available() -> bool:
    """True when both models are installed with their weights (a stripped install may lack them)."""
    return all((folder / name).is_file() for folder in (demo_target_path(), demo_draft_path())
               for name in REQUIRED_FILES)
