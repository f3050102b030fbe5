"""DecoderService over the real engine: loading and generation on its own thread, cancel, errors."""

import time

from dflash_tui.service import DecoderService, LoadFailed, ModelReady, RequestUpdate, coalesce
from dflash_tui.settings import GenerationSettings
from dflash_tui.synthetic import build_target


def wait_for(service, predicate, timeout_s=60.0):
    seen = []
    deadline = time.monotonic() + timeout_s
    while not predicate(seen):
        assert time.monotonic() < deadline, f"timed out; saw {seen[-3:]}"
        seen.extend(coalesce(service.poll()))
        time.sleep(0.01)
    return seen


def updates(seen, request_id):
    return [e for e in seen if isinstance(e, RequestUpdate) and e.request_id == request_id]


def test_the_real_engine_streams_a_reply_then_a_cancelled_one_still_ends_with_a_summary(tiny_pair):
    target, draft = tiny_pair
    service = DecoderService()
    try:
        service.load(str(target), str(draft))
        seen = wait_for(service, lambda s: any(isinstance(e, (ModelReady, LoadFailed)) for e in s))
        assert isinstance(seen[-1], ModelReady) and seen[-1].draft_name == str(draft)
        messages = [{"role": "user", "content": "hello"}]
        service.generate(1, messages, GenerationSettings(max_tokens=12, auto_block=False))
        seen = wait_for(service, lambda s: any(u.summary or u.error for u in updates(s, 1)))
        summary = [u.summary for u in updates(seen, 1) if u.summary][0]
        assert summary.mode == "dflash" and summary.generated_tokens == 12
        assert "".join(u.text for u in updates(seen, 1)) == summary.text
        service.generate(2, messages, GenerationSettings(max_tokens=100_000))
        service.cancel()
        seen = wait_for(service, lambda s: any(u.summary or u.error for u in updates(s, 2)))
        assert [u.summary for u in updates(seen, 2) if u.summary][0].stop_reason == "cancelled"
    finally:
        service.shutdown()


def test_the_default_settings_run_the_drafting_policy_and_say_why(tiny_pair):
    target, draft = tiny_pair
    service = DecoderService()
    try:
        service.load(str(target), str(draft))
        wait_for(service, lambda s: any(isinstance(e, (ModelReady, LoadFailed)) for e in s))
        service.generate(1, [{"role": "user", "content": "hello"}], GenerationSettings(max_tokens=40))
        seen = wait_for(service, lambda s: any(u.summary or u.error for u in updates(s, 1)))
        cycles = [c for u in updates(seen, 1) for c in u.cycles]
        summary = [u.summary for u in updates(seen, 1) if u.summary][0]
        assert summary.generated_tokens == 40 and summary.reason  # the policy's choice is never silent
        assert cycles and all(c.reason for c in cycles)
    finally:
        service.shutdown()


def test_a_draft_that_does_not_fit_is_refused_with_the_reason(tiny_pair, tmp_path):
    _, draft = tiny_pair
    other = build_target(tmp_path / "wider", "llama", hidden_size=96)
    service = DecoderService()
    try:
        service.load(str(other), str(draft))
        seen = wait_for(service, lambda s: any(isinstance(e, (ModelReady, LoadFailed)) for e in s))
        assert isinstance(seen[-1], LoadFailed) and "hidden size" in seen[-1].message
        service.load("/no/such/model")
        seen = wait_for(service, lambda s: any(isinstance(e, (ModelReady, LoadFailed)) for e in s))
        assert "no such folder" in seen[-1].message
    finally:
        service.shutdown()
