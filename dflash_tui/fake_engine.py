"""A stand-in for engine.session.Engine that needs no model, for UI tests.

It speaks the same interface (encode_chat, generate yielding the real event
dataclasses) so the real DecoderService and the real widgets are exercised;
only the text and the numbers are scripted (timings are simulated, so
screenshots are stable).
"""

from __future__ import annotations

import threading

from .engine.events import MODE_AUTO, MODE_DFLASH, CycleStats, GenerationSummary, PrefillDone, TokenChunk

DEFAULT_REPLY = (
    "Here is a **short** answer.\n\n"
    "```python\ndef main():\n    return 42\n```\n\n"
    "- first point\n- second point\n"
)
ACCEPT_PATTERN = (3, 7, 1, 15, 0, 5, 9, 2)
PHASE_S = {"draft": 0.001, "verify": 0.004, "rollback": 0.0005}  # simulated time per cycle: stable numbers
CYCLE_S = sum(PHASE_S.values())


class FakeEngine:
    block_size = 16

    def __init__(self, reply: str = DEFAULT_REPLY, chunk_delay_s: float = 0.0, target_name: str = "fake-target",
                 draft_name: str | None = "fake-draft"):
        self.reply = reply
        self.chunk_delay_s = chunk_delay_s
        self.target_name, self.draft_name = target_name, draft_name
        self.has_draft = draft_name is not None
        self.requests: list[dict] = []  # what generate was asked, for assertions

    @classmethod
    def loader(cls, **kwargs):
        """An engine_loader for DecoderService that fails for targets named 'missing'."""
        from .engine.errors import ModelLoadError

        def load(target, draft, progress):
            if "missing" in target:
                raise ModelLoadError(f"{target} does not exist: check the path or pull it from the hub.")
            progress("reading weights")
            return cls(target_name=target, draft_name=draft, **kwargs)

        return load

    def encode_chat(self, messages: list[dict]) -> list[int]:
        self.last_messages = messages
        return [len(m["content"]) for m in messages]

    def reset(self) -> None:
        pass

    def generate(self, ids, max_tokens=256, mode=MODE_DFLASH, block_size=None, temperature=0.0,
                 cancel: threading.Event | None = None, top_p=1.0, top_k=0, min_p=0.0, repetition_penalty=1.0,
                 seed=None):
        cancel = cancel or threading.Event()
        block = block_size or self.block_size
        requested, reason = mode, ("auto: fake policy keeps DFlash" if mode == MODE_AUTO else "")
        mode = MODE_DFLASH if mode == MODE_AUTO else mode
        self.requests.append({"mode": requested, "max_tokens": max_tokens, "block_size": block,
                              "temperature": temperature, "messages": self.last_messages,
                              "sampling": {"top_p": top_p, "top_k": top_k, "min_p": min_p,
                                           "repetition_penalty": repetition_penalty, "seed": seed}})
        yield PrefillDone(prompt_tokens=len(ids), prefilled_tokens=len(ids), prefill_s=0.01)
        pieces = self.reply.split(" ")
        pieces = [p + " " for p in pieces[:-1]] + pieces[-1:]
        histogram = [0] * block
        generated = drafted = accepted_total = cycles = 0
        stop_reason = "length"
        text = ""
        while generated < max_tokens:
            if cancel.is_set():
                stop_reason = "cancelled"
                break
            if not pieces:
                stop_reason = "stop"
                break
            accepted = min(ACCEPT_PATTERN[cycles % len(ACCEPT_PATTERN)], block - 1) if mode == MODE_DFLASH else 0
            committed = min(accepted + 1, max_tokens - generated)
            chunk = "".join(pieces[:committed])
            del pieces[:committed]
            text += chunk
            generated += committed
            drafted += block - 1 if mode == MODE_DFLASH else 0
            accepted_total += accepted
            histogram[accepted] += 1
            cycles += 1
            yield TokenChunk(chunk, list(range(committed)))
            yield CycleStats(cycles, mode, block, block - 1 if mode == MODE_DFLASH else 0, accepted, committed,
                             PHASE_S["draft"], PHASE_S["verify"], PHASE_S["rollback"], 0.0, generated,
                             generated / (cycles * CYCLE_S), reason=reason)
            if self.chunk_delay_s:
                cancel.wait(self.chunk_delay_s)
        elapsed = max(cycles, 1) * CYCLE_S
        yield GenerationSummary(
            mode=mode, stop_reason=stop_reason, prompt_tokens=len(ids), prefilled_tokens=len(ids),
            generated_tokens=generated, prefill_s=0.01, ttft_s=0.02, generation_s=elapsed,
            prompt_tps=len(ids) / 0.01, generation_tps=generated / elapsed, cycles=cycles, drafted=drafted,
            accepted=accepted_total, tau=generated / max(cycles, 1),
            acceptance=accepted_total / drafted if drafted else 0.0,
            draft_share=accepted_total / generated if generated else 0.0, accept_histogram=histogram,
            phase_s={name: seconds * cycles for name, seconds in PHASE_S.items()} | {"other": 0.0},
            peak_memory_bytes=123_456_789, block_size=block, text=text, reason=reason,
        )
