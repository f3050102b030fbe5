"""Where a Qwen3-8B-shaped verify loses time on MLX CUDA: one attention block at 16 queries vs 1.

    python3 scripts/device/attention_paths.py [--context 2048] [--layers 36]

A diagnostic for issue #6 (run on the GPU host; prints JSON). A stack of `--layers` attention blocks
(projections, q/k norms, RoPE, attention, output projection; no MLP) over a cache of `--context`
random positions, run chained (every layer queued, one wait) at 1 query (decode), at 16 queries with
mlx-lm's path (cuDNN attention, keys bucketed as the engine does), and at 16 queries with attention
written as two batched matmuls and a softmax (no cuDNN: stable_shapes.short_block_attention).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from dflash_tui.mlx_setup import import_mlx  # noqa: E402

mx = import_mlx()
from mlx_lm.models import qwen3  # noqa: E402

from dflash_tui.engine import stable_shapes  # noqa: E402


def timed(fn, repeats=7, warmup=2) -> float:
    times = []
    for i in range(warmup + repeats):
        t0 = time.perf_counter()
        fn()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    times.sort()
    return 1000 * times[len(times) // 2]


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--context", type=int, default=2048)
    p.add_argument("--layers", type=int, default=36)
    a = p.parse_args()
    args = qwen3.ModelArgs(model_type="qwen3", hidden_size=4096, num_hidden_layers=a.layers, intermediate_size=12288,
                           num_attention_heads=32, rms_norm_eps=1e-6, vocab_size=1024, num_key_value_heads=8,
                           max_position_embeddings=40960, head_dim=128, tie_word_embeddings=False,
                           rope_theta=1e6)
    blocks = [qwen3.Attention(args) for _ in range(a.layers)]
    for b in blocks:
        b.set_dtype(mx.bfloat16)
    mx.eval([b.parameters() for b in blocks])
    cap = stable_shapes.bucket(a.context + 64)
    keys = [mx.random.normal((1, 8, cap, 128)).astype(mx.bfloat16) for _ in blocks]
    vals = [mx.random.normal((1, 8, cap, 128)).astype(mx.bfloat16) for _ in blocks]
    mx.eval(keys, vals)
    ctx = a.context

    def stack(L: int, how: str):
        """Chained passes of every block at L queries, reading the cache up to ctx + L (no cache writes)."""
        def run():
            x = mx.random.normal((1, L, 4096)).astype(mx.bfloat16)
            for b, K, V in zip(blocks, keys, vals):
                q = b.q_norm(b.q_proj(x).reshape(1, L, 32, 128)).transpose(0, 2, 1, 3)
                k = b.k_norm(b.k_proj(x).reshape(1, L, 8, 128)).transpose(0, 2, 1, 3)
                v = b.v_proj(x).reshape(1, L, 8, 128).transpose(0, 2, 1, 3)
                q, k = b.rope(q, offset=ctx), b.rope(k, offset=ctx)
                Kf = mx.concatenate([K[:, :, :ctx], k], axis=2)
                Vf = mx.concatenate([V[:, :, :ctx], v], axis=2)
                if how == "decode":
                    o = mx.fast.scaled_dot_product_attention(q, Kf, Vf, scale=b.scale)
                elif how == "cudnn":  # the engine's: keys padded to a bucket, additive mask
                    n = ctx + L
                    pad = stable_shapes.bucket(n) - n
                    Kp = mx.concatenate([Kf, mx.zeros((1, 8, pad, 128), dtype=Kf.dtype)], axis=2)
                    Vp = mx.concatenate([Vf, mx.zeros((1, 8, pad, 128), dtype=Vf.dtype)], axis=2)
                    m = stable_shapes.visible_mask(ctx, L, n + pad, n, True, mx.bfloat16)
                    o = mx.fast.scaled_dot_product_attention(q, Kp, Vp, scale=b.scale, mask=m)
                elif how == "causal":  # exact key length, mlx-lm's "causal" mask string
                    o = mx.fast.scaled_dot_product_attention(q, Kf, Vf, scale=b.scale, mask="causal")
                else:  # the engine's short-block attention: two matmuls and a softmax, exact keys
                    o = stable_shapes.short_block_attention(q, Kf, Vf, b.scale, causal=True)
                x = x + b.o_proj(o.transpose(0, 2, 1, 3).reshape(1, L, -1))
            mx.eval(x)
        return run

    out = {"context": ctx, "layers": a.layers}
    for name, L, how in (("decode_1", 1, "decode"), ("verify16_cudnn_bucketed", 16, "cudnn"),
                         ("verify16_causal_exact", 16, "causal"), ("verify16_matmul", 16, "matmul"),
                         ("decode_1_again", 1, "decode")):
        try:
            out[name + "_ms"] = round(timed(stack(L, how)), 3)
        except Exception as e:  # noqa: BLE001 - a path MLX refuses is a result too
            out[name + "_error"] = str(e)[:200]
        print(name, out.get(name + "_ms", out.get(name + "_error")), flush=True)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
