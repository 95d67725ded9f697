"""The byte scanner the middleware uses for JSON depth: exact on any JSON, linear on anything."""

from __future__ import annotations

import json
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from medsettle.interface.limits import MAX_BODY, json_depth

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:'),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(alphabet='[]{}"\\ab', max_size=4), inner, max_size=3)
    ),
    max_leaves=30,
)


def depth(value) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(JSON, st.booleans())
def test_json_depth_is_the_nesting_depth(value, ascii_only):
    """Brackets, quotes and backslashes inside strings and keys do not count."""
    text = json.dumps(value, ensure_ascii=ascii_only, indent=None if ascii_only else 1)
    assert json_depth(text.encode()) == depth(value)


def test_json_depth_is_linear_on_hostile_bytes():
    """Unterminated strings full of escapes and brackets, 2 MiB each, are scanned fast (a
    backtracking string pattern would take hours on the first one)."""
    n = MAX_BODY
    cases = {
        "open quote, escaped quotes": b'"' + b'\\"' * (n // 2),
        "quotes only": b'"' * n,
        "brackets": b"[" * n,
        "pairs": b"[]" * (n // 2),
        "backslashes": b"\\" * n,
    }
    for name, body in cases.items():
        started = time.perf_counter()
        json_depth(body)
        assert time.perf_counter() - started < 2.0, name
    assert json_depth(b"[" * n) == n
    assert json_depth(b"[]" * (n // 2)) == 1
    assert json_depth(b'{"a": "[[[[", "b": [1, {"c": "\\"]]"}]}') == 3
