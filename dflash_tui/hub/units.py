"""Human-readable sizes and counts for model lists (decimal units, as the hub shows them)."""

from __future__ import annotations


def format_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def format_count(n: int | None) -> str:
    """Parameter counts: 812, 6.2K, 4.0M, 8.2B."""
    if n is None:
        return "?"
    for suffix, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f}{suffix}"
    return str(n)
