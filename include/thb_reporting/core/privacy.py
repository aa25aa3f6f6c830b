"""Privacy: keyed pseudonymisation of references, and detection of personal identifiers.

Tokens are keyed BLAKE2b (a MAC in its own right, 2.5× faster than HMAC-SHA256 here): the same
reference and key always give the same token, so a person reported by two teams under one CPTV
referral number is recognised nationally, while nobody without the key can reverse or test a guess.
"""
from __future__ import annotations

import hashlib
import re

from thb_reporting.core.arrow_text import one_text
from thb_reporting.core.invisible_characters import CONTROL, FORMAT, FORMAT_CLASS, ODD_SPACES, WRITTEN_OUT, made_visible

TOKEN_BYTES = 16


KEY_SETTING = ("the Airflow variable thb_pseudonymisation_key (AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY; "
               "THB_PSEUDONYMISATION_KEY in docker-compose) or the password of connection thb_pseudonymisation")
MIN_KEY_CHARACTERS = 32  # `openssl rand -hex 32` (README) gives 64
# Keys this repository once published (its demo, tests and benchmarks used them), and the usual placeholders:
# anyone may test a guessed reference against tokens made with them.
PUBLISHED_KEYS = frozenset({
    b"demo-only-pseudonymisation-key--not-a-secret", b"test-pseudonymisation-key", b"benchmark-key",
    b"change-me-in-production", b"change-me", b"changeme", b"secret", b"password",
})


class PseudonymisationKeyMissing(RuntimeError):
    pass


class PseudonymisationKeyWeak(PseudonymisationKeyMissing):
    """A key that others know or can guess: as good as none."""


def key_weakness(key: bytes) -> str | None:
    """Why a pseudonymisation key would not keep references secret, or None for a key of its own."""
    if key.strip() in PUBLISHED_KEYS:
        return "it is an example published with this project"
    if len(key) < MIN_KEY_CHARACTERS:
        return f"it is shorter than {MIN_KEY_CHARACTERS} characters"
    if len(set(key)) < 10:
        return "it has fewer than 10 different characters"
    return None


def require_strong_key(key: bytes, setting: str = KEY_SETTING) -> None:
    """Refuse a missing or weak key, naming where it is set (never the key itself)."""
    if not key:
        raise PseudonymisationKeyMissing(f"no pseudonymisation key: set {setting}")
    weakness = key_weakness(key)
    if weakness:
        raise PseudonymisationKeyWeak(
            f"the pseudonymisation key in {setting} is weak: {weakness}. Set a key of its own, "
            f"e.g. `openssl rand -hex 32`, and keep it (tokens depend on it)")


TOKENS_AT_ONCE = 65_536  # texts made Python objects at a time (pseudonymiser's tokens)
# A text that token() would leave as it is: printable ASCII but lower-case letters, one space between words.
_NORMAL_FORM = r"^[!-`{-~]+(?: [!-`{-~]+)*$"


def pseudonymiser(key: bytes):
    require_strong_key(key)
    if len(key) > 64:  # BLAKE2b's key limit; a longer secret is first condensed
        key = hashlib.blake2b(key).digest()

    def token(column: str, value: str | None) -> str | None:
        if value is None:
            return None
        normalised = " ".join(str(value).split()).upper()
        if not normalised:
            return None
        # The column name is part of the input so that a case_ref never collides with a cptv_ref.
        return hashlib.blake2b(f"{column}\x1f{normalised}".encode(), key=key, digest_size=TOKEN_BYTES).hexdigest()

    def tokens(column: str, values):
        """token(column, v) of each text of `values` (a pyarrow string array, chunked or not), as a pyarrow
        string array, faster: the keyed state after the column's prefix is made once and copied for each
        value (BLAKE2b over the same bytes, so the same tokens); a text already in its normal form (ASCII
        without lower-case letters, single spaces between words: most references) is not normalised again;
        a slice of rows at a time, so that no Python object outlives its slice."""
        import pyarrow as pa
        import pyarrow.compute as pc

        prefix = hashlib.blake2b(key=key, digest_size=TOKEN_BYTES)
        prefix.update(f"{column}\x1f".encode())
        pieces = []
        for chunk in values.chunks if isinstance(values, pa.ChunkedArray) else [values]:
            for start in range(0, len(chunk), TOKENS_AT_ONCE):
                piece = chunk.slice(start, TOKENS_AT_ONCE)
                texts = piece.to_pylist()
                normal = pc.match_substring_regex(piece, _NORMAL_FORM).fill_null(True).to_numpy(zero_copy_only=False)
                for k in (~normal).nonzero()[0].tolist():
                    texts[k] = " ".join(texts[k].split()).upper()
                out = []
                for text in texts:
                    if not text:  # missing, or nothing but spaces
                        out.append(None)
                        continue
                    h = prefix.copy()
                    h.update(text.encode())
                    out.append(h.hexdigest())
                pieces.append(pa.array(out, pa.string()))
        return pa.concat_arrays(pieces) if pieces else pa.array([], pa.string())

    token.many = tokens
    return token


# --- personal identifiers --------------------------------------------------------------------
# Spaces that may stand between the digit groups of a number (ASCII, and the odd spaces of
# invisible_characters: no-break, thin, narrow); the same list in Python and in RE2 (SUSPECT), so that what one
# accepts the other does. Format characters (zero-width space, soft hyphen) are removed before either looks.
_SPACES = "\t " + ODD_SPACES
_SPACES_RE2 = _SPACES  # literal characters, valid in RE2's classes too
_JMBG_CANDIDATE = re.compile(r"(?<!\d)\d{13}(?!\d)")
# A JMBG that lost its leading zero as a number in a spreadsheet cell (Excel keeps 12 digits, maybe '.0').
_JMBG_AS_NUMBER = re.compile(r"'?(\d{12})(?:[.,]0+)?")
_EMAIL = re.compile(r"[\w.+-]+[@\uff20\ufe6b][\w-]+(\.[\w-]+)+")
_DIGIT_GROUP = re.compile(r"\d+")
# Between two digit groups of a JMBG: spaces, or one '-', '–', '.' or '/' with spaces around it.
_JMBG_GAP = re.compile(rf"[{_SPACES}]+|[{_SPACES}]*([-\u2013./])[{_SPACES}]*")
# Between two digit groups of a phone number: spaces, and up to three of '-', '–', '/', '(' or ')'.
_PHONE_GAP = re.compile(rf"[{_SPACES}]*(?:[-\u2013/()][{_SPACES}]*){{0,3}}")
# A word that announces a phone number: tel., Tel:, telefon, mob., mobilni, fax, faks, phone (Latin or Cyrillic).
_PHONE_CUE = re.compile(r"(?i)(?<![^\W\d_])(?:tel|mob|fax|faks|phone|тел|моб|факс)[^\W\d_]*[.:]?[\s(+]*$")
# a number then a space (1 064 123 456 is a figure grouped by spaces); digits ending a word such as 2026Q2 are no number
_AFTER_DIGIT_AND_SPACE = re.compile(rf"(?<!\w)\d+[{_SPACES}]$")
_DATE_SHAPE = re.compile(r"\d{1,2}([-/.])\d{1,2}\1(?:\d{2}|\d{4})")


# A superset of what identifier_kind finds, in RE2 syntax (pyarrow's regex engine), so that a whole column
# is screened at once; only the cells it matches are examined one by one (identifier_kind). Digits are
# \p{Nd}, every decimal digit as Python's \d. Where identifier_kind wants a number to start clean (not
# after a letter or digit, nor after '-', '/' or '.' that follow one: references such as SU-2026-000123 or
# CZŽTL-2026/0123456789), SUSPECT asks the same of ASCII letters and digits only, which holds wherever
# Python's (any letter or digit) does; those references are then not examined one by one.
# tests/unit/core/test_written_forms.py checks the superset property on generated text.
_CLEAN_START_RE2 = r"(?:^|[^A-Za-z0-9_./\x{2013}-]|(?:^|[^A-Za-z0-9_])[./\x{2013}-])"
_JMBG_GAP_RE2 = rf"[{_SPACES_RE2}]*(?:[-\x{{2013}}./][{_SPACES_RE2}]*)?"
_PHONE_GAP_RE2 = rf"[{_SPACES_RE2}]*(?:[-\x{{2013}}/()][{_SPACES_RE2}]*){{0,3}}"  # no '.': dates are not examined
# a word that announces a number, then the number's first digit (`{}`: more characters that may not stand between)
_CUE_RE2 = r"(?i:tel|mob|fax|faks|phone|тел|моб|факс)[^\p{{Nd}}/\x{{2013}}{}-]*\p{{Nd}}"
SUSPECT = "|".join([
    r"[@\x{ff20}\x{fe6b}]",  # e-mail
    r"\p{Nd}{12}",  # a JMBG in one piece, or as a number that lost its leading zero
    rf"{_CLEAN_START_RE2}\p{{Nd}}(?:{_JMBG_GAP_RE2}\p{{Nd}}){{12}}",  # a JMBG in groups
    rf"{_CLEAN_START_RE2}[(+{_SPACES_RE2}]*(?:0|[^\x{{00}}-\x{{7f}}])\p{{Nd}}(?:{_PHONE_GAP_RE2}\p{{Nd}}){{6}}",  # 0…
    rf"\+[(+{_SPACES_RE2}]*\p{{Nd}}(?:{_PHONE_GAP_RE2}\p{{Nd}}){{6}}",  # +381…
    _CUE_RE2.format(""),  # tel. 011 …
    FORMAT_CLASS,  # a format character anywhere (rare): identifier_kind reads the cell without them
])


# SUSPECT over a column's texts joined into one, each ended by NUL: no match there, no match in any text. A
# NUL ends a cue's run of characters (the only part of SUSPECT that could run from one text into the next);
# before a text it stands where the text's start would, as any character that is no letter, digit or . - /.
SUSPECT_JOINED = SUSPECT.replace(_CUE_RE2.format(""), _CUE_RE2.format(r"\x{00}"))
JOINED_FROM = 10_000  # texts: from this many a column is first screened as one text (most columns hold nothing)


def suspect_cells(values):
    """A boolean numpy array: the cells of `values` (a pandas Series of text) that SUSPECT matches. A long
    column is first screened joined into one text (SUSPECT_JOINED), a few times faster than text by text:
    matched one by one only where that finds something."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    texts = pa.array(values, type=pa.string(), from_pandas=True)
    if len(texts) >= JOINED_FROM and not _any_suspect(texts):
        return np.zeros(len(texts), dtype=bool)
    found = pc.match_substring_regex(texts, SUSPECT)
    return found.fill_null(False).to_numpy(zero_copy_only=False)


def _any_suspect(texts) -> bool:
    """Whether SUSPECT_JOINED matches the texts joined, each ended by NUL; True (look text by text) where a
    text holds a NUL itself. One match over the whole column: each match compiles the pattern anew."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    joined = pc.binary_join_element_wise(texts, "", "\x00")  # each text and a NUL; a missing one: nothing
    if isinstance(joined, pa.ChunkedArray):  # (large: a column of over 2 GB is joined too)
        joined = pc.cast(joined, pa.large_string()).combine_chunks()
    if joined.null_count == len(joined):
        return False
    width = np.int64 if pa.types.is_large_string(joined.type) else np.int32
    ends = np.frombuffer(joined.buffers()[1], dtype=width)[joined.offset:joined.offset + len(joined) + 1]
    start, end = int(ends[0]), int(ends[-1])
    data = joined.buffers()[2]
    if np.count_nonzero(np.frombuffer(data, dtype=np.uint8, count=end - start, offset=start) == 0) \
            != len(joined) - joined.null_count:
        return True
    return bool(pc.match_substring_regex(one_text(data, start, end), SUSPECT_JOINED)[0].as_py())


SCREENED_TOGETHER = 10_000  # columns of up to this many texts are screened in one match (suspect_cells_of)


def suspect_cells_of(columns: list) -> list:
    """suspect_cells of each Series of `columns`. The small ones go through one match together: each match
    compiles SUSPECT anew, which costs more than screening a small column (about 1 ms a column: 10 s of the
    726 files of a quarter at 145 teams); a large column goes alone, so that no copy of it is made."""
    import pandas as pd

    out = [suspect_cells(c) if len(c) > SCREENED_TOGETHER else None for c in columns]
    small = [k for k, found in enumerate(out) if found is None]
    if small:
        together = suspect_cells(pd.concat([columns[k].astype(object) for k in small], ignore_index=True))
        start = 0
        for k in small:
            out[k], start = together[start:start + len(columns[k])], start + len(columns[k])
    return out


def is_valid_jmbg(digits: str) -> bool:
    """JMBG DDMMYYYRRBBBK with its check digit (K = 0 where m is 10 or 11)."""
    if len(digits) != 13 or not digits.isdigit():
        return False
    d = [int(ch) for ch in digits]
    weighted = sum(w * (d[i] + d[i + 6]) for i, w in enumerate((7, 6, 5, 4, 3, 2)))
    m = 11 - weighted % 11
    return d[12] == (0 if m >= 10 else m)


def _plausible_jmbg(digits: str) -> bool:
    """A valid JMBG whose first digits are a day and a month (every real one): asked of numbers found in
    pieces or without their leading zero, which ordinary figures resemble more often than 13 digits in one piece."""
    d = [int(ch) for ch in digits]
    return is_valid_jmbg(digits) and 1 <= d[0] * 10 + d[1] <= 31 and 1 <= d[2] * 10 + d[3] <= 12


def _starts_clean(text: str, i: int) -> bool:
    """Whether a number starting at text[i] (after any '(' or '+') stands on its own: not after a letter or
    digit, nor after '-', '–', '/' or '.' that follow one (the number continues a reference)."""
    while i > 0 and text[i - 1] in "(+":
        i -= 1
    before = text[i - 1] if i > 0 else ""
    word = lambda ch: ch.isalnum() or ch == "_"  # noqa: E731
    if before and word(before):
        return False
    return not (before in "-\u2013/." and i > 1 and word(text[i - 2]))


def _groups(text: str) -> list[tuple[re.Match, str | None]]:
    """The digit groups of a text, each with the gap that follows it up to the next group (None after the last)."""
    found = list(_DIGIT_GROUP.finditer(text))
    return [(m, text[m.end():found[k + 1].start()] if k + 1 < len(found) else None) for k, m in enumerate(found)]


def _has_jmbg(text: str) -> bool:
    if any(is_valid_jmbg(m.group()) for m in _JMBG_CANDIDATE.finditer(text)):
        return True
    whole = _JMBG_AS_NUMBER.fullmatch(text.strip())
    if whole and _plausible_jmbg("0" + whole.group(1)):
        return True
    groups = _groups(text)
    for k, (first, _) in enumerate(groups):  # 13 digits in groups, with one kind of gap between them
        if not _starts_clean(text, first.start()):
            continue
        digits, kind = first.group(), None
        for (_, gap), (nxt, _) in zip(groups[k:], groups[k + 1:]):
            m = _JMBG_GAP.fullmatch(gap)
            gap_kind = m and (m.group(1) or " ")
            if not gap_kind or kind not in (None, gap_kind) or len(digits) >= 13:
                break
            kind, digits = gap_kind, digits + nxt.group()
            if len(digits) == 13 and _plausible_jmbg(digits):
                return True
    return False


def _has_phone(text: str) -> bool:
    """A phone number: national (0 and an area or mobile code, 8 to 11 digits), international (+ or 00,
    8 to 17 digits, '(0)' allowed), or any 6 to 17 digits after a word such as tel., mob. or Tel:.
    Its digit groups may be apart by spaces, '-', '/' and parentheses (never '.': dates use it)."""
    groups = _groups(text)
    for k, (first, _) in enumerate(groups):
        start = first.start()
        cue = bool(_PHONE_CUE.search(text[:start]))
        if not cue and (not _starts_clean(text, start) or _AFTER_DIGIT_AND_SPACE.search(text[:start])):
            continue  # (after a digit and a space the digits continue a number grouped by spaces: 1 064 123 456)
        lead = text[:start].rstrip("( " + "\u00a0\u202f\t")
        after_00 = first.group()[2:] or (groups[k + 1][0].group() if k + 1 < len(groups) else "")
        international = lead.endswith("+") or first.group()[:2] == "00" and after_00[:1] in tuple("123456789")
        national = first.group()[0] == "0" and first.group()[1:2] not in ("", "0")
        if not (cue or international or national):
            continue
        low, high = (6, 17) if cue else ((8, 17) if international else (8, 11))
        digits, shape = first.group(), first.group()
        if low <= len(digits) <= high and not _DATE_SHAPE.match(shape):
            return True
        for (_, gap), (nxt, _) in zip(groups[k:], groups[k + 1:]):
            if not _PHONE_GAP.fullmatch(gap) or len(digits) >= high:
                break
            digits, shape = digits + nxt.group(), shape + gap + nxt.group()
            if low <= len(digits) <= high and not _DATE_SHAPE.match(shape):
                return True
    return False


def identifier_kind(text: str) -> str | None:
    """The kind of personal identifier in a cell ('jmbg', 'email', 'phone'), or None.

    JMBG: 13 digits with a valid check digit, in one piece anywhere; or in groups apart by spaces, '-', '.'
    or '/' (one kind), standing on their own, with a day and month first; or, as a whole cell, 12 digits
    (maybe '.0') that are a JMBG once the leading zero a spreadsheet number drops is put back.
    E-mail: name@domain in any script. Phone numbers: see _has_phone.
    Format characters (a zero-width space or soft hyphen pasted inside) are not looked at: they take no room,
    so 0101100<U+200B>710006 is a JMBG as the reader sees it."""
    text = FORMAT.sub("", text)
    if _has_jmbg(text):
        return "jmbg"
    if _EMAIL.search(text):
        return "email"
    if _has_phone(text):
        return "phone"
    return None


# --- what may be shown ------------------------------------------------------------------------
# Every text that came from a file (a cell, a header, a file name, a sheet name, a team's folder) passes
# here before it reaches a message, a log line, a finding or a ledger column. A value is shown only when it
# holds no personal identifier, is short, and does not look like a reference (a case or CPTV reference, a
# long run of digits): codes, numbers, dates and the template's column names pass unchanged.
HIDDEN = "[hidden]"
_CONTROL = CONTROL  # never shown, and NUL never reaches a database
MAX_SHOWN = {"value": 40, "file_name": 80}
_REFERENCE = re.compile(
    r"[^\W\d_]{1,10}[-/.]?\d+[-/.]\d+"  # SU-2026-0017, CZŽTL-2026/0123456789, NI2026/12
    r"|(?<!\d)\d{4}/\d{3,}"  # 2026/0017: a year and a serial
    r"|\d{10,}"  # a long run of digits (a JMBG with a wrong check digit, a CPTV number)
)
# In a longer text (a message the pipeline wrote around values from a file) these parts are judged one by
# one: anything around an '@', a run of digits with separators, anything shaped like a reference.
_PARTS = re.compile(r"\S*@\S*|[+(]?\d[\d ()/.-]{5,}\d|" + _REFERENCE.pattern)


def may_show(text: str, limit: int = MAX_SHOWN["value"]) -> bool:
    """Whether a text taken from a file may appear as it is in a message, log line, finding or ledger column."""
    text = str(text)
    return len(text) <= limit and not _CONTROL.search(text) and _unremarkable(text)


def _unremarkable(text: str) -> bool:
    # '_' joins the words of a file name or a header; an identifier glued on by it is still one; so is one
    # with characters that cannot be seen inside, as they are or written out (0101100<U+200B>710006)
    seen = FORMAT.sub("", WRITTEN_OUT.sub("", text))
    return not any(identifier_kind(t) or _REFERENCE.search(t)
                   for t in {text, text.replace("_", " "), seen, seen.replace("_", " ")})


def shown(value, *, kind: str = "value") -> str | None:
    """The value as it may be shown: itself, or HIDDEN. kind "value" (a cell, a header, a code) and
    "file_name" judge the whole text; kind "text" (a sentence the pipeline wrote, quoting a file) hides
    each part that may not be shown and keeps the words around it, or hides it all when an identifier
    spans several parts."""
    if value is None:
        return None
    # a character the reader cannot see is written out (fe<U+200B>male), never shown as a value that looks right
    text = made_visible(str(value))
    if kind != "text":
        return text if may_show(text, MAX_SHOWN[kind]) else HIDDEN
    text = _PARTS.sub(lambda m: m.group() if may_show(m.group()) else HIDDEN, text)
    return text if _unremarkable(text) and not _CONTROL.search(text) else HIDDEN


def shown_file_name(name: str | None, dataset: str | None = None, quarter: str | None = None, sha256: str = "") -> str:
    """A submitted file's name as the team and the coordinator see it. The team named the file, but a name
    holding an identifier or a reference is not echoed: the file is then named by what the pipeline knows
    of it (its dataset and quarter, where the name gave them, and the start of its SHA-256)."""
    if name is not None and shown(name, kind="file_name") == name:
        return name
    known = " ".join(p for p in (dataset, quarter) if p)
    return f"{HIDDEN} ({known + ', ' if known else ''}SHA-256 {sha256[:12]})"


def error_class(error: BaseException) -> str:
    """What a log line, message or ledger column may say of an exception: its class only. Its message may
    quote a cell or a file name that the identifier screen never saw; so may a traceback chained to it, so the
    line is written outside the except block. An exception whose class says SAID_IN_FULL builds its words
    from configuration alone (core.mail_connections): those words are said too."""
    if getattr(type(error), "SAID_IN_FULL", False):
        return f"{type(error).__name__}: {error}"
    return type(error).__name__
