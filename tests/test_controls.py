"""
Tests for L{echohub.controls}: the one list of per-request control names.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from echohub.controls import CONTROLS, HEADER, METADATA, QUERY, names


class ControlsTests(SynchronousTestCase):
    """
    The list is well formed: lower-case names, each once per place, a known
    place, something said of each.
    """

    def test_wellFormed(self) -> None:
        """
        Every control has a lower-case name, a known place and a doc, and no
        name is declared twice for one place.
        """
        seen = set()
        for control in CONTROLS:
            self.assertEqual(control.name, control.name.lower())
            self.assertIn(control.where, (HEADER, QUERY, METADATA))
            self.assertTrue(control.doc)
            self.assertNotIn((control.name, control.where), seen)
            seen.add((control.name, control.where))

    def test_names(self) -> None:
        """
        L{names} gives the names of one place.
        """
        self.assertEqual(names(HEADER), {c.name for c in CONTROLS if c.where == HEADER})
