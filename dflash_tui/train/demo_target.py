"""Pretrain the embedded demo target from scratch on the documentation chats.

    python -m dflash_tui.train.demo_target --corpus .work/corpus/train.jsonl.gz --out OUT_DIR

Trains a byte-level BPE tokenizer on the corpus (synthetic.train_tokenizer: Qwen
pre-tokenizer, ChatML template, <|mask|> for the draft), then a small qwen3
model (tied embeddings) with next-token loss on the assistant turns. Run it on
a GPU (scripts/device/build_demo_pair.sh); the CPU is too slow for more than a
smoke test. The app never runs this.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from ..mlx_setup import import_mlx
from ..synthetic import target_config, train_tokenizer
from . import loop
from .chat_data import batches, load_sequences, read_records
from .checkpoint import TOKENIZER_FILES, save_model_bf16

mx = import_mlx()
import mlx.nn as nn  # noqa: E402
from mlx.utils import tree_flatten  # noqa: E402

DEMO_SHAPE = dict(hidden_size=256, num_layers=4, heads=4, kv_heads=2, intermediate_size=768,
                  tie_embeddings=True)
DEMO_VOCAB = 4096


def chat_texts(corpus: Path):
    for record in read_records(corpus):
        yield "\n".join(m["content"] for m in record["messages"])


def lm_loss(model, ids, mask):
    """Mean next-token cross-entropy over masked target positions."""
    logits = model(ids[:, :-1])
    targets = ids[:, 1:]
    weight = mask[:, 1:].astype(mx.float32)
    ce = nn.losses.cross_entropy(logits.astype(mx.float32), targets) * weight
    return ce.sum() / mx.maximum(weight.sum(), 1.0)


def train_demo_target(corpus: Path, out: Path, settings: loop.LoopSettings, *, batch_size: int = 64,
                      seq_len: int = 320, vocab_size: int = DEMO_VOCAB, shape: dict | None = None,
                      tokenizer_dir: Path | None = None, seed: int = 0,
                      snapshots: list[tuple[float, Path]] | None = None) -> Path:
    """Train and save the target to `out`; `snapshots` [(loss, dir)]: also save a copy (with tokenizer) the
    first time a logged window's train loss falls below each loss (one run gives a sweep of targets)."""
    from mlx_lm.utils import _get_classes, load_tokenizer

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if tokenizer_dir is None:
        vocab_size = train_tokenizer(out, chat_texts(corpus), vocab_size=vocab_size)
    else:
        for name in TOKENIZER_FILES:
            (out / name).write_bytes((Path(tokenizer_dir) / name).read_bytes())
        from tokenizers import Tokenizer

        vocab_size = Tokenizer.from_file(str(out / "tokenizer.json")).get_vocab_size()
    tokenizer = load_tokenizer(out)
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    config = target_config("qwen3", vocab_size, eos_token_id=eos, **(shape or DEMO_SHAPE))
    mx.random.seed(seed)
    model_class, args_class = _get_classes(config)
    model = model_class(args_class.from_dict(config))
    seqs = load_sequences(corpus, tokenizer, seq_len)
    pad = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    print(f"{len(seqs)} sequences, {sum(len(s.ids) for s in seqs)} tokens, "
          f"{sum(v.size for _, v in tree_flatten(model.parameters())) / 1e6:.2f}M parameters", flush=True)
    data = (((mx.array(ids), mx.array(mask)), ids.size)
            for ids, mask in batches(seqs, batch_size, seq_len, pad, random.Random(seed)))
    pending = sorted(snapshots or [], reverse=True)

    def snapshot(step: int, loss: float) -> None:
        while pending and loss < pending[0][0]:
            below, where = pending.pop(0)
            Path(where).mkdir(parents=True, exist_ok=True)
            for name in TOKENIZER_FILES:
                (Path(where) / name).write_bytes((out / name).read_bytes())
            save_model_bf16(Path(where), model, config)
            print(f"\nsnapshot at step {step}: train loss {loss:.3f} < {below} -> {where}", flush=True)

    loop.run(model, lm_loss, data, settings, observe=snapshot)
    save_model_bf16(out, model, config)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tokenizer", type=Path, help="reuse this tokenizer folder instead of training one")
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--time-budget", type=float, help="seconds; stop early and save")
    args = parser.parse_args(argv)
    settings = loop.LoopSettings(steps=args.steps, lr=args.lr, warmup=200, log_every=100,
                                 time_budget_s=args.time_budget)
    train_demo_target(args.corpus, args.out, settings, batch_size=args.batch_size, tokenizer_dir=args.tokenizer)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
