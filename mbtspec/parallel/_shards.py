"""How one run is cut into parts: ``--shard i/n`` runs part i, ``--workers n`` runs all n.

Every sequence of the run belongs to exactly one part: its part is a function of what it
sends (``executor._partition``), so parts are disjoint whatever they draw. Part i of n draws
with its own seed, derived from the run's seed, drops the sequences of other parts before
they send anything (or, for sequences that draw little at first, after their first steps),
and runs its share of the run's sequences (the first ``sequences % n`` parts one more). The
boundary cases are dealt out the same way, by number.

The same seed and ``n`` always give the same parts, so a failure found in part i is found
again, and shrunk the same way, by ``mbtspec check SPEC --seed S --shard i/n`` in one
process. A saved failure is replayed by one part only: the one that found it when the run
is cut in as many parts again, else one chosen by its file name; each part keeps its own
examples in Hypothesis' database. With ``n == 1`` the one part is the run itself (same seed,
same sequences, nothing dropped).

``--shard i/n`` with ``--workers N`` cuts the run into n*N parts: worker j runs part
i + n*(j-1) of n*N, so the N workers of shard i run exactly its share, and a failure's
one-process command is ``--seed S --shard i+n*(j-1)/n*N``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mbtspec.errors import UsageError
from mbtspec.executor import Part
from mbtspec.executor._partition import part_of_name


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

    def part(self) -> Part | None:
        """The part as the executor knows it: None for a run of one part (not split)."""
        return Part(self.index, self.count) if self.count > 1 else None

    def worker(self, number: int, workers: int) -> Shard:
        """The part that worker ``number`` (from 1) of ``workers`` runs of this one: this
        part's sequences are cut again, ``workers`` ways (``count * workers`` in all)."""
        return Shard(self.index + self.count * (number - 1), self.count * workers)

    def owns_failure(self, path: Path, reproduce: str) -> bool:
        """Does this part replay the saved failure at ``path`` (its command ``reproduce``)?
        The part that found it does, when the run is cut in as many parts; else the part
        its file name falls in. A run of one part replays every saved failure."""
        if self.count == 1:
            return True
        found = re.search(r"--shard (\d+)/(\d+)", reproduce)
        if found and int(found[2]) == self.count:
            return int(found[1]) == self.index
        return part_of_name(path.name, self.count) == self.index


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
