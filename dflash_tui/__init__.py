"""dflash-tui: terminal chat with DFlash speculative decoding on MLX."""

__version__ = "0.1.0"
