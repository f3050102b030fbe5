"""A conversation as Markdown (to read or share) and as JSON (to process or re-import)."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path

from ...store import Conversation, Message
from ..stats.reply_stats import format_reply_stats

ROLE_HEADINGS = {"user": "You", "assistant": "Assistant", "system": "System"}


def to_markdown(conversation: Conversation, messages: list[Message]) -> str:
    lines = [f"# {conversation.title}", ""]
    if conversation.generation.system_prompt:
        lines += ["## System", "", conversation.generation.system_prompt, ""]
    for message in messages:
        lines += [f"## {ROLE_HEADINGS.get(message.role, message.role)}", "", message.content, ""]
        if message.stats:
            lines += [f"*{format_reply_stats(message.stats)}*", ""]
        if message.status not in ("complete", "streaming"):
            lines += [f"*({message.status})*", ""]
    return "\n".join(lines)


def to_json(conversation: Conversation, messages: list[Message]) -> str:
    return json.dumps({"conversation": asdict(conversation), "messages": [asdict(m) for m in messages]},
                      indent=2, ensure_ascii=False)


def export_conversation(conversation: Conversation, messages: list[Message], folder: Path) -> list[Path]:
    """Write <title>-<id>.md and .json into folder; return both paths."""
    stem = re.sub(r"[^\w.-]+", "-", conversation.title).strip("-")[:60] or "conversation"
    stem = f"{stem}-{conversation.id}"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, text in ((".md", to_markdown(conversation, messages)), (".json", to_json(conversation, messages))):
        path = folder / (stem + suffix)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
