# -*- test-case-name: tests.test_exports -*-
"""
The UDP echo of RFC 862: each datagram comes back unchanged to its sender,
within abuse limits (size, source port, a rate per source and in all), on
ports it binds or datagram sockets inherited from systemd.

UDP has no connections, so there is nothing to drain: a stopping server
closes its UDP sockets with the other listeners, and a datagram still
queued in the kernel then is not answered (a UDP client retries anyway).
"""

from echohub.udp._endpoint import AdoptedDatagramServerEndpoint, UDPServerEndpoint
from echohub.udp._limits import DatagramLimits, Drop
from echohub.udp._protocol import UDPEcho

__all__ = [
    "AdoptedDatagramServerEndpoint",
    "DatagramLimits",
    "Drop",
    "UDPEcho",
    "UDPServerEndpoint",
]
