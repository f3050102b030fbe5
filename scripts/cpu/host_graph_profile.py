"""Where the host time of one DFlash cycle goes: the graph of a draft + verify with the real layer counts of
the 9B shapes (36 attention or 32 hybrid layers, a 5-layer draft) at tiny widths, built and profiled on this
CPU. On a GPU the device waits for this build every cycle (bench --synthetic's `host` column). On the CPU the
hybrid's recurrence is the op loop, which dominates its profile; on CUDA one fused kernel replaces it.

    python scripts/cpu/host_graph_profile.py attention|hybrid
"""
import cProfile, pstats, time, copy, sys
from dflash_tui.bench_synthetic import TINY_SHAPES, SyntheticPair, EngineTimer, _Clock
from dflash_tui.mlx_setup import import_mlx
mx = import_mlx()
kind = sys.argv[1]
shape = copy.deepcopy(TINY_SHAPES[kind])
shape["target"]["num_layers"] = 36 if kind == "attention" else 32
shape["draft"]["num_layers"] = 5
if kind == "hybrid":
    shape["linear"] = {}
pair = SyntheticPair(shape, mx.float32)
timer = EngineTimer(pair, 256, 16, 7, _Clock(20))
print(kind, "host ms", round(timer.cycle_host_ms(), 2))
from dflash_tui.engine.decode import _argmax_rows, draft_logits
target = pair.target
run_draft = draft_logits(target, pair.draft, timer.state)
def build():
    drafts = _argmax_rows(run_draft(timer.staged, timer.pos, 16))
    verify_in = mx.concatenate([mx.array([timer.staged], dtype=mx.int32), drafts])[None]
    logits, _, rec = target.forward(verify_in, timer.state.cache, pair.taps, record=True)
    return (_argmax_rows(logits[0]), drafts), rec
def draft_only():
    return _argmax_rows(run_draft(timer.staged, timer.pos, 16))
for name, fn in (("draft", draft_only),):
    t0=time.perf_counter()
    for _ in range(20): out = fn(); mx.eval(out)
    print(name, "build+eval ms", round((time.perf_counter()-t0)/20*1000,2))
    t = []
    for _ in range(20):
        a=time.perf_counter(); out=fn(); t.append(time.perf_counter()-a); mx.eval(out)
    print(name, "build only ms", round(sorted(t)[10]*1000, 3))
pr = cProfile.Profile()
for _ in range(10):
    pr.enable(); out, rec = build(); pr.disable()
    mx.eval(out); timer._rollback(rec, 1)
st = pstats.Stats(pr); st.sort_stats("tottime").print_stats(14)
