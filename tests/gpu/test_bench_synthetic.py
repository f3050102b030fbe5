"""`bench --synthetic` on the CPU: tiny shapes end to end, the 9B shapes, the derived figures."""

import argparse
import json

import pytest

from dflash_tui.mlx_setup import import_mlx

mx = import_mlx()

from dflash_tui import bench_synthetic as bs  # noqa: E402
from dflash_tui.engine import gdn_cuda  # noqa: E402


def test_tiny_bench_prints_a_table_and_writes_json_with_every_phase(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bs.main(["--tiny", "--runs", "1", "--contexts", "24", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "tiny hybrid" in table and "tiny attention" in table and "x@6.5" in table
    data = json.loads(out.read_text())
    assert set(data["results"]) == {"hybrid", "attention"}
    for kind in ("hybrid", "attention"):
        row = data["results"][kind]["contexts"][0]
        assert row["context"] == 24
        for phase in ("decode_ms", "draft_ms", "verify_ms", "rollback_ms", "cycle_ms", "prefill_tps",
                      "decode_side_by_side_ms", "cycle_side_by_side_ms"):
            assert row[phase] > 0, phase
        assert set(row["speedup"]) == set(row["speedup_side_by_side"]) == {"4", "6.5", "9.4"}
    assert "side by side, tiny hybrid at 24: mlx-lm decode" in table
    assert data["results"]["hybrid"]["gdn_layer"][0]["oploop_ms"] > 0
    assert data["meta"]["gdn_kernel"]["cuda"] == gdn_cuda.cuda_active()
    assert all(v is None for v in data["goals"].values())  # no 2048-token context in a tiny run


def _lazy_parameter_count(shape: dict) -> float:
    """Billions of parameters of the full-size target, from lazily initialised (never evaluated) weights."""
    from mlx.utils import tree_flatten
    from mlx_lm.utils import _get_classes as get_model_classes

    cfg = bs.shape_config(shape)
    model_class, args_class = get_model_classes(cfg)
    model = model_class(args_class.from_dict(cfg))
    return sum(v.size for _, v in tree_flatten(model.parameters())) / 1e9


@pytest.mark.parametrize("kind,low,high", [("hybrid", 8.5, 9.9), ("attention", 7.9, 8.4)])
def test_full_size_shapes_have_the_real_models_parameter_counts(kind, low, high):
    assert low <= _lazy_parameter_count(bs.SHAPES[kind]) <= high


def test_hybrid_shape_uses_qwen35_linear_attention_heads():
    text = bs.shape_config(bs.SHAPES["hybrid"])["text_config"]
    assert (text["linear_num_value_heads"], text["linear_num_key_heads"]) == (32, 16)
    assert (text["linear_key_head_dim"], text["linear_value_head_dim"]) == (128, 128)
    assert (text["num_attention_heads"], text["num_key_value_heads"], text["head_dim"]) == (16, 4, 256)


def test_projected_speedup_is_tau_times_decode_over_cycle():
    row = {"decode_ms": 10.0, "verify_ms": 12.0, "rollback_ms": 0.2, "cycle_ms": 16.25,
           "verify_oploop_ms": 60.0, "cycle_oploop_ms": 65.0, "prefill_tps": 20000.0, "prefill_oploop_tps": 300.0}
    bs._derive(row)
    assert row["speedup"]["6.5"] == pytest.approx(4.0)
    assert row["verify_over_decode"] == pytest.approx(1.2)
    assert row["rollback_share"] == pytest.approx(0.2 / 16.25)
    assert row["speedup_oploop"]["4"] == pytest.approx(4 * 10 / 65)
    assert row["prefill_fused_over_oploop"] == pytest.approx(20000 / 300)


def test_side_by_side_speedup_uses_the_decode_and_cycle_timed_in_turn():
    row = {"decode_ms": 10.0, "verify_ms": 12.0, "rollback_ms": 0.2, "cycle_ms": 16.25, "prefill_tps": 1.0,
           "decode_side_by_side_ms": 12.0, "cycle_side_by_side_ms": 19.5}
    bs._derive(row)
    assert row["speedup_side_by_side"]["6.5"] == pytest.approx(6.5 * 12 / 19.5)
    assert row["speedup"]["6.5"] == pytest.approx(4.0)  # the conservative figure the goals use is unchanged


def test_goals_are_checked_at_2048_context():
    def row(decode, verify, rollback, cycle, **extra):
        r = {"context": 2048, "decode_ms": decode, "verify_ms": verify, "rollback_ms": rollback,
             "cycle_ms": cycle, "prefill_tps": 1.0, **extra}
        bs._derive(r)
        return r

    results = {"hybrid": {"contexts": [row(15, 21, 0.3, 24, prefill_oploop_tps=0.1, verify_oploop_ms=70,
                                           cycle_oploop_ms=80)]},
               "attention": {"contexts": [row(8, 11, 0.01, 14)]}}
    goals = bs.goals(results)
    assert goals["hybrid_2048_verify_at_most_1.5x_decode"] is True
    assert goals["hybrid_2048_rollback_under_3pct_of_cycle"] is True
    assert goals["hybrid_2048_speedup_at_6.5_at_least_4x"] is True
    assert goals["attention_2048_speedup_at_6.5_at_least_4x"] is False
    assert goals["hybrid_2048_prefill_at_least_5x_oploop"] is True


def test_synthetic_options_fit_beside_the_bench_subcommands_own():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--block-size", type=int)
    parser.add_argument("--json")
    bs.add_synthetic_args(parser)
    args = parser.parse_args(["--synthetic", "--tiny", "--contexts", "16,32", "--targets", "attention"])
    assert args.synthetic and args.tiny and args.contexts == "16,32" and args.targets == "attention"
    assert args.oploop_prefill_contexts == "2048"
