"""The CUDA attention paths (forced on here) give the same results as exact shapes and MLX's fused attention.

On CUDA prefill chunks attend over keys padded to a multiple of 256 so cuDNN
graphs are reused, and short blocks (a verify, the draft's block) attend by
matmul; neither may change results. Run on the CPU in bf16 (these paths only
apply to half precision) against the plain path. On a CUDA GPU the "exact" run attends through MLX's fused kernels (cuDNN) and the
routed one by matmul, which round bf16 differently: there the bound is a few bf16 steps (the H200 gave 0.0156 and
0.0078 on logits, 0.0234 on draft hidden states).
"""

import pytest

from dflash_tui.engine import gdn_cuda, stable_shapes
from dflash_tui.engine.session import Engine
from engine_testkit import PROMPTS, chat_ids, mx

# Exact shapes and padded ones agree to the bit on the CPU; a mask one position off moves logits by >1e-2 there.
ATOL = 6e-2 if gdn_cuda.cuda_active() else 2e-3


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
def test_prefill_keys_come_in_buckets_and_verify_blocks_keep_exact_keys(bf16_engine):
    """What cuDNN sees: after the first fill, a prefill chunk (more than SHORT_BLOCK tokens) returns keys up to a
    multiple of 256, so chunks share one key length; a verify block (attended by matmul, no cuDNN graph) and a
    single-token step return exactly the offset."""
    stable_shapes.set_enabled(True)
    cache = stable_shapes.BucketedKVCache()
    k = mx.zeros((1, 2, 40, 16), dtype=mx.bfloat16)
    assert cache.update_and_fetch(k, k)[0].shape[2] == 40  # first fill: as mlx-lm
    lengths = {cache.update_and_fetch(k, k)[0].shape[2] for _ in range(3)}
    assert lengths == {256} and cache.offset == 160
    mask = cache.make_mask(40)
    assert mask.shape == (1, 1, 40, 256)
    row0 = (mask[0, 0, 0] == 0).tolist()
    assert row0 == [True] * 161 + [False] * 95  # sees itself and everything before, never the padding
    assert cache.update_and_fetch(k[:, :, :16], k[:, :, :16])[0].shape[2] == 176
    assert cache.make_mask(16) == "causal"
    assert cache.update_and_fetch(k[:, :, :1], k[:, :, :1])[0].shape[2] == 177


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_short_block_attention_equals_fused_attention(dtype):
    """Grouped heads folded into rows, causal for the last queries or everything visible."""
    mx.random.seed(0)
    dt = getattr(mx, dtype)
    q = mx.random.normal((1, 8, 16, 32)).astype(dt)
    k = mx.random.normal((1, 2, 300, 32)).astype(dt)
    v = mx.random.normal((1, 2, 300, 32)).astype(dt)
    tol = 1e-5 if dtype == "float32" else 3e-2
    for causal in (True, False):
        ours = stable_shapes.short_block_attention(q, k, v, 0.2, causal=causal)
        ref = mx.fast.scaled_dot_product_attention(q, k, v, scale=0.2, mask="causal" if causal else None)
        assert mx.abs(ours.astype(mx.float32) - ref.astype(mx.float32)).max().item() < tol


@pytest.mark.parametrize("bf16_engine", ["qwen3"], indirect=True)
def test_verify_blocks_are_routed_to_matmul_attention_only_where_cudnn_would_run(bf16_engine, monkeypatch):
    calls = []
    original = stable_shapes.short_block_attention
    monkeypatch.setattr(stable_shapes, "short_block_attention", lambda *a, **kw: calls.append(1) or original(*a, **kw))
    prompt = chat_ids(bf16_engine, PROMPTS[0])
    verify_rounds(bf16_engine, prompt, bucketed=False)
    assert not calls  # CPU path untouched
    verify_rounds(bf16_engine, prompt, bucketed=True)
    layers = bf16_engine.target.num_layers
    assert len(calls) == 2 * layers  # two verify passes; the prompt's prefill is not a short block


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
