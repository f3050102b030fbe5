import time

from dflash_tui.engine.events import GenerationSummary
from dflash_tui.fake_engine import FakeEngine
from dflash_tui.service import (DecoderService, LoadFailed, ModelReady, RequestUpdate, coalesce)
from dflash_tui.settings import GenerationSettings


def wait_for(service, predicate, timeout_s=5.0):
    seen = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        seen.extend(service.poll())
        if predicate(seen):
            return seen
        time.sleep(0.005)
    raise AssertionError(f"timed out; saw {seen}")


def finished(request_id):
    return lambda seen: any(isinstance(u, RequestUpdate) and u.request_id == request_id and (u.summary or u.error)
                            for u in coalesce(seen))


def test_reply_streams_as_coalesced_updates_ending_with_a_summary():
    service = DecoderService(FakeEngine.loader())
    service.load("target", "fake-draft")
    service.generate(1, [{"role": "user", "content": "hi"}], GenerationSettings())
    events = wait_for(service, finished(1))
    [ready, update] = [e for e in coalesce(events) if not type(e).__name__ == "LoadProgress"]
    assert isinstance(ready, ModelReady) and ready.draft_name == "fake-draft"
    assert update.text.startswith("Here is a **short** answer.") and update.cycles
    assert isinstance(update.summary, GenerationSummary) and update.summary.stop_reason == "stop"
    service.shutdown()


def test_cancel_stops_the_reply_and_still_reports_a_summary():
    service = DecoderService(FakeEngine.loader(chunk_delay_s=0.05))
    service.load("target")
    service.generate(1, [{"role": "user", "content": "hi"}], GenerationSettings())
    service.cancel()
    [update] = [e for e in coalesce(wait_for(service, finished(1))) if isinstance(e, RequestUpdate)]
    assert update.summary.stop_reason == "cancelled"
    service.shutdown()


def test_missing_model_is_reported_and_the_service_keeps_serving():
    service = DecoderService(FakeEngine.loader())
    service.load("missing-model")
    failed = wait_for(service, lambda seen: any(isinstance(e, LoadFailed) for e in seen))
    assert "does not exist" in [e for e in failed if isinstance(e, LoadFailed)][0].message
    service.generate(7, [{"role": "user", "content": "hi"}], GenerationSettings())
    [update] = [e for e in coalesce(wait_for(service, finished(7))) if isinstance(e, RequestUpdate)]
    assert "No model is loaded" in update.error
    service.shutdown()


def test_generation_settings_reach_the_engine():
    engines = []

    def loader(target, draft, progress):
        engines.append(FakeEngine())
        return engines[-1]

    service = DecoderService(loader)
    service.load("target")
    settings = GenerationSettings(max_tokens=5, temperature=0.3, block_size=8, dflash=False)
    service.generate(1, [{"role": "user", "content": "hi"}], settings)
    [update] = [e for e in coalesce(wait_for(service, finished(1))) if isinstance(e, RequestUpdate)]
    assert engines[0].requests == [{"mode": "plain", "max_tokens": 5, "block_size": 8, "temperature": 0.3,
                                    "messages": [{"role": "user", "content": "hi"}],
                                    "sampling": {"top_p": 1.0, "top_k": 0, "min_p": 0.0, "repetition_penalty": 1.0,
                                                 "seed": None}}]
    assert update.summary.generated_tokens == 5 and update.summary.stop_reason == "length"
    service.shutdown()
