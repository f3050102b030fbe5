"""How much the app's UI refresh rate costs the decoder on this CPU (headless app, demo pair, plain mode).

    python scripts/cpu/ui_tick_ab.py [TICKS] [ROUNDS]      (default: 0.05,0.1 and 3)

The app drains the decoder's events and redraws every UI_TICK_S; Textual's layout and rendering run on the
main thread, holding the GIL and a core the engine's BLAS threads want. Each round starts one app per
tick value (interleaved, so the CPU's drift lands on all of them) and answers two prompts of 300 tokens in
new conversations; it prints each tick's median tok/s and the UI thread's CPU seconds per reply.
"""
import asyncio
import os
import statistics
import sys
import tempfile
import threading

os.environ.setdefault("DFLASH_TUI_HOME", tempfile.mkdtemp(prefix="ui-tick-ab-"))

import dflash_tui.app.app as app_module  # noqa: E402
from dflash_tui.app.app import DflashApp  # noqa: E402
from dflash_tui.demo import demo_draft_path, demo_target_path  # noqa: E402
from dflash_tui.service import DecoderService  # noqa: E402
from dflash_tui.settings import Settings, save_settings  # noqa: E402

PROMPTS = ("How do I use getopt?", "What does the gio command do?")


def thread_cpu_s(native_id: int) -> float:
    fields = open(f"/proc/self/task/{native_id}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def one_app(tick: float, results: dict) -> None:
    app_module.UI_TICK_S = tick
    settings = Settings()
    settings.generation.max_tokens, settings.generation.dflash = 300, False
    save_settings(settings)
    service = DecoderService()
    app = DflashApp(service, target=str(demo_target_path()), draft=str(demo_draft_path()))
    ui_thread = threading.get_native_id()
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            while not app.model.ready:
                await pilot.pause(0.1)
            for prompt in PROMPTS:
                await pilot.press("ctrl+n")
                await pilot.pause(0.2)
                before = thread_cpu_s(ui_thread)
                app.chat.prompt.insert(prompt)
                await pilot.press("enter")
                await pilot.pause(0.3)
                while app.chat.generating:
                    await pilot.pause(0.05)
                summary = app.stats_pane.reply.summary
                results.setdefault(tick, []).append((summary.generation_tps, thread_cpu_s(ui_thread) - before))
    finally:
        service.shutdown()


async def main() -> None:
    ticks = [float(t) for t in (sys.argv[1] if len(sys.argv) > 1 else "0.05,0.1").split(",")]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    results: dict = {}
    for _ in range(rounds):
        for tick in ticks:
            await one_app(tick, results)
    for tick, runs in results.items():
        print(f"UI tick {tick:g} s: {statistics.median(r[0] for r in runs):.1f} tok/s median "
              f"({', '.join(f'{r[0]:.0f}' for r in runs)}); UI thread CPU {statistics.median(r[1] for r in runs):.2f} s "
              "a reply (median)")


if __name__ == "__main__":
    asyncio.run(main())
