"""What a demo-target pass costs on this CPU at 1 and 16 tokens, dense fp32 and with 8-bit weights (mlx-lm's
QuantizedLinear), to judge storing a deeper target at 8 bits (docs/DEMO.md, "A deeper target").

    python scripts/cpu/target_pass_speed.py
"""
import time

import dflash_tui  # noqa: F401  (loads OpenBLAS before MLX)
from dflash_tui.mlx_setup import import_mlx

mx = import_mlx()
import mlx.nn as nn  # noqa: E402
from mlx_lm import load  # noqa: E402
from mlx_lm.models.cache import make_prompt_cache  # noqa: E402


def pass_ms(model, tokens: int, context: int = 200, repeats: int = 30) -> float:
    cache = make_prompt_cache(model)
    mx.eval(model(mx.array([[5] * context]), cache=cache))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        mx.eval(model(mx.array([[7] * tokens]), cache=cache))
        times.append(time.perf_counter() - t)
        for c in cache:
            c.offset -= tokens
    return sorted(times)[repeats // 2] * 1e3


model, _ = load("dflash_tui/demo/target")
model.set_dtype(mx.float32)
print(f"dense fp32: 1 token {pass_ms(model, 1):.2f} ms, 16 tokens {pass_ms(model, 16):.2f} ms")
nn.quantize(model, group_size=64, bits=8)
print(f"8-bit:      1 token {pass_ms(model, 1):.2f} ms, 16 tokens {pass_ms(model, 16):.2f} ms")
