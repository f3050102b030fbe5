"""Question-and-answer items from the Python documentation's reST sources.

Debian's python3-doc installs the reST sources under
/usr/share/doc/python3.X/html/_sources. Each API directive (function, method,
class, ...) becomes a "what does X do" item; each prose section of the
tutorial, how-tos, FAQ and reference becomes an "explain <title>" item.
"""

from __future__ import annotations

import re
from pathlib import Path

from .corpus_items import QAItem, clip_answer

API_DIRECTIVES = ("function", "method", "class", "exception", "attribute", "data", "decorator",
                  "classmethod", "staticmethod", "coroutinefunction", "coroutinemethod")
GUIDE_FOLDERS = ("tutorial", "howto", "faq", "reference", "using", "glossary")
SECTION_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+])\1{3,}\s*$")
DIRECTIVE = re.compile(r"^(\s*)\.\. ([\w:]+)::\s*(.*)$")
ROLE_WITH_TARGET = re.compile(r":[\w:]+:`([^`<]*?)\s*<[^>]*>`")
ROLE = re.compile(r":[\w:]+:`~?([^`]*)`")


def clean_inline(text: str) -> str:
    """Strip reST inline markup: roles, literals, emphasis, link references."""
    text = ROLE_WITH_TARGET.sub(r"\1", text)
    text = ROLE.sub(lambda m: m.group(1).lstrip("!"), text)
    text = re.sub(r"``([^`]*)``", r"\1", text)
    text = re.sub(r"`([^`<]*?)\s*(?:<[^>]*>)?`_{1,2}", r"\1", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"\1", text)
    text = re.sub(r"\*([^*\s][^*]*)\*", r"\1", text)
    text = text.replace("\\ ", "").replace("|", "")
    return re.sub(r"[ \t]+", " ", text).strip()


def paragraphs(lines: list[str]) -> list[str]:
    """Prose paragraphs of a dedented body, without nested directives or literal blocks."""
    out: list[str] = []
    current: list[str] = []
    skip_indent: int | None = None
    for line in lines + [""]:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if skip_indent is not None:
            if not stripped or indent > skip_indent:
                continue
            skip_indent = None
        if not stripped:
            if current:
                out.append(" ".join(current))
                current = []
            continue
        if DIRECTIVE.match(line) or stripped.startswith(".. "):
            if current:
                out.append(" ".join(current))
                current = []
            skip_indent = indent
            continue
        if indent > 0 and not current:
            skip_indent = indent - 1  # a quoted or literal block: not prose
            continue
        current.append(stripped)
        if stripped.endswith("::"):
            current[-1] = stripped[:-2].rstrip() + ":"
            out.append(" ".join(current))
            current = []
            skip_indent = indent
    return [clean_inline(p) for p in out if p and not SECTION_UNDERLINE.match(p)]


def _body(lines: list[str], start: int, indent: int) -> tuple[list[str], int]:
    """The indented body of a directive starting at line `start`, dedented."""
    body: list[str] = []
    i = start
    while i < len(lines):
        line = lines[i]
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        body.append(line)
        i += 1
    width = min((len(b) - len(b.lstrip()) for b in body if b.strip()), default=0)
    return [b[width:] for b in body], i


def api_items(text: str, source: str) -> list[QAItem]:
    """One item per API directive with a prose description."""
    lines = text.splitlines()
    module = ""
    owner: tuple[int, str] | None = None  # (indent, class name) for nested methods and attributes
    items: list[QAItem] = []
    for i, line in enumerate(lines):
        match = DIRECTIVE.match(line)
        if not match:
            continue
        indent, kind, signature = len(match.group(1)), match.group(2), match.group(3).strip()
        if kind in ("module", "currentmodule"):
            module = signature
            continue
        if kind not in API_DIRECTIVES or not signature:
            continue
        name = signature.split("(")[0].strip()
        if kind in ("class", "exception"):
            owner = (indent, name.split(".")[-1])
        elif owner and indent > owner[0] and "." not in name:
            name = f"{owner[1]}.{name}"
            signature = f"{owner[1]}.{signature}"
        body, _ = _body(lines, i + 1, indent)
        body = [b for b in body if not b.lstrip().startswith(":")]
        prose = paragraphs(body)
        if not prose:
            continue
        if module and not name.startswith(module + ".") and kind in ("function", "class", "exception", "data",
                                                                     "decorator", "coroutinefunction"):
            name = f"{module}.{name}"
            signature = f"{module}.{signature}"
        items.append(QAItem("python-api", name, kind, f"{signature}\n\n" + clip_answer(prose), source))
    return items


def section_items(text: str, source: str) -> list[QAItem]:
    """One item per titled prose section (guides, tutorial, FAQ, reference)."""
    lines = text.splitlines()
    items: list[QAItem] = []
    titles = [i for i in range(1, len(lines)) if SECTION_UNDERLINE.match(lines[i]) and lines[i - 1].strip()
              and not SECTION_UNDERLINE.match(lines[i - 1])]
    for n, t in enumerate(titles):
        end = titles[n + 1] - 1 if n + 1 < len(titles) else len(lines)
        title = clean_inline(lines[t - 1]).rstrip(":").strip()
        prose = [p for p in paragraphs(lines[t + 1:end]) if len(p) > 40]
        if prose and 3 <= len(title) <= 80:
            items.append(QAItem("general", title, "section", clip_answer(prose), source))
    return items


def python_doc_items(sources: Path) -> list[QAItem]:
    """All items from the reST tree at `sources`."""
    items: list[QAItem] = []
    for path in sorted(sources.rglob("*.rst.txt")):
        rel = path.relative_to(sources).as_posix()
        if rel.startswith(("whatsnew", "c-api", "distutils", "includes")):
            continue
        text = path.read_text(errors="replace")
        if rel.startswith("library/"):
            items += api_items(text, rel)
        elif rel.split("/")[0].removesuffix(".rst.txt") in GUIDE_FOLDERS:
            items += section_items(text, rel)
    return items
