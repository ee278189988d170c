# -*- test-case-name: tests.test_endpoints -*-
"""
echohub's endpoint-string dialect: Twisted's strings plus TLS and PROXY.

Every listener of every service is one endpoint description string.  This
module owns how echohub reads one, so nothing else parses them: the stream
strings of every TCP service (L{parseListener}, once per string, into a
L{Listener}) and the datagram strings of the UDP echo (L{datagramEndpoint}),
which Twisted has none of.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from twisted.internet import endpoints
from twisted.internet.abstract import isIPAddress, isIPv6Address
from twisted.internet.endpoints import quoteStringArgument, serverFromString
from twisted.internet.interfaces import IReactorTCP, IReactorTime, IStreamServerEndpoint

from echohub._upstream import endpointTokens
from echohub.config import ConfigError, TLSConfig
from echohub.faults import (
    FAULT_OPTIONS,
    FaultBounds,
    FaultError,
    FaultPolicy,
    parsePolicy,
)
from echohub.proxy import ProxyServerEndpoint
from echohub.tls import (
    CLIENT_AUTH,
    PROFILES,
    SCENARIOS,
    ListenerTLS,
    ReloadableServerContext,
    TLSConfigError,
    TLSServerEndpoint,
)
from echohub.udp import AdoptedDatagramServerEndpoint, UDPServerEndpoint

TLS_OVER_OPTIONS = frozenset(
    {
        "privateKey",
        "certKey",
        "extraCertChain",
        "profile",
        "clientCA",
        "clientAuth",
        "handshakeTimeout",
        "scenario",
    }
)
"""
The options that make TLS, on an C{ssl:} string or over any other endpoint.
"""

SSL_OPTIONS = TLS_OVER_OPTIONS | {"interface", "backlog"}
"""
The options of an C{ssl:} string.
"""


def _choice(key: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{key}={value!r}: expected one of {', '.join(choices)}")
    return value


def parseTLSOptions(
    options: Mapping[str, str], defaults: TLSConfig | None = None
) -> tuple[ListenerTLS, float | None]:
    """
    Check the TLS options of one endpoint string, without touching any file.

    @param options: option name to value, all in L{TLS_OVER_OPTIONS}.
    @param defaults: C{[tls] profile} and C{[tls] handshake_timeout}, for an
        option the string does not set.
    @return: the TLS settings and the handshake timeout (L{None}: none).
    @raise ValueError: for an unknown option or a bad value.
    """
    defaults = defaults or TLSConfig()
    unknown = sorted(set(options) - TLS_OVER_OPTIONS)
    if unknown:
        raise ValueError(f"unknown TLS option {unknown[0]!r}")
    clientAuth = options.get("clientAuth")
    if clientAuth is not None:
        _choice("clientAuth", clientAuth, CLIENT_AUTH)
        if "clientCA" not in options:
            raise ValueError(
                "clientAuth= needs clientCA= (the CA to verify clients with)"
            )
    raw = options.get("handshakeTimeout")
    timeout = defaults.handshake_timeout if raw is None else float(raw)
    if not 0 <= timeout < float("inf"):
        raise ValueError(f"handshakeTimeout={raw!r}: expected seconds, 0 or more")
    privateKey = options.get("privateKey", "server.pem")
    clientCA = options.get("clientCA")
    scenario = options.get("scenario")
    if scenario is not None:
        _choice("scenario", scenario, tuple(SCENARIOS))
        if SCENARIOS[scenario].clientCertificate and clientCA is None:
            raise ValueError(
                f"scenario={scenario} needs clientCA= (the scenario CA,"
                " scenarios/ca.pem)"
            )
    settings = ListenerTLS(
        privateKey=privateKey,
        certKey=options.get("certKey", privateKey),
        extraCertChain=options.get("extraCertChain"),
        profile=_choice("profile", options.get("profile", defaults.profile), PROFILES),
        clientCA=clientCA,
        clientAuth=None if clientCA is None else (clientAuth or "require"),
        scenario=scenario,
    )
    return settings, timeout or None


def _tlsEndpoint(
    transport: IStreamServerEndpoint,
    clock: IReactorTime,
    settings: ListenerTLS,
    timeout: float | None,
) -> IStreamServerEndpoint:
    """
    Serve TLS with echohub's policy over any stream endpoint: an C{ssl:}
    string's TCP port, a socket inherited from systemd, a PROXY-protocol
    endpoint.

    @raise TLSConfigError: for a file problem.
    """
    return TLSServerEndpoint(
        transport, ReloadableServerContext(settings), clock, timeout
    )


def _quoted(args: Sequence[str], kwargs: Mapping[str, str]) -> str:
    """
    An endpoint string again, from its tokens, quoted for Twisted.
    """
    parts = [quoteStringArgument(arg) for arg in args]
    parts += [f"{key}={quoteStringArgument(value)}" for key, value in kwargs.items()]
    return ":".join(parts)


_LABEL_OPTIONS = frozenset({"interface", "domain", "name", "index", "port"})


@dataclass(frozen=True)
class Listener:
    """
    One stream endpoint string, parsed once: what a listener listens on and
    what metrics and logs call it.

    @ivar description: the string as the operator wrote it.
    @ivar label: the string without the options that say nothing about
        where it listens (certificate paths, backlog): the C{listener} label
        of the metrics.
    @ivar endpoint: the endpoint to listen on, TLS and PROXY layers
        included.
    @ivar tls: the listener's TLS settings, or L{None} for plain text.
    @ivar handshakeTimeout: the TLS handshake timeout (L{None}: none, or no
        TLS).
    @ivar proxied: whether each connection starts with a PROXY header.
    @ivar faults: the listener's faults (C{fault=}, C{faults=client}), or
        L{None} for none (L{echohub.faults}).
    @ivar scenario: the TLS failure scenario this listener serves
        (C{scenario=}), or L{None}.
    """

    description: str
    label: str
    endpoint: IStreamServerEndpoint
    tls: ListenerTLS | None = None
    handshakeTimeout: float | None = None
    proxied: bool = False
    faults: FaultPolicy | None = None
    scenario: str | None = None


def parseListener(
    reactor: Any,
    description: str,
    tlsDefaults: TLSConfig | None = None,
    faultBounds: FaultBounds | None = None,
) -> Listener:
    """
    Parse one server endpoint description string, once, into a L{Listener}.

    The string is split by Twisted's own endpoint-string tokenizer
    (L{echohub._upstream.endpointTokens}), so quoting and escaping (C{\\:})
    behave exactly as in L{serverFromString}.  C{ssl:} strings are built
    here, with echohub's TLS policy; every other prefix (C{tcp:}, C{tcp6:},
    C{unix:}, C{systemd:}, plugins) by Twisted.  echohub composes two
    layers over any of them, in the order they come on the wire:

        - a C{haproxy:} prefix: each connection starts with a PROXY protocol
          header (v1 or v2), read before anything else, TLS included, as
          HAProxy's C{send-proxy} sends it (L{echohub.proxy.ProxyServerEndpoint}).
          Twisted's own C{haproxy:ssl:} would expect it inside TLS.
        - echohub's TLS keys (L{TLS_OVER_OPTIONS}: C{privateKey=},
          C{certKey=}, C{clientCA=}, ...) on a string other than C{ssl:}:
          TLS over that endpoint, e.g.
          C{systemd:domain=INET:name=linetls:privateKey=K:certKey=C}.

    Twisted's C{tls:} server strings are refused: they would serve TLS
    without echohub's policy, client authentication and reload.

    Any string may also carry the listener's faults (L{FAULT_OPTIONS}:
    C{fault=DESCRIPTION}, C{faults=client}), checked against
    C{faultBounds}.

    @param tlsDefaults: the C{[tls]} settings, defaults of every TLS listener.
    @param faultBounds: the bounds of the service's faults, or L{None} for a
        service that has none.
    @raise ConfigError: naming the string and what is wrong with it.
    """
    original = description
    try:
        args, kwargs = endpointTokens(description)
        faultOptions = {key: kwargs.pop(key) for key in FAULT_OPTIONS & set(kwargs)}
        faults = None
        if faultOptions:
            if faultBounds is None:
                raise ValueError("this service takes no fault= or faults= option")
            faults = parsePolicy(faultOptions, faultBounds)
            description = _quoted(args, kwargs)
        label = _quoted(args, {k: v for k, v in kwargs.items() if k in _LABEL_OPTIONS})
        proxied = bool(args) and args[0].lower() == "haproxy"
        if proxied:
            args = args[1:]
        prefix = args[0].lower() if args else ""
        if prefix == "tls":
            raise ValueError(
                "echohub serves TLS through ssl: strings, with its TLS policy:"
                " write ssl:PORT:privateKey=KEY:certKey=CERT instead of tls:"
            )
        tlsOptions = {key: kwargs.pop(key) for key in TLS_OVER_OPTIONS & set(kwargs)}
        if prefix == "ssl":
            endpoint = _sslTransport(reactor, args, kwargs)
        elif tlsOptions:
            endpoint = serverFromString(reactor, _quoted(args, kwargs))
        else:
            inner = description.split(":", 1)[1] if proxied else description
            endpoint = serverFromString(reactor, inner)
        if proxied:
            endpoint = ProxyServerEndpoint(endpoint, reactor)
        settings = timeout = None
        if prefix == "ssl" or tlsOptions:
            settings, timeout = parseTLSOptions(tlsOptions, tlsDefaults)
            endpoint = _tlsEndpoint(endpoint, reactor, settings, timeout)
        return Listener(
            original,
            label,
            endpoint,
            settings,
            timeout,
            proxied,
            faults,
            None if settings is None else settings.scenario,
        )
    except TLSConfigError as e:
        raise ConfigError(f"endpoint {original!r}: {e}") from None
    except (FaultError, ValueError, TypeError, KeyError, IndexError, OSError) as e:
        raise ConfigError(f"endpoint {original!r} is not valid: {e}") from None


def _sslTransport(
    reactor: IReactorTCP, args: Sequence[str], kwargs: Mapping[str, str]
) -> IStreamServerEndpoint:
    """
    The TCP endpoint under an C{ssl:} string's TLS.

    @param args: the string's positional tokens, C{ssl} and the port.
    @param kwargs: its options other than the TLS ones.
    @raise ValueError: for a malformed string.
    """
    if len(args) != 2:
        raise ValueError("expected ssl:PORT followed by key=value options")
    unknown = sorted(set(kwargs) - SSL_OPTIONS)
    if unknown:
        raise ValueError(
            f"unknown option {unknown[0]!r}; ssl: takes"
            f" {', '.join(sorted(SSL_OPTIONS))}"
        )
    return endpoints.TCP4ServerEndpoint(
        reactor,
        int(args[1]),
        int(kwargs.get("backlog", "50")),
        kwargs.get("interface", ""),
    )


_DATAGRAM_FORMS = (
    "udp:PORT[:interface=ADDR], udp6:PORT[:interface=ADDR] or"
    " systemd:domain=INET|INET6:name=NAME (or index=N)"
)


def _options(kwargs: Mapping[str, str], allowed: frozenset[str], form: str) -> None:
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise ValueError(
            f"unknown option {unknown[0]!r}; {form} takes {', '.join(sorted(allowed))}"
        )


def _adoptedDatagram(
    reactor: Any, description: str, kwargs: Mapping[str, str], maxPacketSize: int
) -> AdoptedDatagramServerEndpoint:
    """
    The datagram socket a C{systemd:} string names.

    Twisted reads systemd's C{LISTEN_FDS} once (and removes it from the
    environment), so its own C{systemd:} parser finds the descriptor: the
    adopted stream endpoint it returns carries the descriptor and family in
    public attributes, and the socket is adopted as a datagram port instead.
    """
    _options(kwargs, frozenset({"domain", "name", "index"}), "systemd:")
    domain = kwargs.get("domain", "")
    if domain not in ("INET", "INET6"):
        raise ValueError(f"domain={domain!r}: expected INET or INET6")
    try:
        adopted = serverFromString(reactor, description)
    except KeyError:
        raise ValueError(
            f"no socket named {kwargs.get('name')!r} was inherited from systemd"
            " (FileDescriptorName= of a socket unit whose Service= is this one)"
        ) from None
    except IndexError:
        raise ValueError(
            f"no socket at index {kwargs.get('index')} was inherited from systemd"
        ) from None
    if not isinstance(adopted, endpoints.AdoptedStreamServerEndpoint):
        raise TypeError(f"Twisted parsed it as {type(adopted).__name__}")
    return AdoptedDatagramServerEndpoint(
        reactor, adopted.fileno, adopted.addressFamily, maxPacketSize
    )


def datagramEndpoint(
    reactor: Any, description: str, maxPacketSize: int
) -> UDPServerEndpoint | AdoptedDatagramServerEndpoint:
    """
    Parse one datagram endpoint string, echohub's own syntax in Twisted's
    tokens (quoting and C{\\:} escapes as in L{serverFromString}):

        - C{udp:PORT[:interface=ADDR]}: bind an IPv4 UDP port, on every
          address unless C{interface} names one.
        - C{udp6:PORT[:interface=ADDR]}: bind an IPv6 UDP port, on C{::}
          (which on Linux takes IPv4 too) unless C{interface} names one,
          e.g. C{udp6:7007:interface=\\:\\:1}.
        - C{systemd:domain=INET|INET6:name=NAME} or C{index=N}: adopt a
          datagram socket inherited from systemd (a socket unit's
          C{ListenDatagram=}, named by its C{FileDescriptorName=}).

    @param maxPacketSize: the receive buffer of the socket: the longest
        datagram read whole.
    @raise ConfigError: naming the string and what is wrong with it.
    """
    try:
        args, kwargs = endpointTokens(description)
        prefix = args[0].lower() if args else ""
        if prefix == "systemd" and len(args) == 1:
            return _adoptedDatagram(reactor, description, kwargs, maxPacketSize)
        if prefix not in ("udp", "udp6") or len(args) != 2:
            raise ValueError(f"expected {_DATAGRAM_FORMS}")
        _options(kwargs, frozenset({"interface"}), f"{prefix}:")
        port = int(args[1])
        if not 0 <= port <= 65535:
            raise ValueError(f"port {port} is not between 0 and 65535")
        if prefix == "udp6":
            interface = kwargs.get("interface", "::")
            if not isIPv6Address(interface):
                raise ValueError(f"interface={interface!r} is not an IPv6 address")
        else:
            interface = kwargs.get("interface", "")
            if interface and not isIPAddress(interface):
                raise ValueError(
                    f"interface={interface!r} is not an IPv4 address (use udp6:)"
                )
        return UDPServerEndpoint(reactor, port, interface, maxPacketSize)
    except (ValueError, TypeError, OSError) as e:
        raise ConfigError(f"endpoint {description!r} is not valid: {e}") from None
