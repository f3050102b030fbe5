"""The learning-rate schedule follows wall-clock training time across resumed stints."""

from dflash_tui.train.loop import LoopSettings, learning_rate


def test_a_resumed_stint_continues_the_cosine_where_the_last_one_stopped():
    settings = LoopSettings(steps=10**6, lr=1.0, warmup=0, time_budget_s=100)
    fresh = learning_rate(settings, 10, elapsed_s=0.0)
    halfway = learning_rate(settings, 10, elapsed_s=50.0)
    assert fresh > 0.99 and abs(halfway - 0.525) < 1e-6  # 5% floor + 95% of cos(pi/2) midpoint
    assert learning_rate(settings, 10, elapsed_s=100.0) == 0.05 * settings.lr
