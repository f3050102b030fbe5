"""Find fenced code blocks in a reply, so one can be copied on its own."""

from __future__ import annotations

import re

FENCE = re.compile(r"^(```|~~~)[^\n]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)


def code_blocks(markdown: str) -> list[str]:
    """The bodies of the fenced code blocks in order, without the fences."""
    return [match.group(2) for match in FENCE.finditer(markdown)]
