"""The target's own greedy answers to a set of prompts: the best data for its draft.

A draft is scored on how often it guesses the target's greedy choice, so it
learns most from text the target itself would write. Prompts are grouped by
token length so each group decodes as one dense batch with a plain KV cache
(no padding, no per-sequence bookkeeping: far faster than a general batch
server for this one job). Output records are token ids (`{"ids", "loss_from"}`)
so no detokenize/retokenize round trip can change them.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..mlx_setup import import_mlx
from .evaluate import load_prompts

mx = import_mlx()
from mlx_lm.models.cache import make_prompt_cache  # noqa: E402


def greedy_batch(model, prompts: mx.array, max_tokens: int, temperature: float = 0.0) -> np.ndarray:
    """Continuations [B, max_tokens] of equal-length prompts [B, T]: greedy, or sampled at `temperature`
    (text a draft meets when users sample; the random stream is MLX's global one, seeded by the caller)."""
    def choose(logits: mx.array) -> mx.array:
        if temperature > 0:
            return mx.random.categorical(logits.astype(mx.float32) / temperature, axis=-1)
        return mx.argmax(logits, axis=-1)

    cache = make_prompt_cache(model)
    token = choose(model(prompts, cache=cache)[:, -1])
    out = [token]
    for _ in range(max_tokens - 1):
        token = choose(model(token[:, None], cache=cache)[:, -1])
        mx.async_eval(token)
        out.append(token)
    return np.array(mx.stack(out, axis=1))


def cut_at_stop(tokens: list[int], stop_ids: set[int]) -> list[int]:
    """Tokens up to and including the first stop token."""
    for i, t in enumerate(tokens):
        if t in stop_ids:
            return tokens[: i + 1]
    return tokens


def generate_answers(model, tokenizer, prompts: list[dict], out: Path, max_tokens: int = 256,
                     batch_size: int = 512, log=None, temperature: float = 0.0, append: bool = False) -> int:
    """Write the target's greedy (or, with temperature > 0, sampled) answer to every prompt to `out` (JSONL;
    appended to it with append=True); return the tokens generated."""
    say = log or (lambda s: print(s, file=sys.stderr, flush=True))
    stop_ids = set(tokenizer.eos_token_ids or [])
    by_length: dict[int, list[list[int]]] = defaultdict(list)
    for p in prompts:
        ids = tokenizer.apply_chat_template(p["messages"], add_generation_prompt=True, tokenize=True)
        by_length[len(ids)].append(list(ids))
    total, done, start = 0, 0, time.perf_counter()
    with open(out, "a" if append else "w") as f:
        for length in sorted(by_length):
            group = by_length[length]
            for i in range(0, len(group), batch_size):
                chunk = group[i:i + batch_size]
                answers = greedy_batch(model, mx.array(chunk), max_tokens, temperature)
                # Every prompt length has its own buffer shapes: MLX's cache kept them all and two runs sharing
                # one GPU ran out of its 139 GB (session 6); give them back after each chunk.
                mx.clear_cache()
                for prompt, answer in zip(chunk, answers.tolist()):
                    answer = cut_at_stop(answer, stop_ids)
                    f.write(json.dumps({"ids": prompt + answer, "loss_from": len(prompt)}) + "\n")
                    total += len(answer)
                done += len(chunk)
            say(f"generated {done}/{len(prompts)} answers, {total} tokens, "
                f"{total / (time.perf_counter() - start):.0f} tok/s")
    return total


def generate_from_file(model, tokenizer, prompts_path: Path, out: Path, limit: int | None = None, **kwargs) -> int:
    """generate_answers for the prompts in a file (the first `limit` of them if given)."""
    return generate_answers(model, tokenizer, load_prompts(prompts_path, limit), out, **kwargs)
