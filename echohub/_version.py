# -*- test-case-name: tests.test_packaging -*-
"""
echohub's version: the one place it is written (the package metadata reads
it from here), at the bottom of the package so that every layer may name it.
"""

__version__ = "0.1.0"
