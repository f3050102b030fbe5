"""Invented questions about subjects that exist nowhere in the corpus.

The draft is scored on the target's answers to prompts it never saw, and a
small target answers those very differently from the ones it memorised. So
the draft also learns from the target's answers to invented prompts: subject
names recombined from two real ones of the same category (`os.path` +
`frexp`, `pthread` + `getgrent`), asked with the category's templates. Names
of held-out subjects and of real training subjects are never produced.

    python -m dflash_tui.train.novel_prompts --corpus .work/corpus --novel 150000 --corpus-questions 27000 \
        --out prompts.jsonl

writes the prompts the shipped demo draft learnt from (docs/DEMO.md), for `dflash-tui train-draft
--generate-from prompts.jsonl`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
from pathlib import Path

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


def corpus_questions(corpus: Path) -> list[tuple[str, str]]:
    """(category, question) of every training chat of a corpus folder (train.jsonl.gz)."""
    with gzip.open(Path(corpus) / "train.jsonl.gz", "rt") as f:
        return [(r["category"], r["messages"][0]["content"]) for r in map(json.loads, f)]


def heldout_subjects(corpus: Path) -> set[str]:
    """Subject names (lower case) of the corpus's held-out prompts (heldout.jsonl): never invented."""
    patterns = template_patterns()
    with open(Path(corpus) / "heldout.jsonl") as f:
        records = [json.loads(line) for line in f if line.strip()]
    names = (subject_of(r["messages"][0]["content"] if "messages" in r else r["prompt"], r["category"], patterns)
             for r in records)
    return {n.lower() for n in names if n}


def draft_prompts(corpus: Path, novel: int, from_corpus: int, seed: int = 0) -> list[dict]:
    """`novel` invented prompts, then a fixed sample of `from_corpus` corpus questions: what a demo
    draft learns from (as the target's greedy answers to them)."""
    questions = corpus_questions(corpus)
    prompts = invent_prompts(questions, heldout_subjects(corpus), novel, seed=seed)
    sample = random.Random(seed).sample(questions, min(len(questions), from_corpus))
    return prompts + [{"messages": [{"role": "user", "content": q}], "category": c} for c, q in sample]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="folder with train.jsonl.gz and heldout.jsonl")
    parser.add_argument("--novel", type=int, default=50000)
    parser.add_argument("--corpus-questions", type=int, default=27000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    prompts = draft_prompts(args.corpus, args.novel, args.corpus_questions)
    with open(args.out, "w") as f:
        for p in prompts:
            f.write(json.dumps(p) + "\n")
    print(f"{len(prompts)} prompts -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
