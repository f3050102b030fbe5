"""Bucketed attention shapes (the CUDA path, forced on here) give the same results as exact shapes.

On CUDA the verify and the draft attend over keys padded to a multiple of 256
so cuDNN graphs are reused; the padding must change nothing. Run on the CPU in
bf16 (bucketing only applies to half precision) against the unbucketed path.
"""

import pytest

from dflash_tui.engine import stable_shapes
from dflash_tui.engine.session import Engine
from engine_testkit import PROMPTS, chat_ids, mx

ATOL = 2e-3  # exact shapes and padded ones agree to the bit on the CPU; a mask one position off moves logits by >1e-2


@pytest.fixture
def bf16_engine(model_paths, request):
    engine = Engine.load(model_paths[request.param], model_paths[f"{request.param}-draft"])
    engine.target.model.set_dtype(mx.bfloat16)
    engine.draft.set_dtype(mx.bfloat16)
    yield engine
    stable_shapes.set_enabled(None)


def verify_rounds(engine, prompt: list[int], bucketed: bool) -> list[mx.array]:
    """Logits of a prefill, a 16-token verify, a rollback to 5 kept, and a second verify."""
    stable_shapes.set_enabled(bucketed)
    target, taps = engine.target, engine.draft.config.target_layer_ids
    cache = target.make_cache()
    out = [target.forward(mx.array([prompt]), cache, taps)[0][:, -1]]
    block = mx.array([[(prompt[-1] + 7 * i) % target.vocab_size for i in range(16)]])
    logits, _, record = target.forward(block, cache, taps, record=True)
    out.append(logits)
    target.rollback(cache, record, 5)
    out.append(target.forward(block, cache, taps, record=True)[0])
    mx.eval(out)
    return out


@pytest.mark.parametrize("bf16_engine", ["qwen3", "qwen3_5"], indirect=True)
def test_bucketed_verify_matches_exact_shapes(bf16_engine):
    prompt = chat_ids(bf16_engine, PROMPTS[0])
    exact = verify_rounds(bf16_engine, prompt, bucketed=False)
    padded = verify_rounds(bf16_engine, prompt, bucketed=True)
    for step, (a, b) in enumerate(zip(exact, padded)):
        assert a.shape == b.shape
        diff = mx.abs(a.astype(mx.float32) - b.astype(mx.float32)).max().item()
        assert diff < ATOL, f"round {step}: max logit difference {diff:.3g}"


@pytest.mark.parametrize("bf16_engine", ["qwen3"], indirect=True)
def test_verify_keys_come_in_buckets(bf16_engine):
    """What cuDNN sees: after the first fill, a multi-token update returns keys up to a multiple of 256,
    so consecutive cycles share one key length; a single-token step still returns exactly the offset."""
    stable_shapes.set_enabled(True)
    cache = stable_shapes.BucketedKVCache()
    k = mx.zeros((1, 2, 40, 16), dtype=mx.bfloat16)
    assert cache.update_and_fetch(k, k)[0].shape[2] == 40  # first fill: as mlx-lm
    lengths = {cache.update_and_fetch(k[:, :, :16], k[:, :, :16])[0].shape[2] for _ in range(5)}
    assert lengths == {256} and cache.offset == 120
    assert cache.update_and_fetch(k[:, :, :1], k[:, :, :1])[0].shape[2] == 121
    mask = cache.make_mask(16)
    assert mask.shape == (1, 1, 16, 256)
    row0 = (mask[0, 0, 0] == 0).tolist()
    assert row0 == [True] * 122 + [False] * 134  # sees itself and everything before, never the padding


@pytest.mark.parametrize("bf16_engine", ["qwen3"], indirect=True)
def test_bucketed_draft_matches_exact_shapes(bf16_engine):
    engine = bf16_engine
    draft, target = engine.draft, engine.target
    cfg = draft.config
    mx.random.seed(3)
    feats = mx.random.normal((1, 37, len(cfg.target_layer_ids) * target.hidden_size)).astype(mx.bfloat16)
    ctx = draft.context_kv(draft.fuse(feats), 0)
    block = target.embed(mx.array([[5] + [cfg.mask_token_id] * 15]))
    results = []
    for bucketed in (False, True):
        stable_shapes.set_enabled(bucketed)
        results.append(draft(block, ctx, 37).astype(mx.float32))
    diff = mx.abs(results[0] - results[1]).max().item()
    assert diff < ATOL, f"draft hidden states differ by {diff:.3g}"


@pytest.mark.parametrize("bf16_engine", ["qwen3", "qwen3_5"], indirect=True)
def test_mlx_lm_generation_on_bucketed_caches_is_unchanged(bf16_engine):
    """Plain decoding runs mlx-lm's own loop on the same caches: a prompt prefilled in several chunks (the
    later ones bucketed, with the cache's own mask) must decode the same tokens as with exact shapes."""
    from mlx_lm.generate import generate_step

    target = bf16_engine.target
    prompt = chat_ids(bf16_engine, PROMPTS[1]) * 3
    runs = []
    for bucketed in (False, True):
        stable_shapes.set_enabled(bucketed)
        steps = generate_step(mx.array(prompt), target.model, max_tokens=12, prefill_step_size=16,
                              prompt_cache=target.make_cache())
        runs.append([int(tok) for tok, _ in steps])
    assert runs[0] == runs[1]
