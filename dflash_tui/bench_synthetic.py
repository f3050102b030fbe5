"""`dflash-tui bench --synthetic`: DFlash phase timings on random-weight, 9B-shaped targets.

Builds in memory a Qwen3.5-9B-shaped hybrid and a Qwen3-8B-shaped attention
target (random weights, bf16 on a GPU) with matching 5-layer drafts, fills
their caches to each context length with random K/V and state (the contents
do not matter for timing), and measures: mlx-lm decode, the engine's draft
pass, verify pass, rollback, a whole cycle, and prefill tok/s. The projected
speedup at a given tau is tau x decode / cycle.

Where the fused GatedDeltaNet kernels are active (CUDA), the hybrid's verify,
cycle and prefill are also measured with them switched off (the op loop), in
the same run, so the ratios compare like with like. Where attention keys are
bucketed (stable_shapes.py, CUDA), verify and cycle are also measured with
exact key lengths. Also reported: the cycle that syncs after every phase (the
engine times one in eight that way), and per-layer timings at 16 vs 1 tokens
(where verify time goes). `--tiny` uses small shapes and runs anywhere.

Also runnable without the CLI: `python -m dflash_tui.bench_synthetic --tiny`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from .mlx_setup import import_mlx

DEFAULT_CONTEXTS = (512, 2048, 8192)
TINY_CONTEXTS = (32, 96)
TAUS = (4.0, 6.5, 9.4)
CYCLE_KEEP = 7  # tokens kept per timed cycle (tau 6.5 rounds to 7 committed positions)
PREFILL_CHUNK = 2048
CACHE_HEADROOM = 512  # KV slots beyond the context, so timed steps never regrow the buffers

# Real shapes: Qwen3.5-9B and Qwen3-8B (config.json), and z-lab's 5-layer Qwen3-style drafts.
SHAPES = {
    "hybrid": {
        "name": "Qwen3.5-9B-shaped hybrid", "family": "qwen3_5", "vocab_size": 248320,
        "target": dict(hidden_size=4096, num_layers=32, heads=16, kv_heads=4, head_dim=256,
                       intermediate_size=12288),
        "linear": dict(linear_num_value_heads=32, linear_num_key_heads=16, linear_key_head_dim=128,
                       linear_value_head_dim=128),
        "draft": dict(num_layers=5, heads=32, kv_heads=8, head_dim=128, intermediate_size=12288),
    },
    "attention": {
        "name": "Qwen3-8B-shaped attention", "family": "qwen3", "vocab_size": 151936,
        "target": dict(hidden_size=4096, num_layers=36, heads=32, kv_heads=8, head_dim=128,
                       intermediate_size=12288),
        "draft": dict(num_layers=5, heads=32, kv_heads=8, head_dim=128, intermediate_size=12288),
    },
}
TINY_SHAPES = {
    "hybrid": {
        "name": "tiny hybrid", "family": "qwen3_5", "vocab_size": 512,
        "target": dict(hidden_size=64, num_layers=4, heads=4, kv_heads=2, head_dim=16, intermediate_size=192),
        "linear": {},
        "draft": dict(num_layers=2),
    },
    "attention": {
        "name": "tiny attention", "family": "qwen3", "vocab_size": 512,
        "target": dict(hidden_size=64, num_layers=4, heads=4, kv_heads=2, head_dim=16, intermediate_size=192),
        "draft": dict(num_layers=2),
    },
}


def add_synthetic_args(parser: argparse.ArgumentParser) -> None:
    """Options of `dflash-tui bench --synthetic` (bench's own --runs, --block-size, --json are reused)."""
    parser.add_argument("--synthetic", action="store_true",
                        help="time DFlash phases on random-weight 9B-shaped targets (no model download)")
    parser.add_argument("--tiny", action="store_true", help="with --synthetic: small shapes (CPU, tests)")
    parser.add_argument("--contexts", help="with --synthetic: comma-separated context lengths "
                                           "(default 512,2048,8192; tiny 32,96)")
    parser.add_argument("--targets", default="hybrid,attention",
                        help="with --synthetic: hybrid, attention or both (default)")
    parser.add_argument("--oploop-prefill-contexts", default="2048",
                        help="with --synthetic: contexts whose op-loop prefill is also timed (slow; default 2048)")


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


class _Clock:
    """Median wall time of a synchronizing callable, after warm-up calls."""

    def __init__(self, repeats: int, warmup: int = 1):
        self.repeats = repeats
        self.warmup = warmup

    def median_ms(self, fn, before=None, after=None) -> float:
        times = []
        for i in range(self.warmup + self.repeats):
            if before is not None:
                before()
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
            if after is not None:
                after()
            if i >= self.warmup:
                times.append(dt)
        return 1000 * _median(times)

    def interleaved_ms(self, fns: dict, rounds: int | None = None, lead_in: bool = False) -> dict[str, float]:
        """Median ms of each callable, run in turn round after round: a drift in the machine's speed
        (clocks, other tenants) lands on every variant alike, so their differences hold. lead_in: each
        timed call follows an untimed call of the same variant, so the work a call queues for the next one
        (a rollback) is paid by its own variant, not by whichever variant comes next in the round."""
        times: dict[str, list[float]] = {name: [] for name in fns}
        for i in range(self.warmup + (rounds or self.repeats)):
            for name, fn in fns.items():
                if lead_in:
                    fn()
                t0 = time.perf_counter()
                fn()
                if i >= self.warmup:
                    times[name].append(time.perf_counter() - t0)
        return {name: 1000 * _median(t) for name, t in times.items()}


def shape_config(shape: dict) -> dict:
    """The target's config.json dict for one of SHAPES / TINY_SHAPES."""
    from .synthetic import target_config

    cfg = target_config(shape["family"], shape["vocab_size"], **shape["target"])
    if shape["family"] == "qwen3_5":
        cfg["text_config"].update(shape.get("linear", {}))
    return cfg


class SyntheticPair:
    """A random-weight target (TargetAdapter) and its DFlash draft, built in memory."""

    def __init__(self, shape: dict, dtype, seed: int = 0):
        mx = import_mlx()
        from mlx_lm.utils import _get_classes as get_model_classes

        from .engine.draft import DFlashDraftModel, DraftConfig
        from .engine.target import TargetAdapter
        from .synthetic import draft_config

        self.shape = shape
        self.dtype = dtype
        cfg = shape_config(shape)
        self.config = cfg
        self.text = cfg.get("text_config", cfg)
        mx.random.seed(seed)
        model_class, args_class = get_model_classes(cfg)
        model = model_class(args_class.from_dict(cfg))
        model.set_dtype(dtype)
        mx.eval(model.parameters())
        self.target = TargetAdapter(model, cfg)
        dcfg = draft_config(cfg, block_size=16, mask_token_id=shape["vocab_size"] - 1, **shape["draft"])
        self.draft = DFlashDraftModel(DraftConfig.from_dict(dcfg))
        self.draft.set_dtype(dtype)
        mx.eval(self.draft.parameters())
        self.taps = self.draft.config.target_layer_ids

    @property
    def parameters_b(self) -> float:
        from mlx.utils import tree_flatten

        return sum(v.size for _, v in tree_flatten(self.target.model.parameters())) / 1e9

    def filled_cache(self, context: int) -> list:
        """A target cache holding `context` positions of random K/V and a random recurrent state."""
        mx = import_mlx()
        cache = self.target.make_cache()
        kvh, hd = self.text["num_key_value_heads"], self.text["head_dim"]
        cap = -(-(context + CACHE_HEADROOM) // 256) * 256
        arrays = []
        for layer, c in zip(self.target.layers, cache):
            if getattr(layer, "is_linear", False):
                la = layer.linear_attn
                c[0] = mx.zeros((1, la.conv_kernel_size - 1, la.conv_dim), dtype=self.dtype)
                c[1] = 0.01 * mx.random.normal((1, la.num_v_heads, la.head_v_dim, la.head_k_dim))
                arrays += [c[0], c[1]]
            else:  # one buffer per layer: shared buffers would be copied on every cache update
                c.keys = mx.random.normal((1, kvh, cap, hd)).astype(self.dtype)
                c.values = mx.random.normal((1, kvh, cap, hd)).astype(self.dtype)
                c.offset = context
                arrays += [c.keys, c.values]
        mx.eval(arrays)
        return cache

    def decode_state(self, context: int):
        """An engine DecodeState at `context` positions: target cache and draft context K/V."""
        mx = import_mlx()
        from .engine.context import DraftContext
        from .engine.decode import DecodeState

        cfg = self.draft.config
        ctx = DraftContext(len(self.draft.layers))
        kv = [(mx.random.normal((1, cfg.num_key_value_heads, context, cfg.head_dim)).astype(self.dtype),
               mx.random.normal((1, cfg.num_key_value_heads, context, cfg.head_dim)).astype(self.dtype))
              for _ in self.draft.layers]
        ctx.append(kv)
        mx.eval(ctx.arrays())
        return DecodeState(self.filled_cache(context), tokens=[0] * context, context=ctx)


def _gdn_cache_arrays(cache) -> list:
    return [a for c in cache for a in (c.cache if hasattr(c, "cache") else ()) if a is not None]


def mlx_lm_decode_ms(pair: SyntheticPair, context: int, steps: int) -> float:
    """Median per-token time of mlx-lm's own decode loop (generate_step, pipelined as in stream_generate)."""
    mx = import_mlx()
    from mlx_lm.generate import generate_step

    cache = pair.filled_cache(context)
    stamps = []
    for _ in generate_step(mx.array([1]), pair.target.model, max_tokens=steps, prompt_cache=cache):
        stamps.append(time.perf_counter())
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    return 1000 * _median(gaps[1:])  # the first gap still carries warm-up work


class MlxLmDecoder:
    """mlx-lm's decode loop (generate_step, pipelined) as a callable that decodes `steps` tokens, on a cache of
    its own: run in turn with the engine's cycle, the two see the same moments of the GPU's clock."""

    def __init__(self, pair: SyntheticPair, context: int, steps: int = 8):
        mx = import_mlx()
        from mlx_lm.generate import generate_step

        self.steps = steps
        self._tokens = generate_step(mx.array([1]), pair.target.model, max_tokens=1 << 30,
                                     prompt_cache=pair.filled_cache(context))

    def __call__(self) -> None:
        for _ in range(self.steps):
            next(self._tokens)

    def close(self) -> None:
        self._tokens.close()


class EngineTimer:
    """The engine's DFlash phases at one context length, mirroring decode.dflash_generate's cycle."""

    def __init__(self, pair: SyntheticPair, context: int, block: int, keep: int, clock: _Clock):
        from .engine.decode import draft_block

        self.pair = pair
        self.block = block
        self.keep = keep
        self.clock = clock
        self.state = pair.decode_state(context)
        self.pos = context
        self.propose = draft_block(pair.target, pair.draft, self.state)
        self.staged = 1
        self.drafts = [2] * (block - 1)
        self._record = None

    def _verify(self):
        mx = import_mlx()
        t = self.pair.target
        logits, feats, record = t.forward(mx.array([[self.staged] + self.drafts]), self.state.cache,
                                          self.pair.taps, record=True)
        mx.argmax(logits[0], axis=-1).tolist()
        return feats, record

    def _rollback(self, record, keep: int, queued: bool = False):
        mx = import_mlx()
        self.pair.target.rollback(self.state.cache, record, keep)
        if keep < self.block and not queued:
            mx.eval(_gdn_cache_arrays(self.state.cache))
        self.pos += keep

    def draft_ms(self) -> float:
        return self.clock.median_ms(lambda: self.propose(self.staged, self.pos, self.block))

    def verify_ms(self) -> float:
        def run():
            self._record = self._verify()[1]

        return self.clock.median_ms(run, after=lambda: self._rollback(self._record, 1))

    def chained_ms(self, tokens: int, passes: int = 8) -> float:
        """Device time per target pass of `tokens` tokens with no host wait between passes: `passes` of them
        queued back to back (each rolled back to one kept token, lazily) and evaluated once. Beside the synced
        verify and decode figures it splits a pass's cost into device work and host round trips."""
        mx = import_mlx()
        target, block = self.pair.target, ([self.staged] + self.drafts)[:tokens]

        def run():
            outs = []
            for _ in range(passes):
                logits, _, record = target.forward(mx.array([block]), self.state.cache, self.pair.taps, record=True)
                outs.append(mx.argmax(logits[0, -1]))
                if tokens > 1:
                    target.rollback(self.state.cache, record, 1)
                self.pos += 1
            mx.eval(outs + _gdn_cache_arrays(self.state.cache))

        return self.clock.median_ms(run) / passes

    def rollback_ms(self) -> float:
        def prepare():
            self._record = self._verify()[1]

        return self.clock.median_ms(lambda: self._rollback(self._record, self.keep), before=prepare)

    def cycle_fn(self, rollback: str = "queued", keep: int | None = None):
        """One engine greedy cycle (decode.fused_greedy_forward) as a callable: draft and verify in one graph
        with one host sync, then the rollback queued with the context append (async_eval) while the host goes
        on, as dflash_generate does. rollback="evaluated": the rollback waited for first (the alternative);
        keep: tokens kept per cycle (the block size: nothing to roll back)."""
        mx = import_mlx()
        from .engine.decode import draft_logits, fused_greedy_forward

        draft, target = self.pair.draft, self.pair.target
        run_draft = draft_logits(target, draft, self.state)
        keep = self.keep if keep is None else keep

        def cycle():
            start = self.pos
            _, _, feats, record = fused_greedy_forward(target, run_draft, self.state, self.staged, start,
                                                       self.block, self.pair.taps)
            self._rollback(record, keep, queued=rollback == "queued")
            self.state.context.append(draft.context_kv(draft.fuse(feats[:, :keep]), start))
            mx.async_eval(self.state.context.arrays() + _gdn_cache_arrays(self.state.cache))

        return cycle

    def cycle_ms(self) -> float:
        return self.clock.median_ms(self.cycle_fn())

    def cycle_host_ms(self) -> float:
        """Host time to build one greedy cycle's draft + verify graph, nothing evaluated: with one sync per
        cycle the device idles for this long (Python and MLX graph building), whatever the model's size."""
        mx = import_mlx()
        from .engine.decode import _argmax_rows, draft_logits

        target = self.pair.target
        run_draft = draft_logits(target, self.pair.draft, self.state)
        built: dict = {}

        def build():
            drafts = _argmax_rows(run_draft(self.staged, self.pos, self.block))
            verify_in = mx.concatenate([mx.array([self.staged], dtype=mx.int32), drafts])[None]
            logits, _, built["record"] = target.forward(verify_in, self.state.cache, self.pair.taps, record=True)
            built["out"] = (_argmax_rows(logits[0]), drafts)

        def settle():
            mx.eval(built["out"])
            self._rollback(built["record"], 1)

        return self.clock.median_ms(build, after=settle)

    def rollback_variants_ms(self, rounds: int) -> dict[str, float]:
        """The engine's cycle beside its alternatives, interleaved: `evaluated` (the rollback waited for),
        `none` (every draft kept: nothing rolled back) and, on CUDA, `layerwise` (a replay launch per layer)."""
        from .engine import gdn_cuda

        fns = {"cycle": self.cycle_fn(), "evaluated": self.cycle_fn("evaluated"),
               "none": self.cycle_fn(keep=self.block)}
        if self.pair.target.hybrid and gdn_cuda.enabled():
            queued = self.cycle_fn()

            def layerwise():
                gdn_cuda.set_layers_enabled(False)
                try:
                    queued()
                finally:
                    gdn_cuda.set_layers_enabled(True)

            fns["layerwise"] = layerwise
        return self.clock.interleaved_ms(fns, rounds, lead_in=True)

    def decode_and_cycle_ms(self, rounds: int, steps: int = 8) -> tuple[float, float]:
        """(mlx-lm's decode step, the engine's cycle) in ms, run in turn round after round (each timed call
        after an untimed one of the same kind, so the step mlx-lm leaves in flight is paid by its own side):
        the projected speedup from these two does not depend on the GPU's speed drifting between phases."""
        decoder = MlxLmDecoder(self.pair, self.pos, steps)
        try:
            times = self.clock.interleaved_ms({"decode": decoder, "cycle": self.cycle_fn()}, rounds, lead_in=True)
        finally:
            decoder.close()
        return times["decode"] / steps, times["cycle"]

    def cycle_timed_ms(self) -> float:
        """The cycle decode.dflash_generate runs every 8th time to time its phases: a host sync after the
        draft, the verify, the rollback and the context append."""
        mx = import_mlx()
        draft = self.pair.draft

        def cycle():
            self.drafts = self.propose(self.staged, self.pos, self.block)
            start = self.pos
            feats, record = self._verify()
            self._rollback(record, self.keep)
            self.state.context.append(draft.context_kv(draft.fuse(feats[:, :self.keep]), start))
            mx.eval(self.state.context.arrays())

        return self.clock.median_ms(cycle)


def prefill_tps(pair: SyntheticPair, context: int, record: bool, repeats: int) -> float:
    """Prompt tok/s from an empty cache, in chunks, with the draft context built as decode.prefill does.

    record=True sends GatedDeltaNet layers through the engine's tape path (the
    fused kernel on CUDA); record=False is mlx-lm's own layer (the op loop).
    """
    mx = import_mlx()
    from .engine.context import DraftContext

    target, draft = pair.target, pair.draft
    ids = mx.random.randint(0, pair.shape["vocab_size"], (1, context))
    mx.eval(ids)

    def run(n: int):
        cache = target.make_cache()
        ctx = DraftContext(len(draft.layers))
        for start in range(0, n, PREFILL_CHUNK):
            logits, feats, _ = target.forward(ids[:, start:min(n, start + PREFILL_CHUNK)], cache, pair.taps,
                                              record=record)
            ctx.append(draft.context_kv(draft.fuse(feats), start))
            mx.eval([logits[:, -1]] + ctx.arrays() + _gdn_cache_arrays(cache) +
                    [a for c in cache if hasattr(c, "keys") for a in (c.keys, c.values)])

    run(min(context, 64))  # warm-up: kernels, allocator
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run(context)
        times.append(time.perf_counter() - t0)
    return context / _median(times)


def gdn_layer_ms(pair: SyntheticPair, steps: int, repeats: int) -> dict[str, float]:
    """One GatedDeltaNet recurrence (gates included) at the target's shapes: op loop vs fused kernel."""
    mx = import_mlx()
    from .engine import gdn_cuda

    la = next(layer.linear_attn for layer in pair.target.layers if getattr(layer, "is_linear", False))
    inputs = gdn_cuda.probe_inputs(1, steps, la.num_k_heads, la.num_v_heads, la.head_k_dim, la.head_v_dim,
                                   pair.dtype, seed=steps)
    mx.eval(inputs)
    clock = _Clock(repeats)
    out = {"steps": steps, "oploop_ms": clock.median_ms(lambda: mx.eval(gdn_cuda.reference_recurrence(*inputs)))}
    if gdn_cuda.fused_recurrence_with_tape(*inputs) is not None:
        out["fused_ms"] = clock.median_ms(lambda: mx.eval(gdn_cuda.fused_recurrence_with_tape(*inputs)))
    return out


def layer_breakdown(pair: SyntheticPair, context: int, block: int, repeats: int) -> dict[str, float]:
    """Median ms of one layer of each kind at `block` tokens vs 1 token (each call synced): where verify
    time goes. The cache is reset before every call, so each one sees `context` cached positions."""
    mx = import_mlx()
    from mlx_lm.models.base import create_attention_mask

    from .engine.rollback import gdn_forward_with_tape

    target, clock = pair.target, _Clock(repeats)
    cache = pair.filled_cache(context)
    x = mx.random.normal((1, block, target.hidden_size)).astype(pair.dtype)
    mx.eval(x)
    out: dict[str, float] = {}
    for i, (layer, c) in enumerate(zip(target.layers, cache)):
        if getattr(layer, "is_linear", False) and "gdn_tape_ms" not in out:
            saved = list(c.cache)

            def reset(c=c, saved=saved):
                c.cache = list(saved)

            out["gdn_tape_ms"] = clock.median_ms(
                lambda: mx.eval(gdn_forward_with_tape(layer.linear_attn, x, c)[0]), before=reset)
            out["gdn_1_mlx_lm_ms"] = clock.median_ms(lambda: mx.eval(layer.linear_attn(x[:, :1], None, c)),
                                                     before=reset)
        elif not getattr(layer, "is_linear", False) and "attention_ms" not in out:
            for name, h in (("attention_ms", x), ("attention_1_ms", x[:, :1])):
                out[name] = clock.median_ms(lambda: mx.eval(layer(h, create_attention_mask(h, c), c)),
                                            after=lambda n=h.shape[1]: c.trim(n))
    mlp = target.layers[0].mlp
    out["mlp_ms"] = clock.median_ms(lambda: mx.eval(mlp(x)))
    out["mlp_1_ms"] = clock.median_ms(lambda: mx.eval(mlp(x[:, :1])))
    out["head_ms"] = clock.median_ms(lambda: mx.eval(target.head(x)))
    out["head_1_ms"] = clock.median_ms(lambda: mx.eval(target.head(x[:, :1])))

    def chained(h, times: int = 20):  # device time of one MLP: `times` of them queued, one wait
        def run():
            y = h
            for _ in range(times):
                y = mlp(y)
            mx.eval(y)
        return clock.median_ms(run) / times

    out["mlp_chained_ms"] = chained(x)  # a block of tokens: the verify's matmul shape
    out["mlp_1_chained_ms"] = chained(x[:, :1])  # one token: decode's
    return out


def measure(pair: SyntheticPair, context: int, *, repeats: int, block: int, keep: int,
            compare_oploop: bool, oploop_prefill: bool, progress) -> dict:
    """Every phase at one context length; `*_oploop` entries repeat them with the fused kernel off,
    `*_exact` ones with attention key lengths left unbucketed (stable_shapes.py)."""
    from .engine import gdn_cuda, stable_shapes

    clock = _Clock(repeats)
    r: dict = {"context": context}
    r["decode_ms"] = mlx_lm_decode_ms(pair, context, steps=2 + 3 * repeats)
    timer = EngineTimer(pair, context, block, keep, clock)
    r["draft_ms"] = timer.draft_ms()
    r["verify_ms"] = timer.verify_ms()
    r["rollback_ms"] = timer.rollback_ms()
    variants = timer.rollback_variants_ms(rounds=3 * repeats)  # interleaved: their differences hold
    r["cycle_ms"] = variants["cycle"]  # the engine's greedy cycle
    r["cycle_evaluated_rollback_ms"] = variants["evaluated"]
    r["cycle_without_rollback_ms"] = variants["none"]
    if "layerwise" in variants:
        r["cycle_layerwise_rollback_ms"] = variants["layerwise"]
        gdn_cuda.set_layers_enabled(False)  # one replay launch per layer, as before the all-layers kernel
        try:
            r["rollback_layerwise_ms"] = timer.rollback_ms()
        finally:
            gdn_cuda.set_layers_enabled(True)
    r["decode_side_by_side_ms"], r["cycle_side_by_side_ms"] = timer.decode_and_cycle_ms(rounds=3 * repeats)
    r["cycle_timed_ms"] = timer.cycle_timed_ms()  # every 8th cycle: a host sync after each phase
    r["cycle_host_ms"] = timer.cycle_host_ms()  # building the cycle's graph: the device idles meanwhile
    r["verify_chained_ms"] = timer.chained_ms(block)  # device time per pass, no host wait in between
    r["decode_chained_ms"] = timer.chained_ms(1)
    if stable_shapes.enabled():  # the same with exact key lengths (a new cuDNN graph per cycle)
        stable_shapes.set_enabled(False)
        try:
            timer = EngineTimer(pair, context, block, keep, clock)
            r["verify_exact_ms"] = timer.verify_ms()
            r["cycle_exact_ms"] = timer.cycle_ms()
        finally:
            stable_shapes.set_enabled(None)
    # mlx-lm's decode again, last: the first measurement can catch the GPU still ramping its clocks (session 4
    # saw 25.5 ms once where the engine's chained decode took 11.6). The faster of the two is the baseline,
    # which can only lower the projected speedups.
    r["decode_first_ms"] = r["decode_ms"]
    r["decode_last_ms"] = mlx_lm_decode_ms(pair, context, steps=2 + 3 * repeats)
    r["decode_ms"] = min(r["decode_first_ms"], r["decode_last_ms"])
    r["prefill_tps"] = prefill_tps(pair, context, record=True, repeats=2)
    if compare_oploop:
        gdn_cuda.set_enabled(False)
        try:
            timer = EngineTimer(pair, context, block, keep, clock)
            r["verify_oploop_ms"] = timer.verify_ms()
            r["cycle_oploop_ms"] = timer.cycle_ms()
            if oploop_prefill:
                r["prefill_oploop_tps"] = prefill_tps(pair, context, record=False, repeats=1)
        finally:
            gdn_cuda.set_enabled(True)
    _derive(r)
    progress(f"    {context:>6} ctx: decode {r['decode_ms']:.2f} ms, verify {r['verify_ms']:.2f} ms "
             f"({r['verify_over_decode']:.2f}x), cycle {r['cycle_ms']:.2f} ms, "
             f"speedup@6.5 {r['speedup'].get('6.5', 0):.2f}x")
    return r


def _derive(r: dict) -> None:
    d = r["decode_ms"]
    r["verify_over_decode"] = r["verify_ms"] / d
    r["rollback_share"] = r["rollback_ms"] / r["cycle_ms"]
    if "cycle_without_rollback_ms" in r:  # what the rollback adds to the engine's cycle
        r["rollback_in_cycle_share"] = max(0.0, 1 - r["cycle_without_rollback_ms"] / r["cycle_ms"])
        for name in ("evaluated", "layerwise"):
            if f"cycle_{name}_rollback_ms" in r:
                r[f"rollback_in_cycle_share_{name}"] = max(0.0, 1 - r["cycle_without_rollback_ms"]
                                                          / r[f"cycle_{name}_rollback_ms"])
    r["speedup"] = {f"{tau:g}": tau * d / r["cycle_ms"] for tau in TAUS}
    if "cycle_side_by_side_ms" in r:  # decode and cycle timed in turn: no drift between the two
        r["speedup_side_by_side"] = {f"{tau:g}": tau * r["decode_side_by_side_ms"] / r["cycle_side_by_side_ms"]
                                     for tau in TAUS}
    for name in ("timed", "exact"):
        if f"cycle_{name}_ms" in r:
            r[f"speedup_{name}"] = {f"{tau:g}": tau * d / r[f"cycle_{name}_ms"] for tau in TAUS}
    if "verify_oploop_ms" in r:
        r["verify_oploop_over_decode"] = r["verify_oploop_ms"] / d
        r["speedup_oploop"] = {f"{tau:g}": tau * d / r["cycle_oploop_ms"] for tau in TAUS}
    if "prefill_oploop_tps" in r:
        r["prefill_fused_over_oploop"] = r["prefill_tps"] / r["prefill_oploop_tps"]


def goals(results: dict) -> dict:
    """The issue's figures to reach, checked where the run measured them (None: not measured)."""
    def at(kind: str, ctx: int) -> dict | None:
        rows = results.get(kind, {}).get("contexts", [])
        return next((r for r in rows if r["context"] == ctx), None)

    h, a = at("hybrid", 2048), at("attention", 2048)
    return {
        "hybrid_2048_verify_at_most_1.5x_decode": None if h is None else h["verify_over_decode"] <= 1.5,
        # what the rollback adds to the engine's own cycle (interleaved with the same cycle keeping every draft);
        # a synced rollback's share (rollback_share) also counts a host wait the engine does not make
        "hybrid_2048_rollback_under_3pct_of_cycle": None if h is None else
        h.get("rollback_in_cycle_share", h["rollback_share"]) < 0.03,
        "hybrid_2048_speedup_at_6.5_at_least_4x": None if h is None else h["speedup"]["6.5"] >= 4,
        "attention_2048_speedup_at_6.5_at_least_4x": None if a is None else a["speedup"]["6.5"] >= 4,
        "hybrid_2048_prefill_at_least_5x_oploop": (None if h is None or "prefill_fused_over_oploop" not in h
                                                   else h["prefill_fused_over_oploop"] >= 5),
    }


def format_table(results: dict) -> str:
    head = (f"{'target':<28} {'ctx':>6} {'decode':>7} {'draft':>6} {'verify':>7} {'v/dec':>6} {'rollbk':>6} "
            f"{'rb%':>5} {'rb%cyc':>6} {'cycle':>7} {'host':>6} "
            + " ".join(f"{'x@' + format(t, 'g'):>6}" for t in TAUS) +
            f" {'timed':>6} {'exact':>6} {'prefill':>9} {'v/dec op':>8} {'x@6.5 op':>8} {'pf x op':>7}")
    lines = ["times in ms; cycle = the engine's greedy cycle (draft + verify in one graph, one host sync, "
             "rollback and context append queued); rb% = a synced rollback / cycle, rb%cyc = what the rollback "
             "adds to the cycle (vs the same cycle keeping every draft); host = building the cycle's graph on the host "
             "(the device idles meanwhile); x@tau = tau x decode / cycle; at 6.5: 'timed' = the cycle "
             "that syncs after each phase (every 8th), 'exact' = attention keys not bucketed (a cuDNN graph "
             "per cycle on CUDA), 'op' = GatedDeltaNet op loop (fused kernels off); prefill in tok/s",
             head, "-" * len(head)]
    for kind, res in results.items():
        for err in res.get("errors", []):
            lines.append(f"{res['name'][:28]:<28} failed: {str(err)[:200]}")
        for r in res["contexts"]:
            op_v = f"{r['verify_oploop_over_decode']:.2f}" if "verify_oploop_over_decode" in r else "-"
            op_x = f"{r['speedup_oploop']['6.5']:.2f}" if "speedup_oploop" in r else "-"
            op_p = f"{r['prefill_fused_over_oploop']:.1f}" if "prefill_fused_over_oploop" in r else "-"
            lines.append(
                f"{res['name'][:28]:<28} {r['context']:>6} {r['decode_ms']:>7.2f} {r['draft_ms']:>6.2f} "
                f"{r['verify_ms']:>7.2f} {r['verify_over_decode']:>6.2f} {r['rollback_ms']:>6.2f} "
                f"{r['rollback_share']:>5.1%} {r.get('rollback_in_cycle_share', float('nan')):>6.1%} "
                f"{r['cycle_ms']:>7.2f} {r.get('cycle_host_ms', float('nan')):>6.2f} "
                + " ".join(f"{r['speedup'][format(t, 'g')]:>6.2f}" for t in TAUS)
                + f" {r.get('speedup_timed', {}).get('6.5', float('nan')):>6.2f}"
                + f" {r.get('speedup_exact', {}).get('6.5', float('nan')):>6.2f}"
                + f" {r['prefill_tps']:>9.0f} {op_v:>8} {op_x:>8} {op_p:>7}")
    for kind, res in results.items():  # device time per pass, 8 passes queued back to back
        for r in res["contexts"]:
            if "verify_chained_ms" in r:
                lines.append(f"chained, {res['name'][:28]} at {r['context']}: verify "
                             f"{r['verify_chained_ms']:.2f} ms a pass, decode {r['decode_chained_ms']:.2f} ms "
                             f"({r['verify_chained_ms'] / r['decode_chained_ms']:.2f}x); synced: verify "
                             f"{r['verify_ms']:.2f}, mlx-lm decode {r['decode_ms']:.2f} (first "
                             f"{r.get('decode_first_ms', float('nan')):.2f}, last "
                             f"{r.get('decode_last_ms', float('nan')):.2f}); cycle graph built on the "
                             f"host in {r.get('cycle_host_ms', float('nan')):.2f} ms")
    for kind, res in results.items():  # mlx-lm's decode and the engine's cycle, timed in turn
        for r in res["contexts"]:
            if "speedup_side_by_side" in r:
                lines.append(f"side by side, {res['name'][:28]} at {r['context']}: mlx-lm decode "
                             f"{r['decode_side_by_side_ms']:.2f} ms a token, cycle {r['cycle_side_by_side_ms']:.2f} "
                             "ms, run in turn: x@tau " + ", ".join(
                                 f"{t:g}: {r['speedup_side_by_side'][format(t, 'g')]:.2f}" for t in TAUS))
    for kind, res in results.items():  # the rollback's alternatives, measured side by side
        for r in res["contexts"]:
            if "cycle_evaluated_rollback_ms" not in r:
                continue
            line = (f"rollback, {res['name'][:28]} at {r['context']}: cycle {r['cycle_ms']:.2f} ms (rollback queued, "
                    f"the engine's), {r['cycle_evaluated_rollback_ms']:.2f} (evaluated), "
                    f"{r['cycle_without_rollback_ms']:.2f} (nothing rolled back): the rollback adds "
                    f"{r['rollback_in_cycle_share']:.1%} queued, "
                    f"{r['rollback_in_cycle_share_evaluated']:.1%} evaluated")
            if "cycle_layerwise_rollback_ms" in r:
                line += (f", {r['rollback_in_cycle_share_layerwise']:.1%} with a launch per layer; synced rollback "
                         f"{r['rollback_ms']:.2f} ms all layers in one launch vs {r['rollback_layerwise_ms']:.2f}")
            lines.append(line)
    return "\n".join(lines)


def run_synthetic(args) -> int:
    """Entry point for `dflash-tui bench --synthetic` (and `python -m dflash_tui.bench_synthetic`)."""
    mx = import_mlx()
    import mlx_lm

    from .engine import gdn_cuda

    progress = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    tiny = bool(getattr(args, "tiny", False))
    shapes = TINY_SHAPES if tiny else SHAPES
    contexts = ([int(c) for c in args.contexts.split(",")] if getattr(args, "contexts", None)
                else list(TINY_CONTEXTS if tiny else DEFAULT_CONTEXTS))
    kinds = [k.strip() for k in (getattr(args, "targets", None) or "hybrid,attention").split(",") if k.strip()]
    unknown = [k for k in kinds if k not in shapes]
    if unknown:
        raise SystemExit(f"error: unknown --targets {unknown}: use hybrid, attention or both")
    repeats = max(1, getattr(args, "runs", None) or 3)
    block = getattr(args, "block_size", None) or 16
    keep = min(CYCLE_KEEP, block - 1)
    on_gpu = mx.default_device() == mx.gpu
    dtype = mx.bfloat16 if on_gpu else mx.float32  # bf16 never uses BLAS on the CPU
    oploop_contexts = {int(c) for c in str(getattr(args, "oploop_prefill_contexts", None) or "2048").split(",")}
    meta = {
        "device": str(mx.default_device()), "cuda": gdn_cuda.cuda_active(), "dtype": str(dtype),
        "mlx": mx.__version__, "mlx_lm": mlx_lm.__version__, "runs": repeats, "block_size": block,
        "cycle_keep": keep, "taus": list(TAUS), "tiny": tiny,
        "env": {k: os.environ.get(k) for k in ("MLX_CUDA_USE_CUDNN_SDPA", "MLX_USE_CUDA_GRAPHS")},
    }
    results: dict = {}
    json_path = getattr(args, "json", None)

    def dump() -> str:
        payload = json.dumps({"meta": {**meta, "gdn_kernel": gdn_cuda.status()}, "results": results,
                              "goals": goals(results)}, indent=2)
        if json_path:
            Path(json_path).write_text(payload)
        return payload

    pairs = {}
    for kind in kinds:  # both targets stay loaded (about 35 GB in bf16) so contexts can come first
        shape = shapes[kind]
        progress(f"building {shape['name']} ({dtype}) ...")
        t0 = time.perf_counter()
        pair = pairs[kind] = SyntheticPair(shape, dtype)
        results[kind] = {"name": shape["name"], "parameters_b": round(pair.parameters_b, 3),
                         "build_s": round(time.perf_counter() - t0, 1), "contexts": []}
    for context in contexts:  # the first context listed is measured for every target before the next
        for kind, pair in pairs.items():
            res = results[kind]
            compare = pair.target.hybrid and gdn_cuda.enabled()
            progress(f"  {res['name']}:")
            try:
                res["contexts"].append(measure(pair, context, repeats=repeats, block=block, keep=keep,
                                               compare_oploop=compare,
                                               oploop_prefill=compare and context in oploop_contexts,
                                               progress=progress))
            except Exception as e:  # report it and go on: the other targets and contexts still count
                res.setdefault("errors", []).append({"context": context, "error": f"{type(e).__name__}: {e}"})
                progress(f"    {context} ctx failed: {type(e).__name__}: {str(e)[:300]}")
            dump()  # keep what was measured if a later step dies
    for kind, pair in pairs.items():  # diagnostics, after every headline figure is in
        try:
            if pair.target.hybrid:
                steps = (block, min(max(contexts), PREFILL_CHUNK))  # a verify and a prefill chunk
                results[kind]["gdn_layer"] = [gdn_layer_ms(pair, n, repeats) for n in steps]
                progress(f"  one GatedDeltaNet recurrence: {results[kind]['gdn_layer']}")
            results[kind]["layers"] = layer_breakdown(pair, contexts[0], block, repeats)
            progress(f"  {results[kind]['name']} layers at {contexts[0]}: {results[kind]['layers']}")
        except Exception as e:
            results[kind].setdefault("errors", []).append({"diagnostics": f"{type(e).__name__}: {e}"})
        dump()
    print(format_table(results))
    payload = dump()
    if json_path:
        progress(f"json written to {json_path}")
    else:
        print(payload)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dflash_tui.bench_synthetic",
                                     description=__doc__.splitlines()[0])
    add_synthetic_args(parser)
    parser.add_argument("--runs", type=int, default=5, help="timed repeats per phase (median)")
    parser.add_argument("--block-size", type=int, default=16)
    parser.add_argument("--json", help="write the JSON here instead of stdout")
    return run_synthetic(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
