"""
The peers echohub is measured against: small servers written the way their
frameworks' tutorials and documentation suggest, each runnable as
C{python -m benchmarks.peers.NAME --port 0 [--tls CERT KEY]}.

Each announces its bound address exactly as echohub does (C{line listening
on 127.0.0.1:43211 (...)}), so the harness finds every server's port the
same way.
"""

from __future__ import annotations

import argparse


def parseArguments(description: str, uvloop: bool = False) -> argparse.Namespace:
    """
    The command line every peer shares: where to listen, and TLS files.

    @param uvloop: whether to offer C{--uvloop} (asyncio peers only).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--tls", nargs=2, metavar=("CERT", "KEY"), help="serve TLS with these PEM files"
    )
    if uvloop:
        parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    return parser.parse_args()


def announce(service: str, host: str, port: int, description: str) -> None:
    """
    Print the line the harness waits for, in echohub's own format.
    """
    print(f"{service} listening on {host}:{port} ({description})", flush=True)
