# -*- test-case-name: tests.test_exports -*-
"""
httpbin's and go-httpbin's routes, in their shapes, for client libraries'
test suites and for people who know httpbin: registered in one table
(L{httpbinRoutes}), each handler in the module of its kind.

Also the building blocks every echo site resource is made of
(L{PlainTextResource}, L{NotFound}, L{jsonBody}...): plain-text errors,
C{HEAD} from C{GET}, C{405} with C{Allow}, and nothing a client sent ever
served as a document that could run script.
"""

from echohub.web.httpbin._inspection import InspectionPolicy
from echohub.web.httpbin._resource import (
    ECHO_HEADERS,
    JSON,
    NotFound,
    PlainTextResource,
    badRequest,
    directory,
    echoContentType,
    jsonBody,
)
from echohub.web.httpbin._routes import httpbinRoutes

__all__ = [
    "ECHO_HEADERS",
    "JSON",
    "InspectionPolicy",
    "NotFound",
    "PlainTextResource",
    "badRequest",
    "directory",
    "echoContentType",
    "httpbinRoutes",
    "jsonBody",
]
