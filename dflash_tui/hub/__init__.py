"""Model management on huggingface-hub: list, pull, remove, search and pair drafts.

Blocking functions with progress callbacks and plain dataclasses, meant for a
worker thread or the command line; nothing here imports Textual or mlx.
This package file stays empty so `registry` (used by dflash_tui.compat) imports
without pulling in huggingface_hub.
"""
