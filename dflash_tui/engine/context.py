"""The draft's context K/V: computed from committed target features only.

Block K/V are never cached, so the draft never needs rollback. Positions are
absolute (RoPE applied at append time); an optional sink + window bound keeps
the first `sink` and the last `window` positions on long contexts.
"""

from __future__ import annotations

from ..mlx_setup import import_mlx

mx = import_mlx()


class DraftContext:
    def __init__(self, num_layers: int, sink: int = 64, window: int | None = None):
        self.num_layers = num_layers
        self.sink = sink
        self.window = window
        self.length = 0  # absolute positions appended so far
        self.evicted = False
        self._kv: list[tuple[mx.array, mx.array] | None] = [None] * num_layers

    def append(self, kv: list[tuple[mx.array, mx.array]]) -> None:
        n = kv[0][0].shape[2]
        for i, (k, v) in enumerate(kv):
            old = self._kv[i]
            if old is not None:
                k = mx.concatenate([old[0], k], axis=2)
                v = mx.concatenate([old[1], v], axis=2)
            if self.window is not None and k.shape[2] > self.sink + self.window:
                k = mx.concatenate([k[:, :, : self.sink], k[:, :, -self.window:]], axis=2)
                v = mx.concatenate([v[:, :, : self.sink], v[:, :, -self.window:]], axis=2)
                self.evicted = True
            self._kv[i] = (k, v)
        self.length += n

    def trim_to(self, n: int) -> bool:
        """Keep the first n positions; False when eviction makes that impossible."""
        if self.evicted:
            return False
        for i, kv in enumerate(self._kv):
            if kv is not None:
                self._kv[i] = (kv[0][:, :, :n], kv[1][:, :, :n])
        self.length = min(self.length, n)
        return True

    def kv(self) -> list[tuple[mx.array, mx.array]] | None:
        return None if self._kv[0] is None else self._kv  # type: ignore[return-value]

    def arrays(self) -> list[mx.array]:
        return [a for kv in self._kv if kv is not None for a in kv]
