# -*- test-case-name: tests.test_tap -*-
"""
The C{echohub} plugin for C{twist} and C{twistd}.
"""

from twisted.application.service import ServiceMaker

echohub = ServiceMaker(
    "echohub",
    "echohub.tap",
    "A multi-protocol echo service: line echo and HTTP echo on any endpoint.",
    "echohub",
)
