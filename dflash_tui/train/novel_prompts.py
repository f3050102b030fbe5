"""Invented questions about subjects that exist nowhere in the corpus.

The draft is scored on the target's answers to prompts it never saw, and a
small target answers those very differently from the ones it memorised. So
the draft also learns from the target's answers to invented prompts: subject
names recombined from two real ones of the same category (`os.path` +
`frexp`, `pthread` + `getgrent`), asked with the category's templates. Names
of held-out subjects and of real training subjects are never produced.
"""

from __future__ import annotations

import random
import re

from .corpus_items import QUESTION_TEMPLATES

NAME_PARTS = re.compile(r"[._-]")


def template_patterns() -> dict[str, list[re.Pattern]]:
    return {category: [re.compile("^" + re.escape(t).replace(re.escape("{name}"), "(.+)") + "$") for t in ts]
            for category, ts in QUESTION_TEMPLATES.items()}


def subject_of(question: str, category: str, patterns: dict[str, list[re.Pattern]]) -> str | None:
    for pattern in patterns.get(category, []):
        match = pattern.match(question)
        if match:
            return match.group(1)
    return None


def recombine(a: str, b: str, category: str) -> str:
    """A new subject: the head of `a` joined to the tail of `b`."""
    if category == "general":
        wa, wb = a.split(), b.split()
        return " ".join(wa[: max(1, len(wa) // 2)] + wb[len(wb) // 2:])
    seps = NAME_PARTS.findall(a)
    head = NAME_PARTS.split(a)
    tail = NAME_PARTS.split(b)[-1]
    if len(head) > 1:
        return a[: len(a) - len(head[-1])] + tail
    return f"{a}{'_' if category == 'c-function' else '-'}{tail}" if not seps else a + tail


def invent_prompts(questions: list[tuple[str, str]], forbidden: set[str], count: int,
                   seed: int = 0) -> list[dict]:
    """`count` prompt records {"messages", "category"} about invented subjects.

    questions: (category, question) pairs of the training corpus; forbidden:
    subject names (lower case) that must not be produced (held-out ones).
    """
    patterns = template_patterns()
    subjects: dict[str, list[str]] = {}
    for category, question in questions:
        name = subject_of(question, category, patterns)
        if name:
            subjects.setdefault(category, []).append(name)
    known = {n.lower() for names in subjects.values() for n in names} | forbidden
    rng = random.Random(seed)
    categories = sorted(subjects)
    out: list[dict] = []
    seen: set[str] = set()
    attempts = 0
    while len(out) < count and attempts < count * 20:
        attempts += 1
        category = rng.choice(categories)
        a, b = rng.sample(subjects[category], 2)
        name = recombine(a, b, category)
        if name.lower() in known or name in seen:
            continue
        seen.add(name)
        template = rng.choice(QUESTION_TEMPLATES[category])
        out.append({"category": category, "messages": [{"role": "user", "content": template.format(name=name)}]})
    return out
