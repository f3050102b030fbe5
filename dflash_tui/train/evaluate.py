"""Held-out acceptance of a draft: greedy DFlash generations through the engine itself.

    python -m dflash_tui.train.evaluate --target T --draft D --prompts heldout.jsonl

Prompts are JSONL records `{"prompt": str, "category": str}` (or chats with
"messages"). tau = committed tokens per cycle; acceptance = accepted drafts /
drafted tokens. Both are reported overall and per category.

`--baseline D2` measures a second draft for the same target in the same run and
reports the tau ratio: how a retrained draft is checked against the shipped one.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from ..engine.events import GenerationSummary
from ..engine.sampling import RULES, SamplingParams
from .chat_data import read_records


def load_prompts(path: Path, limit: int | None = None) -> list[dict]:
    """[{"messages": [...], "category": str}] from a prompt or chat JSONL (first user turn kept)."""
    out = []
    for record in read_records(path):
        if isinstance(record, str):
            continue
        if "messages" in record:
            messages = [m for m in record["messages"] if m["role"] != "assistant"][:1]
        else:
            messages = [{"role": "user", "content": record["prompt"]}]
        out.append({"messages": messages, "category": record.get("category", "all")})
    return out[:limit]


def _totals(summaries: list[GenerationSummary]) -> dict:
    cycles = sum(s.cycles for s in summaries)
    generated = sum(s.generated_tokens for s in summaries)
    drafted = sum(s.drafted for s in summaries)
    accepted = sum(s.accepted for s in summaries)
    return {"prompts": len(summaries), "tokens": generated, "cycles": cycles,
            "tau": round(generated / max(1, cycles), 3), "acceptance": round(accepted / max(1, drafted), 4)}


def heldout_tau(engine, prompts: list[dict], max_tokens: int = 128, block_size: int | None = None,
                temperature: float = 0.0, seed: int | None = None, rule: str | None = None) -> dict:
    """{"all": totals, "by_category": {category: totals}} over DFlash generations (greedy, or sampled at
    `temperature`; a seed makes that reproducible; `rule` the acceptance rule, default as the engine's)."""
    per_category: dict[str, list[GenerationSummary]] = defaultdict(list)
    for p in prompts:
        engine.reset()
        events = list(engine.generate(engine.encode_chat(p["messages"]), max_tokens=max_tokens, mode="dflash",
                                      block_size=block_size,
                                      sampling=SamplingParams(temperature=temperature, seed=seed, rule=rule)))
        summary = events[-1]
        if summary.error:
            raise RuntimeError(summary.error)
        per_category[p["category"]].append(summary)
    everything = [s for group in per_category.values() for s in group]
    return {"all": _totals(everything), "by_category": {c: _totals(g) for c, g in sorted(per_category.items())}}


def main(argv: list[str] | None = None) -> int:
    from ..engine.session import Engine

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", required=True)
    parser.add_argument("--draft", required=True)
    parser.add_argument("--prompts", type=Path, required=True)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--rule", choices=RULES, help="acceptance rule when sampling (default: coupled with a "
                        "seed, block without, as everywhere)")
    parser.add_argument("--baseline", help="a second draft for the same target, measured on the same prompts; "
                        "the output then holds both and draft tau / baseline tau")
    args = parser.parse_args(argv)
    prompts = load_prompts(args.prompts, args.limit)

    def measure(draft: str) -> dict:
        return heldout_tau(Engine.load(args.target, draft), prompts, args.max_tokens,
                           temperature=args.temperature, seed=args.seed, rule=args.rule)

    result = measure(args.draft)
    if args.baseline:
        baseline = measure(args.baseline)
        result = {"draft": result, "baseline": baseline,
                  "tau_ratio": round(result["all"]["tau"] / baseline["all"]["tau"], 4)}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
