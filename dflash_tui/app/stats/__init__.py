"""The live-stats pane and the numbers behind it."""
