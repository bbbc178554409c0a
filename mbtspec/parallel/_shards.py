"""How one run is cut into parts: ``--shard i/n`` runs part i, ``--workers n`` runs all n.

Part i of n draws its sequences with its own seed, derived from the run's seed, and runs its
share of the run's sequences (the first ``sequences % n`` parts one more). The same seed and
``n`` always give the same parts, so a failure found in part i is found again, and shrunk the
same way, by ``mbtspec check SPEC --seed S --shard i/n`` in one process. With ``n == 1`` the
one part is the run itself (same seed, same sequences).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mbtspec.errors import UsageError


@dataclass(frozen=True)
class Shard:
    """Part ``index`` (from 1) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def seed(self, seed: int) -> int:
        """This part's seed: the run's own for a run of one part, else a mix of both."""
        if self.count == 1:
            return seed
        mixed = (seed * 6_364_136_223_846_793_005 + self.index * 1_442_695_040_888_963_407
                 + self.count) % 2**64
        return (mixed >> 32) ^ (mixed & 0xFFFFFFFF)

    def sequences(self, total: int) -> int:
        """This part's share of ``total`` sequences (at least 1)."""
        share, extra = divmod(total, self.count)
        return max(share + (1 if self.index <= extra else 0), 1)


def parse_shard(text: str) -> Shard:
    """``"2/4"`` -> ``Shard(2, 4)``; ``UsageError`` saying what is expected otherwise."""
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not found:
        raise UsageError(f"--shard {text!r}: expected i/n, e.g. --shard 2/4 (the second of "
                         "four parts)")
    index, count = int(found[1]), int(found[2])
    if count < 1 or not 1 <= index <= count:
        raise UsageError(f"--shard {text}: i must be between 1 and n (n at least 1), e.g. "
                         "--shard 1/4 ... --shard 4/4")
    return Shard(index, count)
