"""Load a fast system BLAS before MLX is first imported (Linux CPU only).

MLX's Linux CPU wheel links a slow reference BLAS (~3 GFLOP/s here); the system
OpenBLAS, loaded into the global symbol namespace first, makes fp32 matmuls
about 20x faster. Set DFLASH_TUI_NO_OPENBLAS=1 to turn this off.
"""

from __future__ import annotations

import ctypes
import os
import sys

OPENBLAS_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib64/libopenblas.so.0",
)

_loaded: str | None = None


def load_openblas() -> str | None:
    """Return the path of the OpenBLAS that was loaded, or None."""
    global _loaded
    if _loaded is not None:
        return _loaded
    if not sys.platform.startswith("linux") or os.environ.get("DFLASH_TUI_NO_OPENBLAS") == "1":
        return None
    if "mlx.core" in sys.modules:
        return None  # too late: MLX already bound its BLAS symbols
    for path in OPENBLAS_CANDIDATES:
        if os.path.exists(path):
            try:
                ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            except OSError:
                continue
            _loaded = path
            return path
    return None


def import_mlx():
    """Import mlx.core after loading OpenBLAS; every engine module goes through here."""
    load_openblas()
    import mlx.core as mx

    return mx
