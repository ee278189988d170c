"""
Tests for L{echohub._upstream._pins}: the check that an upstream function is
still the one a piece of echohub copies.
"""

from __future__ import annotations

import hashlib
import inspect

from twisted.trial.unittest import SynchronousTestCase

from echohub._upstream._pins import sourceChanged


def _copied() -> int:
    return 1


class SourceChangedTests(SynchronousTestCase):
    """
    L{sourceChanged} compares the SHA-256 of functions' sources.
    """

    def test_same(self) -> None:
        """
        The digest of the function's own source: unchanged.
        """
        digest = hashlib.sha256(inspect.getsource(_copied).encode()).hexdigest()
        self.assertIsNone(sourceChanged(digest, _copied))

    def test_changed(self) -> None:
        """
        Another digest: the function is not the version copied.
        """
        self.assertEqual(
            sourceChanged("0" * 64, _copied), "it is not the version echohub copies"
        )

    def test_noSource(self) -> None:
        """
        A function without Python source (a builtin) cannot be checked, and
        says so.
        """
        self.assertEqual(sourceChanged("0" * 64, len), "its source is not available")
