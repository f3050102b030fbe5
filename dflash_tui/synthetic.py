"""Random-weight models in Hugging Face layout, built locally.

Used by the tests (tiny targets and drafts of every supported family) and by
`dflash-tui bench --synthetic` (large shapes). Also trains the small byte-level
BPE tokenizers those models use, with the Qwen pre-tokenizer so transformers'
Qwen tokenizer classes produce the same ids as tokenizer.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from .mlx_setup import import_mlx

QWEN_PRETOKENIZE_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|mask|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SAMPLE_TEXT = (
    "The quick brown fox jumps over the lazy dog. Speculative decoding drafts a block of tokens "
    "and the target verifies them in one pass. def main():\n    return 42\n"
    "Python is a programming language. Lists, dicts and sets are built in. 0123456789 "
)


def train_tokenizer(out_dir: Path, texts: Iterable[str] | None = None, vocab_size: int = 512) -> int:
    """Train a byte-level BPE tokenizer into out_dir; return the vocabulary size."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts) if texts is not None else [SAMPLE_TEXT] * 4, trainer)
    tok.save(str(out_dir / "tokenizer.json"))
    added = {
        str(tok.token_to_id(t)): {
            "content": t, "lstrip": False, "normalized": False, "rstrip": False,
            "single_word": False, "special": True,
        }
        for t in SPECIAL_TOKENS
    }
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "added_tokens_decoder": added,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "bos_token": None,
        "unk_token": None,
        "model_max_length": 32768,
        "clean_up_tokenization_spaces": False,
        "chat_template": CHAT_TEMPLATE,
    }
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    (out_dir / "special_tokens_map.json").write_text(
        json.dumps({"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}, indent=2)
    )
    return tok.get_vocab_size()


def target_config(family: str, vocab_size: int, hidden_size: int = 64, num_layers: int = 4,
                  heads: int = 4, kv_heads: int = 2, head_dim: int | None = None,
                  intermediate_size: int | None = None, tie_embeddings: bool = False,
                  eos_token_id: int | None = None) -> dict:
    """A config.json dict for a target of the given family and shape."""
    head_dim = head_dim or hidden_size // heads
    common = {
        "hidden_size": hidden_size,
        "num_hidden_layers": num_layers,
        "intermediate_size": intermediate_size or hidden_size * 3,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "head_dim": head_dim,
        "rms_norm_eps": 1e-6,
        "vocab_size": vocab_size,
        "max_position_embeddings": 32768,
        "tie_word_embeddings": tie_embeddings,
        "rope_theta": 10000.0,
        "eos_token_id": eos_token_id,
        "torch_dtype": "float32",
    }
    if family == "qwen3":
        return {"model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"], **common}
    if family == "llama":
        return {"model_type": "llama", "architectures": ["LlamaForCausalLM"], **common,
                "attention_bias": False, "mlp_bias": False}
    if family == "qwen3_5":
        text = {
            "model_type": "qwen3_5_text", **common,
            "linear_num_value_heads": heads * 2,
            "linear_num_key_heads": heads,
            "linear_key_head_dim": head_dim,
            "linear_value_head_dim": head_dim,
            "linear_conv_kernel_dim": 4,
            "full_attention_interval": 4,
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0,
                                "partial_rotary_factor": 0.25},
        }
        text.pop("rope_theta")
        return {"model_type": "qwen3_5", "architectures": ["Qwen3_5ForConditionalGeneration"],
                "text_config": text, "tie_word_embeddings": tie_embeddings,
                "eos_token_id": eos_token_id}
    raise ValueError(f"unknown family {family!r}")


def _save_weights(model, out_dir: Path, dtype) -> None:
    mx = import_mlx()
    from mlx.utils import tree_flatten

    weights = {k: v.astype(dtype) for k, v in tree_flatten(model.parameters())}
    mx.save_safetensors(str(out_dir / "model.safetensors"), weights, metadata={"format": "mlx"})


def build_target(out_dir: Path, family: str = "qwen3", *, seed: int = 0, tokenizer_dir: Path | None = None,
                 vocab_size: int = 512, dtype: str = "float32", logit_scale: float = 4.0,
                 **shape) -> Path:
    """Write a random-weight target (config, safetensors, tokenizer) to out_dir.

    logit_scale multiplies the embedding table so random logits are peaked
    rather than flat, which keeps near-ties (and parity-test flakiness) rare.
    """
    mx = import_mlx()
    from mlx_lm.utils import _get_classes as get_model_classes

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if tokenizer_dir is None:
        vocab_size = train_tokenizer(out_dir, vocab_size=vocab_size)
    else:
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            (out_dir / name).write_bytes((Path(tokenizer_dir) / name).read_bytes())
        from tokenizers import Tokenizer

        vocab_size = Tokenizer.from_file(str(out_dir / "tokenizer.json")).get_vocab_size()
    eos = json.loads((out_dir / "tokenizer.json").read_text())
    eos_id = next(t["id"] for t in eos["added_tokens"] if t["content"] == "<|im_end|>")
    config = target_config(family, vocab_size, eos_token_id=eos_id, **shape)
    mx.random.seed(seed)
    model_class, args_class = get_model_classes(config)
    model = model_class(args_class.from_dict(config))
    embed = model.model.embed_tokens if family != "qwen3_5" else model.language_model.model.embed_tokens
    embed.weight = embed.weight * logit_scale
    (out_dir / "config.json").write_text(json.dumps(config, indent=2))
    _save_weights(model, out_dir, getattr(mx, dtype))
    return out_dir


def default_tap_layers(num_target_layers: int, num_draft_layers: int) -> list[int]:
    """z-lab's default taps: one layer -> [N // 2]; else round(1 + i*(N-4)/(n-1))."""
    if num_draft_layers == 1:
        return [num_target_layers // 2]
    return [round(1 + i * (num_target_layers - 4) / (num_draft_layers - 1)) for i in range(num_draft_layers)]


def draft_config(target_cfg: dict, *, num_layers: int = 2, block_size: int = 16, mask_token_id: int,
                 target_layer_ids: list[int] | None = None, schema: str = "legacy",
                 hidden_size: int | None = None, heads: int | None = None, kv_heads: int | None = None,
                 head_dim: int | None = None, intermediate_size: int | None = None) -> dict:
    """A z-lab DFlash v1 config.json dict. schema: 'legacy' (top-level keys) or 'nested' (2026 drift)."""
    text = target_cfg.get("text_config", target_cfg)
    n_target = text["num_hidden_layers"]
    taps = target_layer_ids if target_layer_ids is not None else default_tap_layers(n_target, num_layers)
    hidden = hidden_size or text["hidden_size"]
    heads = heads or text["num_attention_heads"]
    cfg = {
        "architectures": ["DFlashDraftModel"],
        "model_type": "qwen3",
        "hidden_size": hidden,
        "intermediate_size": intermediate_size or hidden * 3,
        "num_hidden_layers": num_layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads or text["num_key_value_heads"],
        "head_dim": head_dim or text.get("head_dim") or hidden // heads,
        "vocab_size": text["vocab_size"],
        "rms_norm_eps": 1e-6,
        "num_target_layers": n_target,
        "max_position_embeddings": 32768,
        "dflash_config": {"mask_token_id": mask_token_id, "target_layer_ids": taps},
    }
    if schema == "legacy":
        cfg["block_size"] = block_size
        cfg["rope_theta"] = 10000.0
    elif schema == "nested":
        cfg["dflash_config"]["block_size"] = block_size
        cfg["rope_parameters"] = {"rope_type": "default", "rope_theta": 10000.0}
    else:
        raise ValueError(f"unknown schema {schema!r}")
    return cfg


def build_draft(out_dir: Path, target_dir: Path, *, seed: int = 1, dtype: str = "float32", **kwargs) -> Path:
    """Write a random-weight DFlash v1 draft for the target in target_dir."""
    mx = import_mlx()
    from .engine.draft import DFlashDraftModel, DraftConfig

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target_cfg = json.loads((Path(target_dir) / "config.json").read_text())
    tok = json.loads((Path(target_dir) / "tokenizer.json").read_text())
    mask_id = next(t["id"] for t in tok["added_tokens"] if t["content"] == "<|mask|>")
    kwargs.setdefault("mask_token_id", mask_id)
    cfg = draft_config(target_cfg, **kwargs)
    mx.random.seed(seed)
    model = DFlashDraftModel(DraftConfig.from_dict(cfg))
    (out_dir / "config.json").write_text(json.dumps(cfg, indent=2))
    _save_weights(model, out_dir, getattr(mx, dtype))
    return out_dir
