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

from echohub.web.httpbin._controls import NO_CONTENT, headerRefusal
from echohub.web.httpbin._inspection import (
    InspectionPolicy,
    describeOrRefuse,
    requestBody,
)
from echohub.web.httpbin._resource import (
    ECHO_HEADERS,
    HTTPBIN_REASONS,
    JSON,
    NotFound,
    PlainTextResource,
    badRequest,
    directory,
    echoContentType,
    isActiveType,
    jsonBody,
)
from echohub.web.httpbin._routes import httpbinRoutes

__all__ = [
    "ECHO_HEADERS",
    "HTTPBIN_REASONS",
    "JSON",
    "NO_CONTENT",
    "InspectionPolicy",
    "NotFound",
    "PlainTextResource",
    "badRequest",
    "describeOrRefuse",
    "directory",
    "echoContentType",
    "headerRefusal",
    "httpbinRoutes",
    "isActiveType",
    "jsonBody",
    "requestBody",
]
