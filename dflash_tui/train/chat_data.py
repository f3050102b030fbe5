"""Training sequences: token ids plus a mask of the tokens worth learning.

Sources: JSONL chats (`{"messages": [...]}`, loss on assistant text), JSONL of
token ids (`{"ids": [...], "loss_from": n}`, what the self-distillation step
writes), or plain text (loss everywhere). Chats go through the tokenizer's own
chat template, so the ids are exactly what the app will feed the model.
"""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

LENGTH_BUCKET = 64  # pad to multiples of this: few distinct shapes, few mx.compile retraces


@dataclass
class Sequence:
    ids: list[int]
    loss_mask: list[bool]  # True where the token is a learning target (assistant text)


def open_text(path: Path):
    path = Path(path)
    return gzip.open(path, "rt") if path.suffix == ".gz" else open(path)


def read_records(path: Path) -> Iterator[dict | str]:
    """JSON objects from a .jsonl[.gz] file, or paragraphs of a plain text file."""
    name = Path(path).name.removesuffix(".gz")
    with open_text(path) as f:
        if name.endswith(".jsonl"):
            for number, line in enumerate(f, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as e:
                        raise ValueError(f"{path}, line {number}: not JSON ({e.msg}); training data in a .jsonl "
                                         "file is one JSON object per line") from None
        else:
            for paragraph in f.read().split("\n\n"):
                if paragraph.strip():
                    yield paragraph


def encode_chat(tokenizer, messages: list[dict]) -> Sequence:
    """Render with the chat template; mark assistant contents (and their end token) as targets."""
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    enc = tokenizer._tokenizer(text, return_offsets_mapping=True, add_special_tokens=False)
    spans: list[tuple[int, int]] = []
    cursor = 0
    for m in messages:
        start = text.find(m["content"], cursor)
        if start < 0:
            continue
        cursor = start + len(m["content"])
        if m["role"] == "assistant":
            spans.append((start, cursor))
    ids = list(enc["input_ids"])
    mask: list[bool] = []
    for i, (a, _) in enumerate(enc["offset_mapping"]):
        closes_answer = i > 0 and mask[i - 1] and ids[i] in tokenizer.eos_token_ids
        mask.append(closes_answer or any(s <= a < e for s, e in spans))
    return Sequence(ids, mask)


def encode_record(tokenizer, record: dict | str) -> Sequence:
    if isinstance(record, str):
        ids = tokenizer.encode(record, add_special_tokens=False)
        return Sequence(ids, [True] * len(ids))
    if "ids" in record:
        n = record.get("loss_from", 0)
        return Sequence(record["ids"], [i >= n for i in range(len(record["ids"]))])
    if not isinstance(record, dict) or not isinstance(record.get("messages"), list):
        keys = sorted(record) if isinstance(record, dict) else type(record).__name__
        raise ValueError(f"a record has neither \"messages\" (a chat: a list of {{role, content}}) nor \"ids\" "
                         f"(token ids, with \"loss_from\"); it has {keys}")
    return encode_chat(tokenizer, record["messages"])


def load_sequences(path: Path, tokenizer, max_len: int) -> list[Sequence]:
    """All sequences of a data file, cut to max_len tokens; those with nothing to learn are dropped."""
    out = []
    for number, record in enumerate(read_records(path), 1):
        try:
            seq = encode_record(tokenizer, record)
        except ValueError as e:
            raise ValueError(f"{path}, record {number}: {e}") from None
        seq = Sequence(seq.ids[:max_len], seq.loss_mask[:max_len])
        if any(seq.loss_mask[1:]):
            out.append(seq)
    return out


def batches(seqs: list[Sequence], batch_size: int, seq_len: int, pad_id: int, rng: random.Random,
            ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Endless shuffled batches: (ids [B, L] int32, loss mask [B, L] bool), right-padded.

    Sequences are grouped by length so padding stays small.
    """
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i].ids))
    groups = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    while True:
        rng.shuffle(groups)
        for group in groups:
            if len(group) < batch_size:
                group = group + rng.choices(range(len(seqs)), k=batch_size - len(group))  # fewer rows than a batch too
            yield pad_batch([seqs[i] for i in group], seq_len, pad_id)


def pad_batch(group: list[Sequence], seq_len: int, pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    longest = max(len(s.ids) for s in group)
    length = min(seq_len, -(-longest // LENGTH_BUCKET) * LENGTH_BUCKET)
    ids = np.full((len(group), length), pad_id, dtype=np.int32)
    mask = np.zeros((len(group), length), dtype=bool)
    for row, s in enumerate(group):
        n = min(length, len(s.ids))
        ids[row, :n] = s.ids[:n]
        mask[row, :n] = s.loss_mask[:n]
    return ids, mask
