"""The question-and-answer item shared by the corpus sources, and its chat form.

Questions come from a few fixed templates per kind, picked by a stable hash of
the item's name, so a rebuild gives the same corpus byte for byte.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

MAX_ANSWER_CHARS = 700

QUESTION_TEMPLATES = {
    "python-api": ["What does {name} do?", "How do I use {name} in Python?", "Explain {name}.",
                   "What is {name} for?"],
    "unix-command": ["What does the {name} command do?", "How do I use {name}?",
                     "What is {name} used for on Linux?", "Explain the {name} command."],
    "c-function": ["What does the C function {name} do?", "How do I use {name}() in C?",
                   "Explain {name}() from the C library.", "What is {name} in C?"],
    "general": ["Explain {name}.", "Tell me about {name}.", "What should I know about {name}?",
                "Can you describe {name}?"],
}


@dataclass(frozen=True)
class QAItem:
    category: str  # python-api | unix-command | c-function | general
    name: str      # what the question is about
    kind: str      # directive, man section or "section"
    answer: str
    source: str    # file it came from

    def question(self, variant: int = 0) -> str:
        templates = QUESTION_TEMPLATES[self.category]
        index = (zlib.crc32(self.name.encode()) + variant) % len(templates)
        return templates[index].format(name=self.name)

    def chat(self, variant: int = 0) -> dict:
        return {"category": self.category, "messages": [
            {"role": "user", "content": self.question(variant)},
            {"role": "assistant", "content": self.answer},
        ]}


def clip_answer(paragraphs: list[str], limit: int = MAX_ANSWER_CHARS) -> str:
    """Whole paragraphs up to `limit` characters; the first one cut at a sentence end if needed."""
    kept: list[str] = []
    size = 0
    for p in paragraphs:
        if size + len(p) > limit:
            if not kept:
                cut = p[:limit].rfind(". ")
                kept.append(p[: cut + 1] if cut > 40 else p[:limit].rsplit(" ", 1)[0] + " ...")
            break
        kept.append(p)
        size += len(p) + 2
    return "\n\n".join(kept)
