"""Write a draft checkpoint with its projection matrices stored at 8 (or 4) bits.

    python -m dflash_tui.train.quantize_draft SRC DST [--bits 8] [--group-size 64]

The engine loads the result like any draft (engine/draft_quant.py dequantizes on
load), so the savings are on disk and in downloads: about half of bf16 at 8 bits.
Check what it costs in acceptance with `python -m dflash_tui.train.evaluate`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..engine.draft import load_safetensors, read_config
from ..engine.draft_quant import quantization_of, quantize_weights
from ..mlx_setup import import_mlx
from .checkpoint import copy_tokenizer_files

mx = import_mlx()


def quantize_draft(src: Path, dst: Path, bits: int = 8, group_size: int = 64) -> Path:
    src, dst = Path(src), Path(dst)
    config = read_config(src)
    if quantization_of(config) is not None:
        raise ValueError(f"{src} is already stored quantized; start from the bf16 draft")
    weights = load_safetensors(sorted(src.glob("*.safetensors")))
    dst.mkdir(parents=True, exist_ok=True)
    mx.save_safetensors(str(dst / "model.safetensors"), quantize_weights(weights, group_size, bits),
                        metadata={"format": "mlx"})
    config["quantization"] = {"group_size": group_size, "bits": bits}
    (dst / "config.json").write_text(json.dumps(config, indent=2))
    copy_tokenizer_files(src, dst)
    return dst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    parser.add_argument("--bits", type=int, default=8, choices=(4, 8))
    parser.add_argument("--group-size", type=int, default=64, choices=(32, 64, 128))
    args = parser.parse_args(argv)
    out = quantize_draft(args.src, args.dst, args.bits, args.group_size)
    size = sum(f.stat().st_size for f in out.glob("*.safetensors"))
    print(f"{out}: {size / 1e6:.2f} MB of weights at {args.bits} bits")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
