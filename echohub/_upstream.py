# -*- test-case-name: tests.test_upstream -*-
"""
Every use echohub makes of a Twisted or pyOpenSSL name that is private or
undocumented, each behind one function or class, with why no public API
serves and what would replace it.

Nothing else in echohub may reach into those libraries' internals: when an
upgrade changes one, this module and L{tests.test_upstream} are the only
places to look, and those tests fail loudly instead of echohub quietly
falling back.  C{docs/internals.md} lists them all, with where they are
used.

This module sits at the bottom of the package, beside L{echohub._net}: it
imports nothing of echohub's.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import IO, Any

from twisted.internet.endpoints import _parse
from twisted.logger import ILogObserver

_TWIST_OBSERVER_FACTORY = "fileLogObserverFactory"


def endpointTokens(description: str) -> tuple[list[str], dict[str, str]]:
    """
    Split an endpoint description string into its positional arguments and
    its C{key=value} options, exactly as L{serverFromString} does (quoting,
    C{\\:} escapes), e.g. C{"tcp:7007:interface=\\:\\:1"} into
    C{(["tcp", "7007"], {"interface": "::1"})}.

    Why: echohub's dialect adds options (TLS keys on any endpoint, a
    C{haproxy:} layer outside TLS) that must be read with Twisted's own
    rules, and Twisted's tokenizer is the private
    C{twisted.internet.endpoints._parse}; the public L{serverFromString}
    only builds endpoints and L{quoteStringArgument} only quotes.  A public
    tokenizer would replace this (none is filed upstream that we found).

    @raise ValueError: for a string Twisted cannot tokenize.
    """
    args, kwargs = _parse(description)
    return list(args), dict(kwargs)


def useTwistLogObserver(
    parent: MutableMapping[str, Any] | None,
    factory: Callable[[IO[str]], ILogObserver],
) -> bool:
    """
    Make C{twist} log through C{factory(logFile)} instead of its own text or
    JSON observer.

    Why: C{twist} builds the service (the plugin's C{makeService}) before
    it starts logging, and starts logging with
    C{twistOptions["fileLogObserverFactory"]} (see C{Twist.run} and
    C{Runner.startLogging}); replacing that entry, an undocumented key of
    C{twisted.application.twist._options.TwistOptions}, is the only way for
    a plugin to choose the format.  A public hook (twist asking the service
    maker for its observer) would replace this.  C{twistd} has no such
    entry (its logger is built before the plugin runs), so nothing changes
    there.

    @param parent: the plugin options' C{parent}: twist's or twistd's
        options, or L{None} when the options were parsed alone.

    @return: whether twist's options were changed.
    """
    if parent is None or _TWIST_OBSERVER_FACTORY not in parent:
        return False
    parent[_TWIST_OBSERVER_FACTORY] = factory
    return True
