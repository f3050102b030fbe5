"""Build the demo pair's chat corpus from offline documentation.

    python -m dflash_tui.train.corpus --out .work/corpus

needs `apt-get install python3-doc manpages manpages-dev` (build time only; the
app never runs this). Writes train.jsonl.gz (chats, two question phrasings per
item) and heldout.jsonl (prompts whose subjects appear nowhere in training,
HELDOUT_PER_CATEGORY per category, used for the acceptance figures).
"""

from __future__ import annotations

import argparse
import gzip
import json
import zlib
from collections import defaultdict
from pathlib import Path

from .corpus_items import QAItem
from .corpus_manpages import manpage_items
from .corpus_python_docs import python_doc_items

PYTHON_DOC_SOURCES = Path("/usr/share/doc/python3.11/html/_sources")
HELDOUT_PER_CATEGORY = 20
QUESTION_VARIANTS = 2


def split_heldout(items: list[QAItem], per_category: int) -> tuple[list[QAItem], list[QAItem]]:
    """Pick held-out items by a stable hash; drop every training item sharing a held-out subject."""
    by_category: dict[str, list[QAItem]] = defaultdict(list)
    for item in sorted(items, key=lambda i: zlib.crc32(f"{i.category}/{i.name}".encode())):
        by_category[item.category].append(item)
    heldout: list[QAItem] = []
    for category in sorted(by_category):
        seen: set[str] = set()
        for item in by_category[category]:
            if len(seen) == per_category:
                break
            if item.name not in seen:
                seen.add(item.name)
                heldout.append(item)
    held_names = {i.name.lower() for i in heldout}
    train = [i for i in items if i.name.lower() not in held_names]
    return train, heldout


def write_corpus(out: Path, items: list[QAItem]) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    train, heldout = split_heldout(items, HELDOUT_PER_CATEGORY)
    with gzip.open(out / "train.jsonl.gz", "wt") as f:
        for item in train:
            for variant in range(QUESTION_VARIANTS):
                f.write(json.dumps(item.chat(variant)) + "\n")
    with open(out / "heldout.jsonl", "w") as f:
        for item in heldout:
            f.write(json.dumps({"category": item.category, "prompt": item.question(),
                                "reference": item.answer}) + "\n")
    counts: dict[str, int] = defaultdict(int)
    for item in train:
        counts[item.category] += 1
    return {"train_items": len(train), "heldout": len(heldout), "by_category": dict(counts),
            "answer_chars": sum(len(i.answer) for i in train)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--python-docs", type=Path, default=PYTHON_DOC_SOURCES)
    args = parser.parse_args(argv)
    items = python_doc_items(args.python_docs) + manpage_items()
    print(json.dumps(write_corpus(args.out, items), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
