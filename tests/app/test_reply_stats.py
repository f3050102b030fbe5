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
