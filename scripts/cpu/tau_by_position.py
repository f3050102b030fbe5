"""Where the demo pair's tau goes: from recorded replay traces (the accepted length of a b16 cycle staged at every
answer position), P(a cycle keeps >= k drafts), the conditional rate per position, and the mean over all
positions (what tau would be if decoding visited every position, not only where its cycles start).

    python scripts/cpu/tau_by_position.py [tests/data/demo_policy_traces.json]
"""
import sys
from pathlib import Path

from dflash_tui.policy_replay import load_traces

traces, _ = load_traces(Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/demo_policy_traces.json"))
accepted = [a for t in traces for a in t.accepted[16]]
survival = [sum(a >= k for a in accepted) / len(accepted) for k in range(16)]
print(f"{len(accepted)} positions, mean accepted {sum(accepted) / len(accepted):.3f}")
print("P(kept >= k):", " ".join(f"{s:.3f}" for s in survival))
print("rate at k given k-1:", " ".join(f"{survival[k] / survival[k - 1]:.3f}" for k in range(1, 16)))
