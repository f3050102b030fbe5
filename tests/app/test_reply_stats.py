"""The live stats of an auto-mode reply: plain steps mixed in among DFlash cycles must not water down what the
pane says about the draft (tau, the accepted-length histogram) while the reply streams."""

from dflash_tui.app.stats.reply_stats import ReplyStats
from dflash_tui.engine.events import CycleStats
from dflash_tui.service import RequestUpdate


def _cycle(n: int, generated: int, block_size: int, accepted: int) -> CycleStats:
    drafted = block_size - 1 if block_size > 1 else 0
    return CycleStats(cycle=n, mode="dflash" if drafted else "plain", block_size=block_size, drafted=drafted,
                      accepted=accepted, committed=accepted + 1, draft_s=0.0, verify_s=0.01, rollback_s=0.0,
                      other_s=0.0, generated_tokens=generated, generation_tps=100.0)


def test_plain_steps_count_neither_in_tau_nor_in_the_histogram():
    plan = [(1, 0)] * 8 + [(16, 15), (16, 11)] + [(1, 0)] * 4 + [(16, 3)]  # (block size, accepted)
    cycles, generated = [], 0
    for n, (b, a) in enumerate(plan, 1):
        generated += a + 1
        cycles.append(_cycle(n, generated, b, a))
    reply = ReplyStats()
    reply.add(RequestUpdate(request_id=1, cycles=cycles[:10]))
    assert reply.tau == (16 + 12) / 2  # the two DFlash cycles so far, not 36 tokens over 10 "cycles"
    reply.add(RequestUpdate(request_id=1, cycles=cycles[10:]))
    assert reply.tau == (16 + 12 + 4) / 3
    assert sum(reply.histogram) == 3 and reply.histogram[15] == reply.histogram[11] == reply.histogram[3] == 1
    assert reply.acceptance_series == [15 / 15, 11 / 15, 3 / 15]


def test_a_plain_reply_has_no_tau_while_it_streams():
    reply = ReplyStats()
    reply.add(RequestUpdate(request_id=1, cycles=[_cycle(n, n, 1, 0) for n in range(1, 6)]))
    assert reply.tau is None and sum(reply.histogram) == 0


def test_the_line_under_a_mixed_reply_shows_the_policys_mix_and_tau():
    from dflash_tui.app.stats.reply_stats import format_reply_stats

    saved = {"generation_tps": 280.4, "tau": 12.5, "acceptance": 0.8, "drafted": 150, "generated_tokens": 512,
             "prefill_s": 0.1, "generation_s": 1.8, "mode": "plain", "block_tokens": {"1": 312, "16": 200}}
    assert format_reply_stats(saved) == "280.4 tok/s · τ 12.50 · 80% accepted · 512 tok · 1.9 s · auto: plain 61%, b16 39%"
    fixed = {**saved, "mode": "dflash", "block_tokens": {"16": 512}}
    assert format_reply_stats(fixed).endswith("512 tok · 1.9 s · dflash")
    plain = {**saved, "drafted": 0, "block_tokens": {"1": 512}}
    assert format_reply_stats(plain) == "280.4 tok/s · 512 tok · 1.9 s · plain"


def test_the_stats_pane_names_the_mix_of_a_finished_auto_reply():
    from dflash_tui.engine.events import GenerationSummary

    reply = ReplyStats()
    reply.add(RequestUpdate(request_id=1, cycles=[_cycle(1, 1, 1, 0), _cycle(2, 17, 16, 15)]))
    assert reply.decoding == "dflash b16"  # while streaming: the latest cycle's
    summary = GenerationSummary(mode="dflash", stop_reason="length", prompt_tokens=5, prefilled_tokens=5,
                                generated_tokens=18, prefill_s=0.01, ttft_s=0.02, generation_s=0.1, prompt_tps=500.0,
                                generation_tps=180.0, cycles=2, drafted=15, accepted=15, tau=16.0, acceptance=1.0,
                                draft_share=0.8, accept_histogram=[0] * 16, phase_s={}, peak_memory_bytes=0,
                                block_size=16, text="", token_ids=[], block_tokens={1: 2, 16: 16})
    reply.finish(summary)
    assert reply.decoding == "auto: b16 89%, plain 11%"
    summary.block_tokens = {1: 1, 4: 4, 8: 2, 16: 11}
    reply.finish(summary)
    assert reply.decoding == "auto: b16 61%, b4 22%, …"  # the two largest shares: the line under a reply is narrow


def test_the_speedup_line_compares_an_auto_reply_that_ended_mostly_plain():
    """An auto reply the policy decoded 90% plainly ends with mode 'plain'; it still drafted, so Ctrl+T's
    measurement must give it a speedup, not just the plain figure (seen in the app: no ratio for auto)."""
    from dflash_tui.app.stats.pane import StatsPane
    from dflash_tui.engine.events import GenerationSummary

    reply = ReplyStats()
    reply.add(RequestUpdate(request_id=1, cycles=[_cycle(n, n, 1, 0) for n in range(1, 10)] + [_cycle(10, 12, 16, 2)]))
    reply.finish(GenerationSummary(
        mode="plain", stop_reason="length", prompt_tokens=5, prefilled_tokens=5, generated_tokens=12, prefill_s=0.01,
        ttft_s=0.02, generation_s=0.1, prompt_tps=500.0, generation_tps=150.0, cycles=10, drafted=15, accepted=2,
        tau=3.0, acceptance=2 / 15, draft_share=0.1, accept_histogram=[0] * 16, phase_s={}, peak_memory_bytes=0,
        block_size=1, text="", token_ids=[], block_tokens={1: 9, 16: 3}))
    pane = StatsPane()
    pane.plain_tps, pane.speedup_note = 100.0, ""
    assert pane._speedup_text(reply).startswith("speedup 1.50× vs plain decoding (100.0 tok/s, measured) · auto:")
    plain = ReplyStats()
    plain.add(RequestUpdate(request_id=1, cycles=[_cycle(n, n, 1, 0) for n in range(1, 10)]))
    assert "this reply drafted nothing" in pane._speedup_text(plain)
