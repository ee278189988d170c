"""
HPACK representations made by hand (RFC 7541 sections 5 and 6), for the
HTTP/2 conformance suite to put in header blocks what an encoder never
would: an index past the tables, a misplaced or oversized table size
update, Huffman codes with bad padding or the EOS symbol.
"""

from __future__ import annotations

from collections.abc import Iterable

from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH


def hpackInteger(value: int, prefixBits: int, pattern: int = 0) -> bytes:
    """
    An integer with an N-bit prefix (RFC 7541 section 5.1), the first octet
    or-ed with C{pattern}.
    """
    limit = (1 << prefixBits) - 1
    if value < limit:
        return bytes([pattern | value])
    out = [pattern | limit]
    value -= limit
    while value >= 128:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


EOS = 256
"""
The Huffman code table's end-of-string symbol (RFC 7541 appendix B).
"""


def huffman(symbols: Iterable[int], padding: str = "eos") -> bytes:
    """
    Huffman-encode C{symbols} (octets, or L{EOS}) with the code of RFC 7541
    appendix B, padded to an octet boundary with the most significant bits
    of EOS (C{"eos"}, the only correct padding) or with zeros (C{"zero"}).
    """
    bits = 0
    count = 0
    for symbol in symbols:
        bits = (bits << REQUEST_CODES_LENGTH[symbol]) | REQUEST_CODES[symbol]
        count += REQUEST_CODES_LENGTH[symbol]
    pad = -count % 8
    bits <<= pad
    if padding == "eos":
        bits |= (1 << pad) - 1
    count += pad
    return bits.to_bytes(count // 8, "big")


def hpackString(value: bytes, huffmanCoded: bool = False) -> bytes:
    """
    A string literal (RFC 7541 section 5.2): length with the H bit, then
    the octets or their Huffman code.
    """
    if huffmanCoded:
        coded = huffman(value)
        return hpackInteger(len(coded), 7, 0x80) + coded
    return hpackInteger(len(value), 7) + value


LITERAL_PATTERNS = {
    # RFC 7541 section 6.2: the pattern and the name index's prefix bits.
    "incremental": (0x40, 6),
    "without": (0x00, 4),
    "never": (0x10, 4),
}


def hpackLiteral(
    name: int | bytes, value: bytes, indexing: str, huffmanCoded: bool = False
) -> bytes:
    """
    A literal header field representation (RFC 7541 section 6.2): C{name}
    an index into the tables or a new name, C{indexing} one of
    L{LITERAL_PATTERNS}.
    """
    pattern, prefix = LITERAL_PATTERNS[indexing]
    if isinstance(name, int):
        head = hpackInteger(name, prefix, pattern)
    else:
        head = bytes([pattern]) + hpackString(name, huffmanCoded)
    return head + hpackString(value, huffmanCoded)


def hpackIndexed(index: int) -> bytes:
    """
    An indexed header field representation (RFC 7541 section 6.1).
    """
    return hpackInteger(index, 7, 0x80)


def hpackTableSizeUpdate(size: int) -> bytes:
    """
    A dynamic table size update (RFC 7541 section 6.3).
    """
    return hpackInteger(size, 5, 0x20)
