"""Privacy: keyed pseudonymisation of references, and detection of personal identifiers.

Tokens are keyed BLAKE2b (a MAC in its own right, 2.5× faster than HMAC-SHA256 here): the same
reference and key always give the same token, so a person reported by two teams under one CPTV
referral number is recognised nationally, while nobody without the key can reverse or test a guess.
"""
from __future__ import annotations

import hashlib
import re

TOKEN_BYTES = 16


class PseudonymisationKeyMissing(RuntimeError):
    pass


def pseudonymiser(key: bytes):
    if not key:
        raise PseudonymisationKeyMissing(
            "no pseudonymisation key: set the Airflow variable thb_pseudonymisation_key "
            "(AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY) or the password of connection thb_pseudonymisation"
        )
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

    def tokens(column: str, values) -> list:
        """[token(column, v) for v in values], faster: the keyed state after the column's prefix is made once
        and copied for each value (BLAKE2b over the same bytes, so the same tokens)."""
        prefix = hashlib.blake2b(key=key, digest_size=TOKEN_BYTES)
        prefix.update(f"{column}\x1f".encode())
        out = []
        for value in values:
            normalised = None if value is None else " ".join(str(value).split()).upper()
            if not normalised:
                out.append(None)
                continue
            h = prefix.copy()
            h.update(normalised.encode())
            out.append(h.hexdigest())
        return out

    token.many = tokens
    return token


# --- personal identifiers --------------------------------------------------------------------
_JMBG_CANDIDATE = re.compile(r"(?<!\d)\d{13}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# Serbian and international phone numbers: +381…, 00381…, or 0 followed by an area/mobile code,
# with optional spaces, slashes or dashes; at least 8 digits in all. A number that continues a reference
# (after '/' or '-', as in CZŽTL-2026/0123456789) is not a phone number.
_PHONE = re.compile(r"(?<![\w/-])(?:\+|00)\d[\d /-]{7,}\d|(?<![\w/-])0\d{1,2}[ /-]?\d{3}[ /-]?\d{3,4}(?![\w/-])")


# A superset of the three in RE2 syntax (pyarrow's regex engine), so that a whole column is screened at
# once; only the cells it matches are examined one by one (identifier_kind). Digits are \p{Nd}, every
# decimal digit as Python's \d; the phone numbers' look-behind becomes "at the start or after a character
# that is not an ASCII letter or digit, '_', '/' or '-'", which holds wherever Python's (\w: any letter or
# digit) does. References such as SU-2026-000123 or CZŽTL-2026/0123456789, which _PHONE never matches,
# are then not examined one by one.
SUSPECT = r"@|\p{Nd}{13}|(?:^|[^A-Za-z0-9_/-])(?:\+|00)\p{Nd}|(?:^|[^A-Za-z0-9_/-])0\p{Nd}{1,2}[ /-]?\p{Nd}{3}[ /-]?\p{Nd}{3}"


def suspect_cells(values):
    """A boolean numpy array: the cells of `values` (a pandas Series of text) that SUSPECT matches."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found = pc.match_substring_regex(pa.array(values, type=pa.string(), from_pandas=True), SUSPECT)
    return found.fill_null(False).to_numpy(zero_copy_only=False)


def is_valid_jmbg(digits: str) -> bool:
    """JMBG DDMMYYYRRBBBK with its check digit (K = 0 where m is 10 or 11)."""
    if len(digits) != 13 or not digits.isdigit():
        return False
    d = [int(ch) for ch in digits]
    weighted = sum(w * (d[i] + d[i + 6]) for i, w in enumerate((7, 6, 5, 4, 3, 2)))
    m = 11 - weighted % 11
    return d[12] == (0 if m >= 10 else m)


def identifier_kind(text: str) -> str | None:
    """The kind of personal identifier in a cell ('jmbg', 'email', 'phone'), or None."""
    if any(is_valid_jmbg(m.group()) for m in _JMBG_CANDIDATE.finditer(text)):
        return "jmbg"
    if _EMAIL.search(text):
        return "email"
    if _PHONE.search(text) and sum(ch.isdigit() for ch in text) >= 8:
        return "phone"
    return None


# --- what may be shown ------------------------------------------------------------------------
# Every text that came from a file (a cell, a header, a file name, a sheet name, a team's folder) passes
# here before it reaches a message, a log line, a finding or a ledger column. A value is shown only when it
# holds no personal identifier, is short, and does not look like a reference (a case or CPTV reference, a
# long run of digits): codes, numbers, dates and the template's column names pass unchanged.
HIDDEN = "[hidden]"
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
    return len(text) <= limit and _unremarkable(text)


def _unremarkable(text: str) -> bool:
    # '_' joins the words of a file name or a header; an identifier glued on by it is still one
    return not any(identifier_kind(t) or _REFERENCE.search(t) for t in {text, text.replace("_", " ")})


def shown(value, *, kind: str = "value") -> str | None:
    """The value as it may be shown: itself, or HIDDEN. kind "value" (a cell, a header, a code) and
    "file_name" judge the whole text; kind "text" (a sentence the pipeline wrote, quoting a file) hides
    each part that may not be shown and keeps the words around it, or hides it all when an identifier
    spans several parts."""
    if value is None:
        return None
    text = str(value)
    if kind != "text":
        return text if may_show(text, MAX_SHOWN[kind]) else HIDDEN
    text = _PARTS.sub(lambda m: m.group() if may_show(m.group()) else HIDDEN, text)
    return text if _unremarkable(text) else HIDDEN


def shown_file_name(name: str | None, dataset: str | None = None, quarter: str | None = None, sha256: str = "") -> str:
    """A submitted file's name as the team and the coordinator see it. The team named the file, but a name
    holding an identifier or a reference is not echoed: the file is then named by what the pipeline knows
    of it (its dataset and quarter, where the name gave them, and the start of its SHA-256)."""
    if name is not None and shown(name, kind="file_name") == name:
        return name
    known = " ".join(p for p in (dataset, quarter) if p)
    return f"{HIDDEN} ({known + ', ' if known else ''}SHA-256 {sha256[:12]})"
