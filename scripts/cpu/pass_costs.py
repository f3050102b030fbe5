"""What one draft pass, one verify and one plain step of the demo pair cost on this CPU, and per MLX op.

    python scripts/cpu/pass_costs.py

One-off measurement for the notes (issue #5/#7): the demo pair after a 200-token plain answer and a 200-token
b16 answer (about 220 tokens of context), each pass evaluated alone (median of 60, twice); then chains of 20
small ops of the demo's width ([1, 16, 256]) evaluated at once, per op.
"""
import statistics
import time

import dflash_tui  # noqa: F401  (OpenBLAS before MLX)
from dflash_tui.mlx_setup import import_mlx

mx = import_mlx()
from dflash_tui.engine.decode import draft_logits  # noqa: E402
from dflash_tui.engine.session import Engine  # noqa: E402
from dflash_tui.train.evaluate import load_prompts  # noqa: E402


def median_ms(fn, n: int = 60) -> float:
    fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main() -> None:
    engine = Engine.load("dflash_tui/demo/target", "dflash_tui/demo/draft")
    prompts = load_prompts("dflash_tui/demo/heldout_prompts.jsonl", 2)
    list(engine.generate(engine.encode_chat(prompts[0]["messages"]), max_tokens=200, mode="plain"))
    list(engine.generate(engine.encode_chat(prompts[1]["messages"]), max_tokens=200, mode="dflash", block_size=16))
    state, target, draft = engine._state, engine.target, engine.draft
    taps, offset = draft.config.target_layer_ids, len(state.tokens)
    run = draft_logits(target, draft, state)

    def draft_pass():
        mx.eval(mx.argmax(run(5, offset, 16), axis=-1))

    def verify():
        logits, feats, record = target.forward(mx.array([[5] * 16]), state.cache, taps, record=True)
        mx.eval(logits, feats)
        target.rollback(state.cache, record, 1)
        for c in state.cache:
            c.trim(1)

    def plain_step():
        logits, feats, _ = target.forward(mx.array([[5]]), state.cache, taps)
        mx.eval(logits, feats)
        for c in state.cache:
            c.trim(1)

    print(f"context {offset} tokens")
    for _ in range(2):
        print(", ".join(f"{name} {median_ms(fn):.2f} ms" for name, fn in
                        (("b16 draft pass", draft_pass), ("16-token verify", verify), ("plain step", plain_step))))
    x, w, g = mx.random.normal((1, 16, 256)), mx.random.normal((256, 256)), mx.ones((256,))
    mx.eval(x, w, g)
    for name, op in (("matmul", lambda y: y @ w), ("rms_norm", lambda y: mx.fast.rms_norm(y, g, 1e-6)),
                     ("add", lambda y: y + 1.0)):
        def chain(op=op):
            y = x
            for _ in range(20):
                y = op(y)
            mx.eval(y)
        print(f"{name}: {1000 * median_ms(chain, 200) / 20:.1f} us an op")


if __name__ == "__main__":
    main()
