"""The rollback tape of one Qwen3.5-9B-shaped GatedDeltaNet layer stays under 1 MiB for a 16-token verify."""

import pytest

from dflash_tui.engine.rollback import gdn_forward_with_tape
from engine_testkit import mx

MiB = 1 << 20
B = 16


@pytest.fixture(scope="module")
def qwen3_5_9b_gdn_layer():
    from mlx_lm.models.qwen3_5 import GatedDeltaNet, TextModelArgs

    args = TextModelArgs(model_type="qwen3_5_text", hidden_size=4096, num_hidden_layers=1, vocab_size=16,
                         linear_num_value_heads=32, linear_num_key_heads=16, linear_key_head_dim=128,
                         linear_value_head_dim=128, linear_conv_kernel_dim=4)
    mx.random.seed(0)
    return GatedDeltaNet(args)


@pytest.mark.parametrize("dtype", [mx.float32, mx.bfloat16], ids=["float32", "bfloat16"])
def test_rollback_tape_of_a_qwen3_5_9b_layer_stays_under_one_mib(qwen3_5_9b_gdn_layer, dtype):
    from mlx_lm.models.cache import ArraysCache

    layer = qwen3_5_9b_gdn_layer
    layer.set_dtype(dtype)
    cache = ArraysCache(2)
    out, tape = gdn_forward_with_tape(layer, mx.random.normal((1, B, 4096)).astype(dtype), cache)
    mx.eval(out, tape.qkv, tape.log_g_cum, tape.keys, tape.deltas)
    assert tape.qkv.shape == (1, B, layer.conv_dim)  # the tape really covers the whole verify block
    per_step_states = B * cache[1].nbytes  # what saving the recurrent state after every step would cost
    assert per_step_states == 32 * MiB
    assert tape.nbytes < MiB, f"tape is {tape.nbytes / MiB:.3f} MiB per layer"
