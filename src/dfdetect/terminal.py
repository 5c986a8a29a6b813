"""Text from file names and files made safe for a terminal: control characters (which can
move the cursor, retitle the window or fake output), bidirectional overrides and undecodable
bytes are shown as escapes instead of being sent raw."""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (os.fsdecode's surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with control characters, bidi overrides and undecodable bytes written as
    ``\\x1b``/``\\u202e`` escapes (rich markup is not escaped: print through ``Text``)."""
    return _UNSAFE.sub(_escape, text)
