"""Engine: a loaded target (+ optional DFlash draft) and the state that spans chat turns.

All calls for one Engine must come from one thread (MLX streams are
thread-local); dflash_tui.service owns that thread in the app.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

from ..mlx_setup import import_mlx
from ..compat import check_pair
from .blas_threads import ThreadSwitch, calibrate
from .context import DraftContext
from .decode import DecodeState, can_shadow_probe, dflash_generate, flush_pending, plain_generate
from .draft import DFlashDraftModel, load_draft, read_config
from .errors import IncompatiblePairError, ModelLoadError
from .events import MODE_AUTO, MODE_DFLASH, MODE_PLAIN, GenerationEvent, GenerationSummary
from .policy import BlockPolicy
from .sampling import SamplingParams, rule_note
from .target import TargetAdapter, check_supported

mx = import_mlx()


def resolve_model_path(name_or_path: str | Path) -> Path:
    """A local folder, or a repo id already in the Hugging Face cache (never downloads)."""
    from ..hub.local import resolve_local

    found = resolve_local(str(name_or_path))
    if found is not None:
        return found
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path  # no config.json: read_config says so
    if path.exists():
        raise ModelLoadError(f"{path}: is a file; give the model's folder (with config.json).")
    name = str(name_or_path)
    if name.count("/") == 1 and not name.startswith((".", "/", "~")):
        raise ModelLoadError(
            f"{name}: not downloaded yet. Fetch it with `dflash-tui models pull {name}` (or give a local folder)."
        )
    raise ModelLoadError(f"{name}: no such folder. Give a model folder or a Hugging Face repo id.")


def calibrate_threads(target: TargetAdapter, steps: int = 8):
    """OpenBLAS threads for this target's one-token steps, timed as plain decoding runs them (blas_threads.py):
    a short prompt, then `steps` steps each queued before the previous token is read."""
    def run() -> None:
        cache = target.make_cache()
        logits = target.forward(mx.ones((1, 8), dtype=mx.int32), cache, [])[0]
        token = mx.argmax(logits[:, -1:], axis=-1)
        for _ in range(steps):
            nxt = mx.argmax(target.forward(token, cache, [])[0][:, -1:], axis=-1)
            mx.async_eval(nxt)
            token.item()
            token = nxt
        token.item()

    return calibrate(run)


def _cast_for_cpu(model) -> None:
    """bf16/fp16 get no BLAS on the CPU backend: run float weights in fp32 there."""
    if mx.default_device() == mx.cpu:
        model.set_dtype(mx.float32)


class Engine:
    def __init__(self, target: TargetAdapter, tokenizer, draft: DFlashDraftModel | None = None,
                 target_name: str = "", draft_name: str | None = None):
        self.target = target
        self.tokenizer = tokenizer
        self.draft = draft
        self.target_name = target_name
        self.draft_name = draft_name
        self.context_window: int | None = None  # sink+window bound for the draft context
        self._policies: dict[tuple, BlockPolicy] = {}  # per pinned size and sampling: outlive reset()
        self._state = self._fresh_state()

    @property
    def has_draft(self) -> bool:
        return self.draft is not None

    @property
    def block_size(self) -> int:
        return self.draft.config.block_size if self.draft is not None else 1

    @classmethod
    def load(cls, target_path: str | Path, draft_path: str | Path | None = None,
             progress: Callable[[str], None] | None = None) -> "Engine":
        from mlx_lm import load as mlx_load

        say = progress or (lambda _msg: None)
        tpath = resolve_model_path(target_path)
        tconfig = read_config(tpath)
        check_supported(tconfig, str(tpath / "config.json"))
        dconfig = None
        if draft_path is not None:
            dpath = resolve_model_path(draft_path)
            dconfig = read_config(dpath)
            problems = check_pair(tconfig, dconfig, target_name=str(target_path))
            if problems:
                raise IncompatiblePairError(f"{dpath} does not fit {tpath}: " + "; ".join(problems))
        say(f"loading target {tpath.name}")
        try:
            model, tokenizer = mlx_load(str(tpath))
        except Exception as e:  # mlx-lm raises many types for broken folders
            raise ModelLoadError(f"{tpath}: mlx-lm could not load the model ({type(e).__name__}: {e}).") from e
        _cast_for_cpu(model)
        target = TargetAdapter(model, tconfig)
        if mx.default_device() == mx.cpu:
            target.threads = ThreadSwitch(calibrate_threads(target))
        draft = None
        if draft_path is not None:
            say(f"loading draft {dpath.name}")
            dtype = mx.float32 if mx.default_device() == mx.cpu else None
            draft = load_draft(dpath, dtype=dtype)
        say("ready")
        return cls(target, tokenizer, draft, str(target_path), str(draft_path) if draft_path else None)

    def encode_chat(self, messages: list[dict[str, str]]) -> list[int]:
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            return list(tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True))
        text = "\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\nassistant:"
        return list(tok.encode(text))

    def reset(self) -> None:
        self._state = self._fresh_state()

    def _fresh_state(self) -> DecodeState:
        context = None
        if self.draft is not None:
            context = DraftContext(len(self.draft.layers), window=self.context_window)
        return DecodeState(self.target.make_cache(), [], context)

    def _reusable_prefix(self, ids: list[int], need_context: bool) -> int:
        """How many leading tokens of ids the current caches can keep (0 = start over)."""
        st = self._state
        if need_context and (st.context is None or st.draft_covered() != len(st.tokens)):
            return 0
        common = 0
        for a, b in zip(st.tokens, ids):
            if a != b:
                break
            common += 1
        common = min(common, len(ids) - 1)  # at least one token must run to get logits
        if common == len(st.tokens):
            return common
        if common > 0 and self.target.cache_trimmable():
            if self.draft is not None:
                flush_pending(self.draft, st)
            if st.context is not None and not st.context.trim_to(common):
                return 0
            for c in st.cache:
                c.trim(len(st.tokens) - common)
            st.tokens = st.tokens[:common]
            return common
        return 0

    def policy(self, block_size: int | None = None, sampling: SamplingParams | None = None) -> BlockPolicy:
        """The session's drafting policy for a pinned block size and sampling settings (acceptance differs)."""
        sampling = sampling or SamplingParams()
        key = (block_size, replace(sampling, seed=None, rule=sampling.resolved_rule))  # the rule sets acceptance
        if key not in self._policies:
            self._policies[key] = BlockPolicy(self.block_size, pinned=block_size, shadow=can_shadow_probe(sampling))
        return self._policies[key]

    def generate(self, prompt_ids: list[int], *, max_tokens: int = 256, mode: str = MODE_DFLASH,
                 block_size: int | None = None, temperature: float = 0.0,
                 cancel: threading.Event | None = None, top_p: float = 1.0, top_k: int = 0, min_p: float = 0.0,
                 repetition_penalty: float = 1.0, seed: int | None = None,
                 sampling: SamplingParams | None = None) -> Iterator[GenerationEvent]:
        """Stream one generation; the last event is always a GenerationSummary.

        mode: "dflash" (fixed block size), "plain", or "auto" (the drafting
        policy picks the block size per cycle, plain decoding included; a
        block_size then pins the DFlash size it may pick). `sampling`, when
        given, replaces temperature/top_p/top_k/min_p/repetition_penalty/seed.
        """
        if not prompt_ids:
            raise ValueError("empty prompt: type something first")
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
        if sampling is None:
            sampling = SamplingParams(temperature=temperature, top_p=top_p, top_k=top_k, min_p=min_p,
                                      repetition_penalty=repetition_penalty, seed=seed)
        if mode not in (MODE_DFLASH, MODE_PLAIN, MODE_AUTO):
            raise ValueError(f"mode must be dflash, plain or auto, got {mode!r}")
        reason = ""
        if mode != MODE_PLAIN and self.draft is None:
            mode, reason = MODE_PLAIN, "no draft loaded"
        elif mode == MODE_DFLASH and (block_size or self.block_size) <= 1:
            mode, reason = MODE_PLAIN, "block size 1 drafts nothing: plain decoding"
        stop_ids = set(self.tokenizer.eos_token_ids or [])
        keep = self._reusable_prefix(prompt_ids, need_context=(mode != MODE_PLAIN))
        if keep == 0:
            self.reset()
        new_tokens = prompt_ids[keep:]
        mx.reset_peak_memory()
        try:
            if mode == MODE_PLAIN:
                gen = plain_generate(self.target, self.tokenizer, self._state, new_tokens, len(prompt_ids),
                                     max_tokens=max_tokens, stop_ids=stop_ids, cancel=cancel, sampling=sampling)
            else:
                bs = block_size or self.block_size
                policy = self.policy(block_size, sampling) if mode == MODE_AUTO else None
                gen = dflash_generate(self.target, self.draft, self.tokenizer, self._state, new_tokens,
                                      len(prompt_ids), max_tokens=max_tokens, block_size=bs,
                                      stop_ids=stop_ids, cancel=cancel, sampling=sampling, policy=policy)
            rec, out = yield from gen
        except Exception as e:
            self.target.threads.restore()
            self.reset()  # caches may hold half a step: never reuse them
            from .stats import StatsRecorder

            yield StatsRecorder(mode, block_size or 1).summary(
                "error", "", [], int(mx.get_peak_memory()), error=f"{type(e).__name__}: {e}")
            return
        summary: GenerationSummary = rec.summary(out.stop_reason, out.text, out.token_ids,
                                                 int(mx.get_peak_memory()))
        if self.draft is not None:
            flush_pending(self.draft, self._state)  # after the last token: between turns the context is whole
        self.target.threads.restore()  # other BLAS users in this process get every core back
        rule = rule_note(sampling) if mode != MODE_PLAIN and summary.cycles else ""
        summary.reason = "; ".join(r for r in (reason, rule, summary.reason) if r)
        yield summary
