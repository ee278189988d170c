"""
Tests for L{echohub.web.httpbin._resource}: the JSON every inspection route writes.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from echohub.web.httpbin._resource import prettyJSON

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
_DOCUMENTS = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)


class PrettyJSONTests(SynchronousTestCase):
    """
    L{prettyJSON} writes exactly what C{json.dumps(value, indent=2)} does.
    """

    @settings(max_examples=500, deadline=None)
    @given(_DOCUMENTS)
    def test_sameAsTheStandardLibrary(self, value: Any) -> None:
        """
        Any document of JSON's types (and tuples), non-ASCII, control
        characters, NaN and infinities included.
        """
        self.assertEqual(prettyJSON(value), json.dumps(value, indent=2))

    def test_otherKeysAndTypes(self) -> None:
        """
        Keys that are not strings, and subclasses of the basic types, come
        out as the standard library writes them; what it cannot write
        raises its C{TypeError}.
        """

        class Text(str):
            pass

        class Number(float):
            pass

        for value in (
            {1: "a", None: [True]},
            {"a": Text("b"), "n": Number(1.5), "i": math.inf},
            [Text("x"), {"deep": [{}, []]}],
        ):
            self.assertEqual(prettyJSON(value), json.dumps(value, indent=2))
        self.assertRaises(TypeError, prettyJSON, {"a": object()})
