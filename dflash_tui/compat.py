"""Can this DFlash draft run on this target? Answered from the two config.json dicts alone.

The single place for pair checks: the model manager calls it before a download is
used, the engine's loader before any weight is read. Pure Python, no mlx import,
so it is cheap enough to run on every listing.
"""

from __future__ import annotations

from .hub.registry import registry_draft_for

DRAFT_ARCHITECTURE = "DFlashDraftModel"
UNSUPPORTED_DRAFT_ARCHITECTURES = ("DFlash2DraftModel",)

# Keys the loader and the checks need, and the nesting they may hide in:
# z-lab moved some of them from the top level into dflash_config / rope_parameters (June 2026).
DRAFT_KEYS = ("block_size", "mask_token_id", "target_layer_ids", "num_target_layers", "hidden_size",
              "vocab_size", "rope_theta")
DRAFT_KEY_SECTIONS = ("dflash_config", "rope_parameters")


def is_draft_config(config: dict) -> bool:
    """True for any DFlash draft, including architectures this app refuses to load."""
    architectures = config.get("architectures") or []
    return any(a == DRAFT_ARCHITECTURE or a in UNSUPPORTED_DRAFT_ARCHITECTURES for a in architectures)


def draft_value(config: dict, key: str, default=None):
    """Read a draft key from the top level, then dflash_config, then rope_parameters."""
    if key in config:
        return config[key]
    for section in DRAFT_KEY_SECTIONS:
        nested = config.get(section) or {}
        if key in nested:
            return nested[key]
    return default


def draft_settings(config: dict) -> dict:
    """The DFlash settings of a draft config, None where the config has none."""
    return {key: draft_value(config, key) for key in DRAFT_KEYS}


def target_text_config(config: dict) -> dict:
    """A target's language-model settings; multimodal configs (qwen3_5) nest them under text_config."""
    text = config.get("text_config")
    return {**config, **text} if isinstance(text, dict) else config


def check_pair(target_config: dict, draft_config: dict, target_name: str | None = None) -> list[str]:
    """Every reason the draft cannot serve the target, as messages for the user; [] when they fit.

    target_name (a repo id or path) lets a message name the draft made for that target.
    """
    known_draft = registry_draft_for(target_name) if target_name else None
    advice = "pick the draft made for this target" + (f", e.g. {known_draft}" if known_draft else "")

    architectures = draft_config.get("architectures") or []
    refused = [a for a in architectures if a in UNSUPPORTED_DRAFT_ARCHITECTURES]
    if refused:
        return [f"draft architecture {refused[0]} is not supported (only {DRAFT_ARCHITECTURE}, DFlash v1): {advice}"]
    if DRAFT_ARCHITECTURE not in architectures:
        return [f"not a DFlash draft (architectures: {architectures or 'none'}): {advice}"]

    target = target_text_config(target_config)
    draft = draft_settings(draft_config)
    target_vocab = target.get("vocab_size")
    target_hidden = target.get("hidden_size")
    target_depth = target.get("num_hidden_layers")
    problems = []

    if draft["vocab_size"] is not None and target_vocab is not None and draft["vocab_size"] != target_vocab:
        problems.append(f"draft vocab {draft['vocab_size']} != target vocab {target_vocab}: {advice}")
    if draft["hidden_size"] is not None and target_hidden is not None and draft["hidden_size"] != target_hidden:
        problems.append(f"draft hidden size {draft['hidden_size']} != target hidden size {target_hidden}: {advice}")
    if target_depth is not None:
        if draft["num_target_layers"] is not None and draft["num_target_layers"] != target_depth:
            problems.append(
                f"draft was trained on a {draft['num_target_layers']}-layer target, this target has "
                f"{target_depth} layers: {advice}"
            )
        bad_taps = [t for t in draft["target_layer_ids"] or [] if not 0 <= t < target_depth]
        if bad_taps:
            problems.append(
                f"draft taps target layers {bad_taps} but the target only has layers 0..{target_depth - 1}: {advice}"
            )
    mask = draft["mask_token_id"]
    if mask is None:
        problems.append("draft config has no mask_token_id (expected in dflash_config): the draft checkpoint is "
                        "incomplete; download it again or pick another draft")
    elif target_vocab is not None and not 0 <= mask < target_vocab:
        problems.append(f"draft mask token {mask} is outside the target vocabulary (0..{target_vocab - 1}): {advice}")
    return problems
