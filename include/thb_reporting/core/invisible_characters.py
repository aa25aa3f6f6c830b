"""Characters a person cannot see in a cell: control characters, and the format characters and odd spaces
that spreadsheets, web pages and word processors paste in (zero-width space, soft hyphen, word joiner,
direction marks, no-break spaces).

One home for both sets, used by reading (a file's cells and headers), privacy (what a message may show) and
the tests. Control characters make a cell unreadable and are never shown. Invisible characters are removed
from codes, numbers, dates, references and headers before they are checked, with a warning naming the
character and the cell: otherwise a team is told that `female` (with a zero-width space in it) is not
allowed, and cannot see why. In free text they are kept as written; the identifier screen (privacy) reads
every text without its format characters, so a JMBG with a zero-width space pasted inside is still found.

The patterns are character classes of literal characters, valid both for Python's re and for the RE2
engine of pyarrow (which pandas' string columns use)."""
from __future__ import annotations

import re
import unicodedata

# C0 and C1 controls but tab, line feed and carriage return (which a CSV holds between cells).
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
CONTROL_RE2 = r"[\x{00}-\x{08}\x{0B}\x{0C}\x{0E}-\x{1F}\x{7F}-\x{9F}]"  # the same, for pyarrow

# Unicode's format characters (category Cf), as of Unicode 15.1 (tests check the set against unicodedata),
# and the spaces that are not the plain space (category Zs, line and paragraph separators).
_FORMAT = ((0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD), (0x070F, 0x070F),
           (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E), (0x200B, 0x200F), (0x202A, 0x202E),
           (0x2060, 0x2064), (0x2066, 0x206F), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD),
           (0x110CD, 0x110CD), (0x13430, 0x1343F), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001),
           (0xE0020, 0xE007F))
_SPACES = ((0x00A0, 0x00A0), (0x1680, 0x1680), (0x2000, 0x200A), (0x2028, 0x2029), (0x202F, 0x202F),
           (0x205F, 0x205F), (0x3000, 0x3000))
RANGES = tuple(sorted(_FORMAT + _SPACES))


def _members(ranges) -> str:
    return "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges)


INVISIBLE_CLASS = f"[{_members(RANGES)}]"
INVISIBLE = re.compile(INVISIBLE_CLASS)
# The format characters alone: they take no room, so a JMBG or e-mail address with one inside is still one
# (privacy judges the text without them); the odd spaces are gaps between digit groups, as the plain space.
FORMAT_CLASS = f"[{_members(_FORMAT)}]"
FORMAT = re.compile(FORMAT_CLASS)
ODD_SPACES = _members(_SPACES)  # the members of a character class, to put in one beside the plain space
# A character written out by made_visible.
WRITTEN_OUT = re.compile(r"<U\+[0-9A-F]{4,6}>")


def is_invisible(ch: str) -> bool:
    return INVISIBLE.fullmatch(ch) is not None


def name(ch: str) -> str:
    """'ZERO WIDTH SPACE (U+200B)': how a message names a character the team cannot see."""
    return f"{unicodedata.name(ch, 'UNNAMED')} (U+{ord(ch):04X})"


def names(text: str) -> str:
    """The invisible characters of a text, each named once, in the order they first occur."""
    return ", ".join(name(ch) for ch in dict.fromkeys(INVISIBLE.findall(text)))


def removed(text: str) -> str:
    return INVISIBLE.sub("", text)


def without_format(text: str) -> str:
    return FORMAT.sub("", text)


def made_visible(text: str) -> str:
    """The text with each invisible character written as <U+200B>, for a message that must show a value."""
    return INVISIBLE.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)
