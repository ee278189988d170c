"""
Tests for L{echohub.faults}.
"""
