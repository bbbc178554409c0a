"""The simplest value of a Hypothesis strategy: the one its shrinker works towards."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

NONE: Any = object()


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type (``1`` is not ``True``, nor ``1.0``)."""
    return type(a) is type(b) and a == b


def simplest_value(strategy: st.SearchStrategy[Any]) -> Any:
    """The value Hypothesis regards as the simplest of ``strategy`` (the one it shrinks
    towards), or ``NONE`` when it cannot be drawn without a search."""
    try:
        from hypothesis.control import BuildContext
        from hypothesis.internal.conjecture.choice import ChoiceTemplate
        from hypothesis.internal.conjecture.data import ConjectureData
    except ImportError:  # pragma: no cover - another Hypothesis than the tested range
        return NONE
    data = ConjectureData.for_choices((ChoiceTemplate("simplest", count=None),))
    try:
        with BuildContext(data, wrapped_test=simplest_value):
            return data.draw(strategy)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # a filter that rejects it, an overrun (StopTest is a BaseException)
        return NONE
