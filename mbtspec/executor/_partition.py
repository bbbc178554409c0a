"""Which part of a split run a sequence belongs to (``--shard i/n``, ``--workers n``).

A run cut into ``count`` parts gives every sequence to exactly one of them: the part of a
sequence is a function of what the sequence sends, ``key mod count``, so that no two parts
can ever run the same sequence, whatever their seeds. The key is a hash of the sequence's
first steps: each step's action and the values drawn for it (a pick is named by the step of
the sequence that stored the entry, never by where that entry came from in the run).

How many steps the key covers: the steps up to the first at which the sequence has made
enough choices (``Part.bits``) that the keys spread over every part. The choices are counted
from what a step holds: the actions that could run, the entries a pick chose from, and for a
drawn value the values its generator can give (``strategy_bits``). A first step that draws a
lot decides alone; a first step that draws nothing (an action without arguments, the only
one that can run) decides nothing, and the key goes on to the next step. The step that
decides is drawn but not sent: a sequence that is not the part's ends there, before it sends
that step (``Runtime`` resets the targets only before the first call it sends, so a sequence
dropped at its first step costs no call). Only the steps before the deciding one are sent
and wasted (``Stats.elsewhere_calls``). A sequence that ends (or fails) before it has made
enough choices is keyed by all its steps.

The estimate depends only on what the steps hold, on the state before each step and on the
generators of the plan, never on the choices Hypothesis made to get there (a swarm, a second
draw of the action): two sequences that send the same steps always have the same key, so
they are always in the same part.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mbtspec.compiler.state import Entry

#: Bits of choice of a generator whose values are not counted (a regular expression, a
#: composite ...): at least this many. An under-estimate on purpose: too few bits only make
#: the key cover one more step (a few more calls wasted), too many would leave some parts
#: without keys.
OTHER_BITS = 4.0
#: No generator counts for more (an unbounded integer, a wide range)
MAX_BITS = 32.0
#: Bits beyond log2(count): 16 times as many possible keys as parts, so that every part
#: has keys of its own.
SPARE_BITS = 4.0


@dataclass(frozen=True)
class Part:
    """Part ``index`` (from 1) of ``count`` (at least 2: a run of one part is not split)."""

    index: int
    count: int

    @property
    def bits(self) -> float:
        """The choices a key must cover to spread sequences over every part."""
        return math.log2(self.count) + SPARE_BITS

    def owns(self, key: int) -> bool:
        return key % self.count == self.index - 1


class Gate:
    """Lets through the sequences of one part (the run loop asks it, see ``Runtime``): keys
    the running sequence step by step, and says when a step shows that the sequence is
    another part's. The caller drops such a sequence (Hypothesis' ``reject``)."""

    def __init__(self, part: Part) -> None:
        self.part = part
        self.key: PartKey | None = None  # the running sequence's, until its part is known
        self.dropped = False  # the running sequence is another part's
        self.in_step = False  # a drawn step is under way (an error leaves it set)
        self.drawing: Any = None  # Hypothesis' test case of the last drawn step
        self.counted: Any = None  # counts from before the step being drawn (see Runtime)

    def begin(self) -> None:
        self.key, self.dropped, self.counted = PartKey(), False, None

    def admit(self, action: str, values: Sequence[Any], strategies: Sequence[Any],
              possible: int, bag_size: Callable[[str], int]) -> bool:
        """A drawn step, not sent yet: False when it shows that the sequence is another
        part's (it must not be sent)."""
        if self.key is None:
            return True
        self.key.add(action, values, strategies, possible, bag_size)
        return self.key.bits < self.part.bits or self.decide()

    def decide(self) -> bool:
        """The key is complete (or the sequence cannot go on): is the sequence this part's?
        (True once it was decided.)"""
        if self.key is None:
            return not self.dropped
        key, self.key, self.counted = self.key.key, None, None
        self.dropped = not self.part.owns(key)
        return not self.dropped

    def over(self, sent: bool) -> bool:
        """The sequence ended (``sent``: it made calls). A sequence whose key covers too few
        choices to have decided is keyed by the steps it sent. False when the caller must
        reject it now. When Hypothesis cut the sequence short (it ran out of room for
        choices: the test case is frozen) it is only marked dropped (Hypothesis discards it
        itself); when an error is on its way, nothing is decided (a failure was already)."""
        if self.key is None or not sent:
            return True
        frozen = bool(getattr(self.drawing, "frozen", False))
        if self.in_step and not frozen:
            return True
        return self.decide() or frozen


def part_of_name(name: str, count: int) -> int:
    """The part (from 1) that a named thing (a saved failure) belongs to, of ``count``."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count + 1


@dataclass
class PartKey:
    """The key of the running sequence, step by step (see the module docstring)."""

    bits: float = 0.0
    material: list[Any] = field(default_factory=list)
    origins: dict[int, int] = field(default_factory=dict)  # step origin -> position (from 1)

    def add(self, action: str, values: Sequence[Any], strategies: Sequence[Any],
            possible: int, bag_size: Callable[[str], int]) -> None:
        """Add a drawn step: its ``action``, chosen among ``possible`` actions that could
        run, and its ``values``, each drawn by its generator in ``strategies`` (None for a
        pick); ``bag_size(variable)``: the entries a pick chose from."""
        self.bits += math.log2(possible) if possible > 1 else 0.0
        self.bits += sum(pick_bits(v, bag_size) if s is None else strategy_bits(s)
                         for v, s in zip(values, strategies, strict=True))
        self.material.append([action, [self._canonical(v) for v in values]])

    def stored(self, origin: int) -> None:
        """The step just added was sent as ``origin``: its entries are named by position."""
        self.origins[origin] = len(self.material)

    @property
    def key(self) -> int:
        text = json.dumps(self.material, sort_keys=True, default=repr, ensure_ascii=True)
        return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")

    def _canonical(self, value: Any) -> Any:
        if isinstance(value, Entry):
            return ["entry", value.variable, self.origins.get(value.step, 0), value.nth]
        if isinstance(value, list | tuple):
            return [self._canonical(v) for v in value]
        if isinstance(value, dict):
            return {str(k): self._canonical(v) for k, v in value.items()}
        if isinstance(value, float):
            return repr(value)  # (nan and -0.0 as they are)
        if isinstance(value, bytes):
            return value.hex()
        return value


def pick_bits(value: Any, bag_size: Callable[[str], int]) -> float:
    """The bits of choice of a pick: log2 of the entries it chose from (for each one)."""
    entries = value if isinstance(value, list) else [value]
    return sum(math.log2(size) for e in entries if isinstance(e, Entry)
               and (size := bag_size(e.variable)) > 1)


def strategy_bits(strategy: Any, depth: int = 0) -> float:
    """log2 of how many values a Hypothesis strategy can give, where that is easily known
    (a range of integers, a choice among values, yes/no, one of several, text, lists,
    floats, tuples and dictionaries of these, mapped or filtered), else ``OTHER_BITS``."""
    if depth > 8:
        return OTHER_BITS
    strategy = getattr(strategy, "wrapped_strategy", strategy)  # (a lazily built one)
    kind = type(strategy).__name__
    if kind == "IntegersStrategy":
        start, end = strategy.start, strategy.end
        if start is None or end is None:
            return MAX_BITS
        return min(math.log2(end - start + 1), MAX_BITS)
    if kind in ("SampledFromStrategy", "JustStrategy"):
        return math.log2(len(strategy.elements)) if len(strategy.elements) > 1 else 0.0
    if kind == "BooleansStrategy":
        return 1.0
    if kind == "OneOfStrategy":
        total = sum(2 ** strategy_bits(s, depth + 1) for s in strategy.original_strategies)
        return min(math.log2(total), MAX_BITS) if total > 1 else 0.0
    if kind == "TupleStrategy":
        return min(sum(strategy_bits(s, depth + 1) for s in strategy.element_strategies),
                   MAX_BITS)
    if kind == "OneCharStringStrategy":
        return math.log2(len(strategy.intervals)) if len(strategy.intervals) > 1 else 0.0
    if kind in ("TextStrategy", "ListStrategy", "BytesStrategy"):  # (up to max_size elements)
        each = 8.0 if kind == "BytesStrategy" else strategy_bits(strategy.element_strategy,
                                                                 depth + 1)
        low, high = strategy.min_size, strategy.max_size
        if high is None or high == math.inf:
            return MAX_BITS if each else OTHER_BITS
        return min(high * each if each else math.log2(high - low + 1), MAX_BITS)
    if kind == "FloatStrategy":
        return 0.0 if strategy.min_value == strategy.max_value else MAX_BITS
    if kind == "FixedDictStrategy":  # (each optional key: present or not, then its value)
        return min(sum(strategy_bits(s, depth + 1) for s in strategy.mapping.values())
                   + sum(1 + strategy_bits(s, depth + 1)
                         for s in (strategy.optional or {}).values()), MAX_BITS)
    for name in ("mapped_strategy", "filtered_strategy"):
        inner = getattr(strategy, name, None)
        if inner is not None:
            return strategy_bits(inner, depth + 1)
    return OTHER_BITS
