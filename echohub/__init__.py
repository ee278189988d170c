# -*- test-case-name: tests -*-
"""
echohub: a multi-protocol echo service on Twisted.

A line-echo service and a twisted.web echo site, each listening on any number
of Twisted endpoint description strings.  See L{echohub.service.makeService}.
"""

__version__ = "0.1.0"
