"""The target's own greedy answers to a set of prompts: the best data for its draft.

A draft is scored on how often it guesses the target's greedy choice, so it
learns most from text the target itself would write. Generation is batched
(mlx-lm's batch_generate). Output records are token ids (`{"ids", "loss_from"}`)
so no detokenize/retokenize round trip can change them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .evaluate import load_prompts


def generate_answers(model, tokenizer, prompts: list[dict], out: Path, max_tokens: int = 256,
                     batch_size: int = 256, log=print) -> int:
    """Write the target's greedy answer to every prompt to `out` (JSONL); return the tokens generated."""
    from mlx_lm.generate import batch_generate

    eos = tokenizer.eos_token_ids and sorted(tokenizer.eos_token_ids)[0]
    total, start = 0, time.perf_counter()
    with open(out, "w") as f:
        for i in range(0, len(prompts), batch_size):
            chunk = [tokenizer.apply_chat_template(p["messages"], add_generation_prompt=True, tokenize=True)
                     for p in prompts[i:i + batch_size]]
            response = batch_generate(model, tokenizer, chunk, max_tokens=max_tokens, return_token_ids=True,
                                      completion_batch_size=batch_size, prefill_batch_size=min(64, batch_size))
            for prompt, answer in zip(chunk, response.token_ids):
                ended = len(answer) < max_tokens and eos is not None
                f.write(json.dumps({"ids": list(prompt) + list(answer) + ([eos] if ended else []),
                                    "loss_from": len(prompt)}) + "\n")
                total += len(answer)
            log(f"generated {min(i + batch_size, len(prompts))}/{len(prompts)} answers, {total} tokens, "
                f"{total / (time.perf_counter() - start):.0f} tok/s")
    return total


def generate_from_file(model, tokenizer, prompts_path: Path, out: Path, **kwargs) -> int:
    return generate_answers(model, tokenizer, load_prompts(prompts_path), out, **kwargs)
