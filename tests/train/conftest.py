"""Trainer tests run real tiny MLX models: a random qwen3 target (hidden 64, 4 layers) built once per session."""

import json
from pathlib import Path

import pytest

from dflash_tui.mlx_setup import load_openblas

load_openblas()  # before anything imports mlx

from dflash_tui.synthetic import build_target  # noqa: E402

CHATS = [
    ("What does ls do?", "ls lists directory contents. Use ls -l for a long listing."),
    ("What does cp do?", "cp copies files and directories. Use cp -r to copy a directory."),
    ("What is a list?", "A list is a mutable sequence. Lists are built in to Python."),
    ("What does def do?", "def defines a function. def main(): return 42 is a function."),
]


@pytest.fixture(scope="session")
def tiny_target(tmp_path_factory) -> Path:
    return build_target(tmp_path_factory.mktemp("models") / "qwen3", "qwen3")


@pytest.fixture(scope="session")
def chats_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "chats.jsonl"
    with open(path, "w") as f:
        for _ in range(4):
            for question, answer in CHATS:
                f.write(json.dumps({"messages": [{"role": "user", "content": question},
                                                 {"role": "assistant", "content": answer}]}) + "\n")
    return path
