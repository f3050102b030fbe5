"""Question-and-answer items from the installed manual pages (manpages, manpages-dev, ...).

Each page is rendered to plain text with man(1) (very wide lines, no hyphenation
or justification, so a paragraph is one line); the answer is the NAME line, the
first synopsis line and the first description paragraphs.
"""

from __future__ import annotations

import os
import re
import subprocess
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .corpus_items import QAItem, clip_answer

SECTION_CATEGORY = {"1": "unix-command", "8": "unix-command", "2": "c-function", "3": "c-function",
                    "5": "general", "7": "general"}
MAX_PAGES_PER_SECTION = 2500
SKIPPED_PREFIXES = ("gcloud", "bq", "gsutil", "perl", "llvm")  # thousands of near-identical pages
HEADING = re.compile(r"^[A-Z][A-Z /-]+$")


def render(path: Path) -> str:
    env = dict(os.environ, MANWIDTH="2000", LC_ALL="C.UTF-8")
    result = subprocess.run(["man", "--nh", "--nj", "-E", "utf-8", "-l", str(path)], env=env,
                            capture_output=True, text=True, errors="replace", timeout=30)
    text = re.sub(r".\x08", "", result.stdout)
    return text


def sections(text: str) -> dict[str, list[str]]:
    """Heading -> paragraphs (one per non-empty line, stripped)."""
    out: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if HEADING.match(line):
            current = line.strip()
            out[current] = []
        elif current and line.strip():
            out[current].append(re.sub(r"\s+", " ", line.strip()))
    return out


def page_item(path: Path, section: str) -> QAItem | None:
    parts = sections(render(path))
    name_line = " ".join(parts.get("NAME", []))
    description = [p for p in parts.get("DESCRIPTION", []) if len(p) > 30]
    if " - " not in name_line or not description:
        return None
    names, summary = name_line.split(" - ", 1)
    name = names.split(",")[0].strip()
    synopsis = parts.get("SYNOPSIS", [])
    calls = [line for line in synopsis if f"{name}(" in line]
    synopsis = calls or [line for line in synopsis if not line.startswith("#")]
    head = f"{names.strip()} - {summary.strip()}"
    if synopsis:
        head += f"\n\nSynopsis: {synopsis[0]}"
    category = SECTION_CATEGORY[section]
    subject = name if category != "general" else f"{name}({section})"
    answer = head + "\n\n" + clip_answer(description, limit=600)
    return QAItem(category, subject, f"man{section}", answer, path.name)


def manpage_items(root: Path = Path("/usr/share/man"), workers: int = 4) -> list[QAItem]:
    """Items from the English pages of sections 1, 2, 3, 5, 7, 8 (a stable sample of big sections)."""
    jobs: list[tuple[Path, str]] = []
    for section in SECTION_CATEGORY:
        pages = sorted((p for p in (root / f"man{section}").glob(f"*.{section}.gz")
                        if not p.name.startswith(SKIPPED_PREFIXES)),
                       key=lambda p: zlib.crc32(p.name.encode()))
        jobs += [(p, section) for p in pages[:MAX_PAGES_PER_SECTION]]
    with ThreadPoolExecutor(workers) as pool:
        items = list(pool.map(lambda job: page_item(*job), jobs))
    return [i for i in items if i is not None]
