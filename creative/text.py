"""Names and ids people typed or imported: refuse the characters that hide or reorder what is shown."""

from __future__ import annotations

import re

# C0 and C1 controls (NUL, CR, LF, ESC, ...) and the explicit directional formatting characters
# (Trojan Source, CVE-2021-42574), which reorder what a reader sees.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def unsafe_character(value: str) -> str | None:
    """A description of the first control or bidi character in `value` (None when it is clean)."""
    found = _UNSAFE.search(value)
    if found is None:
        return None
    ch = found.group()
    if ch == "\0":
        return "NUL"
    kind = "control character" if ch <= "\x9f" else "bidirectional control"
    return f"the {kind} U+{ord(ch):04X}"
