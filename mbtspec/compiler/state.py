"""What a sequence remembers between steps: stored variables, one value per target."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PerTarget:
    """A value that differs per target: the model's order id 5, the candidate's 1005.

    When a step uses it, each target receives its own value; comparison treats the pair as
    equal.
    """

    values: tuple[tuple[str, Any], ...]

    @classmethod
    def of(cls, mapping: Mapping[str, Any]) -> Any:
        """A ``PerTarget``, or the plain value when every target has the same one."""
        items = tuple(mapping.items())
        first = items[0][1] if items else None
        if all(_same(v, first) for _, v in items):
            return first
        return cls(items)

    def get(self, target: str) -> Any:
        for name, value in self.values:
            if name == target:
                return value
        raise KeyError(target)

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return iter(self.values)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def resolve(value: Any, target: str) -> Any:
    """``value`` as ``target`` sees it: every ``PerTarget`` inside replaced by its value."""
    if isinstance(value, PerTarget):
        return resolve(value.get(target), target)
    if isinstance(value, dict):
        return {k: resolve(v, target) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, target) for v in value]
    if isinstance(value, tuple):
        return tuple(resolve(v, target) for v in value)
    return value


@dataclass(frozen=True)
class Entry:
    """A stored entry, named by where it came from: a pick's draw as a replay records it."""

    variable: str
    step: int  # the ``origin`` of the step that stored it
    nth: int = 0  # among that step's entries of the variable

    def __repr__(self) -> str:
        return f"<{self.variable} stored by step #{self.step}>"


@dataclass
class State:
    """The stored variables of the running sequence: name -> list of entries."""

    bags: dict[str, list[Any]] = field(default_factory=dict)

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.bags = {name: [] for name in names}  # every variable exists, empty at first
        #: For each entry, the step that stored it (``origin``): a replay that leaves steps
        #: out finds a picked entry by where it came from, not by its position.
        self.origins: dict[str, list[int]] = {name: [] for name in self.bags}
        self._memo: dict[Any, Any] = {}  # what was worked out from the bags as they are
        #: Per ``unique`` generator (its scope): the values sent so far in this sequence, in
        #: their JSON form.
        self.used: dict[str, set[str]] = {}

    def bag(self, name: str) -> list[Any]:
        return self.bags.get(name, [])

    def store(self, name: str, value: Any, origin: int = 0) -> None:
        self.bags.setdefault(name, []).append(value)
        self.origins.setdefault(name, []).append(origin)
        self._memo.clear()

    def remove(self, name: str, index: int) -> None:
        bag = self.bags.get(name, [])
        if 0 <= index < len(bag):
            del bag[index]
            del self.origins[name][index]
            self._memo.clear()

    def origin(self, name: str, index: int) -> Entry:
        """Which entry ``index`` of ``name`` is: the step that stored it, and how many entries
        that step had stored in ``name`` before it."""
        origins = self.origins[name]
        step = origins[index]
        return Entry(name, step, origins[:index].count(step))

    def index_of(self, entry: Entry) -> int | None:
        """Where ``entry`` stands in its variable now; None when it is not there."""
        seen = 0
        for index, step in enumerate(self.origins.get(entry.variable, ())):
            if step == entry.step:
                if seen == entry.nth:
                    return index
                seen += 1
        return None

    def view(self, target: str) -> MutableMapping[str, list[Any]]:
        """The variables as ``target`` sees them (for expressions), resolved on access."""
        return _View(self.bags, target)

    def memo(self, key: Any, compute: Callable[[], Any]) -> Any:
        """``compute()``, worked out once until the next ``store`` or ``remove``."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def pairs(self, first: str, second: str) -> set[tuple[Any, Any]]:
        """Scalar values that correspond between two targets (stored per target)."""
        def work_out() -> set[tuple[Any, Any]]:
            out: set[tuple[Any, Any]] = set()
            for bag in self.bags.values():
                for entry in bag:
                    if isinstance(entry, PerTarget):
                        a, b = entry.get(first), entry.get(second)
                        if _hashable(a) and _hashable(b):
                            out.add((a, b))
            return out

        result: set[tuple[Any, Any]] = self.memo(("pairs", first, second), work_out)
        return result


def copy_state(state: State) -> State:
    """A copy of ``state`` that stores and removes on its own (the values are shared)."""
    copied = State()
    copied.bags = {name: list(bag) for name, bag in state.bags.items()}
    copied.origins = {name: list(origins) for name, origins in state.origins.items()}
    return copied


class _View(MutableMapping[str, list[Any]]):
    """A read-only view (mutable only in type, so that it can sit in a ChainMap)."""
    def __init__(self, bags: dict[str, list[Any]], target: str) -> None:
        self.bags = bags
        self.target = target

    def __getitem__(self, name: str) -> list[Any]:
        return [resolve(v, self.target) for v in self.bags[name]]

    def __iter__(self) -> Iterator[str]:
        return iter(self.bags)

    def __len__(self) -> int:
        return len(self.bags)

    def __setitem__(self, name: str, value: list[Any]) -> None:
        raise TypeError("stored variables are read-only in expressions")

    def __delitem__(self, name: str) -> None:
        raise TypeError("stored variables are read-only in expressions")


def _hashable(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None
