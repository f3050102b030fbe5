"""The model-manager pane."""
