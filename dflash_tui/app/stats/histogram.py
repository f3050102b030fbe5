"""A small vertical bar chart in text: one column per accepted length, axis labels below.

Sparkline would stretch a 16-bucket histogram over the whole width and lose the
bucket boundaries; here every bucket keeps a fixed, labelled column.
"""

from __future__ import annotations

BLOCKS = " ▁▂▃▄▅▆▇█"


def histogram_lines(counts: list[int], height: int = 3, column: int = 4) -> list[str]:
    """Rows top to bottom, then the axis (bucket index under each bar)."""
    if not counts:
        return []
    peak = max(counts) or 1
    eighths = [round(c / peak * height * 8) if c else 0 for c in counts]
    rows = []
    for level in range(height - 1, -1, -1):
        cells = []
        for value in eighths:
            fill = min(max(value - level * 8, 0), 8)
            cells.append((BLOCKS[fill] * (column - 1)).ljust(column))
        rows.append("".join(cells).rstrip())
    rows.append("".join(str(i).ljust(column) for i in range(len(counts))).rstrip())
    return rows
