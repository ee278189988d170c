"""
HTTP/2 conformance, h2spec's "hpack" group: RFC 7541 decoding errors in a
request's header block, each a connection error of type COMPRESSION_ERROR
(RFC 9113 section 4.3), over h2c and TLS against a real echohub; and the
hand-made HPACK representations the cases send, checked against RFC 7541's
examples and C{hpack}'s decoder.  See L{tests.h2conformance} for the
suite's rules.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from h2.settings import SettingCodes
from hpack import Decoder, HPACKDecodingError

from tests.h2conformance import (
    COMPRESSION_ERROR,
    Cases,
    Run,
    conformanceTests,
    request,
)
from tests.h2frames import (
    FrameClient,
    Target,
)
from tests.hpackraw import (
    EOS,
    hpackIndexed,
    hpackInteger,
    hpackLiteral,
    hpackString,
    hpackTableSizeUpdate,
    huffman,
)

pytestmark = pytest.mark.e2e

CASES = Cases()


test_conformance, test_caseList = conformanceTests(CASES, {"hpack": 8})


def test_hpackHelpers() -> None:
    """
    The hand-made HPACK representations are what RFC 7541's examples say
    (appendix C.2, C.4.1) and what C{hpack}'s decoder reads; the broken
    ones are decoding errors to it too (so the cases send what they say).
    """
    literal = hpackLiteral(b"custom-key", b"custom-header", "incremental")
    assert literal == bytes.fromhex(
        "400a637573746f6d2d6b65790d637573746f6d2d686561646572"
    )
    assert hpackLiteral(4, b"/sample/path", "without") == bytes.fromhex(
        "040c2f73616d706c652f70617468"
    )
    assert hpackLiteral(b"password", b"secret", "never") == bytes.fromhex(
        "100870617373776f726406736563726574"
    )
    assert hpackIndexed(2) == b"\x82"
    assert hpackString(b"www.example.com", True) == bytes.fromhex(
        "8cf1e3c2e5f23a6ba0ab90f4ff"
    )
    assert hpackInteger(1337, 5) == bytes([31, 154, 10])
    block = (
        hpackTableSizeUpdate(128)
        + hpackIndexed(2)
        + hpackLiteral(58, b"h2spec", "incremental", True)
        + hpackLiteral(b"x-test", b"h2spec", "never", True)
    )
    assert [tuple(field) for field in Decoder().decode(block, raw=True)] == [
        (b":method", b"GET"),
        (b"user-agent", b"h2spec"),
        (b"x-test", b"h2spec"),
    ]
    assert Decoder().decode(huffmanLiteral(huffman(b"test")), raw=True) == [
        (b"x-test", b"test")
    ]
    for broken in [
        LONG_PADDING,
        ZERO_PADDING,
        WITH_EOS,
        hpackIndexed(0),
        hpackIndexed(62),
        hpackIndexed(2) + hpackTableSizeUpdate(1),
        hpackTableSizeUpdate(4097),
    ]:
        with pytest.raises(HPACKDecodingError):
            Decoder().decode(broken)


# RFC 7541 decoding errors, each a COMPRESSION_ERROR (RFC 9113 section 4.3).


def decodingError(representation: Callable[[FrameClient], bytes], first: bool) -> Run:
    """
    A GET whose header block has C{representation(client)} after (or, with
    C{first}, before) the usual fields, expected to be a connection error of
    type COMPRESSION_ERROR.
    """

    def run(client: FrameClient, target: Target) -> None:
        block = client.encode(request(target))
        extra = representation(client)
        client.headers(1, extra + block if first else block + extra)
        client.expectConnectionError(COMPRESSION_ERROR)

    return run


def pastTheTables(client: FrameClient) -> int:
    """
    An index past the static (61) and dynamic tables.
    """
    return 62 + len(client.encoder.header_table.dynamic_entries) + 8


def huffmanLiteral(coded: bytes) -> bytes:
    """
    A literal header field without indexing, new name C{x-test}, whose
    value is the Huffman code C{coded} (RFC 7541 sections 5.2 and 6.2.2).
    """
    return (
        b"\x00"
        + hpackString(b"x-test", True)
        + hpackInteger(len(coded), 7, 0x80)
        + coded
    )


# "test" is 20 bits of Huffman code (RFC 7541 appendix B), 3 octets with the
# 4 bits of EOS padding.
LONG_PADDING = huffmanLiteral(huffman(b"test") + b"\xff")
"""
A value padded with 12 bits of EOS (RFC 7541 section 5.2: at most 7).
"""

ZERO_PADDING = huffmanLiteral(huffman(b"test", padding="zero"))
"""
A value padded with zeros, not EOS's most significant bits.
"""

WITH_EOS = huffmanLiteral(huffman([*b"tes", EOS, *b"t"]))
"""
A value with the EOS symbol inside.
"""

for hpackID, description, broken, first, rfc in [
    (
        "2.3.3/1",
        "Sends a indexed header field representation with invalid index",
        lambda c: hpackIndexed(pastTheTables(c)),
        False,
        "section 2.3.3: an index past both tables (indexed field)",
    ),
    (
        "2.3.3/2",
        "Sends a literal header field representation with invalid index",
        lambda c: hpackLiteral(pastTheTables(c), b"", "incremental"),
        False,
        "section 2.3.3: an index past both tables (a literal's name)",
    ),
    (
        "4.2/1",
        "Sends a dynamic table size update at the end of header block",
        lambda c: hpackTableSizeUpdate(1),
        False,
        "section 4.2: a dynamic table size update after the first field",
    ),
    (
        "5.2/1",
        "Sends a Huffman-encoded string literal representation with padding"
        " longer than 7 bits",
        lambda c: LONG_PADDING,
        False,
        "section 5.2: Huffman padding longer than 7 bits (a whole octet of EOS bits)",
    ),
    (
        "5.2/2",
        "Sends a Huffman-encoded string literal representation padded by zero",
        lambda c: ZERO_PADDING,
        False,
        "section 5.2: Huffman padding that is not the EOS code's bits (zeros)",
    ),
    (
        "5.2/3",
        "Sends a Huffman-encoded string literal representation containing the"
        " EOS symbol",
        lambda c: WITH_EOS,
        False,
        "section 5.2: a Huffman-coded string containing the EOS symbol",
    ),
    (
        "6.1/1",
        "Sends a indexed header field representation with index 0",
        lambda c: hpackIndexed(0),
        False,
        "section 6.1: an indexed field with index 0",
    ),
    (
        "6.3/1",
        "Sends a dynamic table size update larger than the value of"
        " SETTINGS_HEADER_TABLE_SIZE",
        lambda c: hpackTableSizeUpdate(
            c.serverSettings.get(SettingCodes.HEADER_TABLE_SIZE, 4096) + 1
        ),
        True,
        "section 6.3: a dynamic table size update over the server's"
        " SETTINGS_HEADER_TABLE_SIZE",
    ),
]:
    CASES.add(
        f"hpack/{hpackID}",
        description,
        decodingError(broken, first),
        f"RFC 7541 {rfc} MUST be a decoding error, and RFC 9113 section 4.3"
        " makes that a connection error of type COMPRESSION_ERROR.",
    )
