"""The chat pane: conversation list, message log, prompt input, status line."""
