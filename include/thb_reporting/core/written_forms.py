"""How teams write whole numbers and dates, and what each written form means.

A cell becomes the value the team meant, or a Problem (a finding); never a different value. The rules in
words are RULES below (rendered into docs/data-dictionary.md, "How to write numbers and dates", with
examples read by these functions). In short: thousands groups of exactly three with '.', ',', spaces or
apostrophes; zero decimals are whole; one '.' or ',' before exactly three digits (350.000) is read by the
convention the file's other numbers show, or is a finding with both readings; day-first dates in several
spellings, ISO dates, serial day numbers; dates whose day and month could swap, two-digit years and
impossible dates are findings.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import NamedTuple

# Characters that group thousands and never separate decimals.
_GROUP_ONLY = " \u00a0\u202f'\u2019"
_SIGNS = {"-": -1, "\u2212": -1, "+": 1}
_NUMBER = re.compile(r"(?P<before>[^0-9]*?)[ \u00a0\u202f]*(?P<sign>[-\u2212+]?)"
                     r"(?P<body>[0-9](?:[0-9]|[.,' \u00a0\u202f\u2019](?=[0-9]))*)[ \u00a0\u202f]*(?P<after>[^0-9]*)")
# Units and currencies a team may write with a number: what each is named in a finding.
UNITS = {
    "rsd": "RSD", "din": "RSD", "dinara": "RSD", "dinar": "RSD", "рсд": "RSD", "дин": "RSD", "динара": "RSD",
    "€": "EUR", "eur": "EUR", "evra": "EUR", "evro": "EUR", "евра": "EUR", "евро": "EUR", "$": "USD", "usd": "USD",
    "chf": "CHF", "km": "BAM", "bam": "BAM", "mkd": "MKD", "ден": "MKD", "%": "%", "posto": "%",
    "osoba": "osoba", "osobe": "osoba", "lica": "lica", "lice": "lica", "učesnika": "učesnika",
    "ucesnika": "učesnika", "kom": "kom", "komada": "kom", "особа": "osoba", "особе": "osoba", "лица": "lica",
    "ком": "kom", "комада": "kom", "учесника": "učesnika",
}
MAX_DIGITS = 18  # a whole number in a cell fits a 64-bit integer


class Problem(NamedTuple):
    """Why a cell has no value: the rule of its finding, and what the finding may show (numbers and
    codes only: the cell's own text is shown only where it is digits and separators)."""
    rule: str
    value: str | None = None
    detail: str | None = None


def _grouped(body: str, separator: str) -> int | None:
    """The number written in thousands groups apart by `separator` (a first group of one to three digits
    that does not start with 0, then groups of three), or None if the groups are not so."""
    first, *rest = body.split(separator)
    if 1 <= len(first) <= 3 and first.isdigit() and first[0] != "0" and rest \
            and all(len(g) == 3 and g.isdigit() for g in rest):
        return int(first + "".join(rest))
    return None


def _shape(body: str) -> tuple[str | None, str | None]:
    """(thousands separator, decimal separator) the body shows beyond doubt; (None, None) for plain digits
    or one '.' or ',' before exactly three digits; ('?', '?') for a body that is no number."""
    separators = [ch for ch in body if not ch.isdigit()]
    if not separators:
        return None, None
    kinds = list(dict.fromkeys(separators))
    if len(kinds) == 1:
        sep = kinds[0]
        if sep in _GROUP_ONLY or len(separators) > 1:
            return sep, None
        whole, decimals = body.split(sep)
        if len(decimals) == 3 and _grouped(body, sep) is not None:
            return None, None  # 1.500: thousands or decimals
        return None, sep
    if len(kinds) == 2 and kinds[1] in ".," and separators.count(kinds[1]) == 1 and separators[-1] == kinds[1]:
        return kinds[0], kinds[1]
    return "?", "?"


def thousands_separators(texts) -> dict[str, str]:
    """The thousands separators ('.' or ',') that written numbers show beyond doubt: '.' from 1.250.000,
    1.500,00 or 12,5; ',' from 1,250,000, 1,500.00 or 12.5. One of them is the convention of the cells;
    none or both decide nothing. Each with the first number that shows it, as date_orders."""
    seen = {}
    for text in texts:
        parts = split_number(text)
        thousands, decimal = _shape(parts[2]) if parts else (None, None)
        if thousands in (".", ","):
            seen.setdefault(thousands, text[:20])
        elif decimal in (".", ","):
            seen.setdefault("," if decimal == "." else ".", text[:20])
    return seen


def split_number(text: str) -> tuple[str, str, str, str] | None:
    """(text before, sign, digits with their separators, text after) of a cell that holds one number."""
    m = _NUMBER.fullmatch(text.strip().lstrip("'"))
    if not m:
        return None
    body, after = m["body"], m["after"].strip()
    if after[:2] in (",-", ".-"):  # 350.000,- (no decimals, as prices are written): the same as 350.000,0
        body, after = body + after[0] + "0", after[2:].strip()
    return m["before"].strip(), m["sign"], body, after


def _plain(value: float) -> str:
    """A number without thousands separators and with a decimal point ('1.5', '12')."""
    return str(int(value)) if value == int(value) else repr(value)


def read_whole_number(text: str, convention: str | None = None, currency: str | None = None):
    """(value, None) or (None, Problem) for one cell of a whole-number column. `convention` is the
    thousands separator the column or file shows (thousands_separators); `currency` the column's own
    currency, which may be written after or before the amount."""
    parts = split_number(text)
    if parts is None:
        return None, Problem("whole_number", text[:20])
    before, sign, body, after = parts
    if before and after:
        return None, Problem("whole_number", text[:20])
    if before or after:
        unit = UNITS.get((before or after).lower().rstrip("."))
        if unit is None:
            return None, Problem("whole_number", text[:20])
        if unit != currency:
            return None, Problem("number_with_unit", sign + body, unit)
    thousands, decimal = _shape(body)
    if thousands == "?":
        return None, Problem("whole_number", sign + body)
    factor = _SIGNS.get(sign, 1)
    if thousands is None and decimal is None and not body.isdigit():  # one '.' or ',' before three digits
        sep = next(ch for ch in body if not ch.isdigit())
        as_thousands, whole, decimals = _grouped(body, sep), *body.split(sep)
        as_decimal = float(f"{whole}.{decimals}")
        if convention == sep:
            thousands = sep
        else:  # the decimal reading is never taken: 350.000 is not silently 350
            return None, Problem("ambiguous_number", sign + body,
                                 f"{factor * as_thousands}|{_plain(factor * as_decimal)}")
    whole, decimals = (body.rsplit(decimal, 1) if decimal else (body, ""))
    if thousands:
        number = _grouped(whole, thousands)
        if number is None:
            return None, Problem("whole_number", sign + body)
    else:
        number = int(whole) if whole.isdigit() else None
        if number is None:
            return None, Problem("whole_number", sign + body)
    if decimals.strip("0"):
        return None, Problem("whole_number", sign + body)
    if len(str(number)) > MAX_DIGITS:
        return None, Problem("whole_number", (sign + body)[:20])
    return factor * number, None


# --- dates ----------------------------------------------------------------------------------------
_TIME = r"(?:[ T]+[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?)?"
_ISO = re.compile(rf"([0-9]{{4}})[-/]([0-9]{{1,2}})[-/]([0-9]{{1,2}}){_TIME}")
_DAY_FIRST = re.compile(rf"([0-9]{{1,2}})(?:\. *|-)([0-9]{{1,2}})(?:\. *|-)([0-9]{{4}}|[0-9]{{2}})\.?{_TIME}")
_SLASHED = re.compile(rf"([0-9]{{1,2}})/([0-9]{{1,2}})/([0-9]{{4}}|[0-9]{{2}}){_TIME}")
_SERIAL = re.compile(r"([0-9]{5})(?:[.,][0-9]+)?")
EXCEL_EPOCH = dt.date(1899, 12, 30)  # day 0 of a spreadsheet's serial day numbers
YEARS = range(1900, 2100)


def _date(year: int, month: int, day: int) -> dt.date | None:
    try:
        date = dt.date(year, month, day)
    except ValueError:
        return None
    return date if date.year in YEARS else None


DAY_FIRST, MONTH_FIRST = "day_first", "month_first"
BOTH_ORDERS = "both_orders"  # the file writes dates both ways: a date both ways readable is date_order_mixed


def date_orders(texts) -> dict[str, str]:
    """The orders of day and month that written dates show beyond doubt, each with the first date that
    shows it: day first from 25/7/2026 or 25.07.2026 (dots and dashes are always day first), month first
    from 7/25/2026. One of them is the convention of the cells; none decides nothing, and both make the
    dates that could be read either way date_order_mixed."""
    seen = {}
    for text in texts:
        text = text.strip()
        if _DAY_FIRST.fullmatch(text):
            seen.setdefault(DAY_FIRST, text[:20])
        elif m := _SLASHED.fullmatch(text):
            first, second = int(m.group(1)), int(m.group(2))
            if first > 12 >= second:
                seen.setdefault(DAY_FIRST, text[:20])
            elif second > 12 >= first:
                seen.setdefault(MONTH_FIRST, text[:20])
        if len(seen) == 2:
            break
    return seen


def read_date(text: str, order: str | None = None):
    """(date, None) or (None, Problem) for one cell of a date column. order: DAY_FIRST or MONTH_FIRST, the
    convention the file's other dates show (date_orders), which reads a slashed date both ways could be;
    BOTH_ORDERS where they show both, which makes such a date date_order_mixed (ambiguous_date where
    nothing shows an order)."""
    text = text.strip()
    if m := _SERIAL.fullmatch(text):
        serial = int(m.group(1))
        if 20000 <= serial <= 80000:
            return EXCEL_EPOCH + dt.timedelta(days=serial), None
        return None, Problem("date_format", text[:20])
    if m := _ISO.fullmatch(text):
        date = _date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        return (date, None) if date else (None, Problem("date_format", text[:20]))
    if m := _DAY_FIRST.fullmatch(text):
        readings = [(int(m.group(2)), int(m.group(1)))]
    elif m := _SLASHED.fullmatch(text):
        first, second = int(m.group(1)), int(m.group(2))
        readings = list(dict.fromkeys([(second, first), (first, second)]))  # day first, then month first
    else:
        return None, Problem("date_format", text[:20])
    year = m.group(3)
    dates = [d for d in (_date(int(year) + (2000 if len(year) == 2 else 0), month, day) for month, day in readings) if d]
    if not dates:
        return None, Problem("date_format", text[:20])
    if len(year) == 2:  # 15.07.26: the century is a guess, so the team writes it
        return None, Problem("two_digit_year", text[:20], dates[0].isoformat() if len(dates) == 1 else None)
    if len(dates) > 1 and order in (DAY_FIRST, MONTH_FIRST):
        return dates[0 if order == DAY_FIRST else 1], None
    if len(dates) > 1:
        rule = "date_order_mixed" if order == BOTH_ORDERS else "ambiguous_date"
        return None, Problem(rule, text[:20], "|".join(d.isoformat() for d in dates))
    return dates[0], None


# --- the rules in words, for docs/data-dictionary.md (dictionary.py) -----------------------------
RULES = {
    "en": [
        "Whole numbers (counts, amount_rsd, ages) may group thousands with '.', ',', a space (also a no-break "
        "or narrow no-break space) or an apostrophe, in groups of exactly three digits; ',' or '.' may end the "
        "number with decimals. Zero decimals are whole (12,00, 12.0 and 12,- are 12); any other decimals in a "
        "whole-number column are a finding (whole_number).",
        "One '.' or ',' followed by exactly three digits (1.500, 350.000) can mean thousands or decimals. The "
        "column's other cells decide where they show the convention (1.250.000 or 12,50 in the same column: "
        "'.' separates thousands; 1,250,000 or 12.50: '.' separates decimals); if they show none, the file's "
        "other whole-number columns decide. If nothing decides, or the file shows both conventions, the cell "
        "is a finding (ambiguous_number) that shows both readings; so is such a cell where the file shows the "
        "other convention (350.000 among 1,250,000): the decimal reading (350) is never taken.",
        "A currency or unit written with a number (RSD, din., €, EUR, %, osoba, kom) is a finding "
        "(number_with_unit), except the column's own currency (RSD, din., dinara in amount_rsd), which is dropped.",
        "Dates: 2026-07-15 (also with a time, as a spreadsheet date cell gives it), 15.07.2026, 15.7.2026., "
        "15. 7. 2026., 15-07-2026, 2026/07/15, or a spreadsheet's serial day number. With '/' the day comes "
        "first (15/07/2026) unless only the month-first reading is a date (07/15/2026, as English-locale "
        "spreadsheets write it). Where both readings are dates (05/07/2026), the column's other dates decide "
        "where they show the order beyond doubt (25/07/2026 or 25.07.2026: day first; 07/25/2026: month "
        "first); if they show none, the file's other date columns decide. If nothing decides, the cell is a "
        "finding (ambiguous_date) that shows both readings; if the column (or, where it shows none, the file) "
        "writes dates both day first and month first, it is a finding (date_order_mixed) that also shows a "
        "date written each way. A two-digit year (15.07.26) is a finding (two_digit_year), as is "
        "an impossible date such as 31.02.2026 (date_format).",
    ],
    "sr": [
        "Celi brojevi (brojevi osoba, amount_rsd, godine starosti) mogu imati razdvajač hiljada '.', ',', "
        "razmak (i nelomljivi) ili apostrof, u grupama od tačno tri cifre; ',' ili '.' može da završi broj "
        "decimalama. Nule kao decimale ne menjaju broj (12,00, 12.0 i 12,- su 12); druge decimale u koloni celih "
        "brojeva su greška (whole_number).",
        "Jedna '.' ili ',' iza koje su tačno tri cifre (1.500, 350.000) može da znači hiljade ili decimale. "
        "Odlučuju ostale ćelije iste kolone kada pokazuju pravilo (1.250.000 ili 12,50 u koloni: '.' razdvaja "
        "hiljade; 1,250,000 ili 12.50: '.' razdvaja decimale), a ako ga ne pokazuju, ostale kolone celih brojeva "
        "u fajlu. Ako ništa ne odlučuje, ili fajl pokazuje oba pravila, ćelija je greška (ambiguous_number) koja "
        "prikazuje oba čitanja; isto važi i kada fajl pokazuje drugo pravilo (350.000 uz 1,250,000): decimalno "
        "čitanje (350) se nikada ne uzima.",
        "Valuta ili jedinica uz broj (RSD, din., €, EUR, %, osoba, kom) je greška (number_with_unit), osim "
        "valute same kolone (RSD, din., dinara u amount_rsd), koja se izostavlja.",
        "Datumi: 2026-07-15 (i sa vremenom, kako ga daje ćelija datuma u tabeli), 15.07.2026, 15.7.2026., "
        "15. 7. 2026., 15-07-2026, 2026/07/15 ili serijski broj dana iz tabele. Sa '/' prvo je dan (15/07/2026), "
        "osim ako je datum samo čitanje sa mesecom na prvom mestu (07/15/2026); kada su oba čitanja datumi "
        "(05/07/2026), odlučuju ostali datumi iste kolone kada pokazuju redosled (25/07/2026 ili 25.07.2026: "
        "prvo dan; 07/25/2026: prvo mesec), a ako ga ne pokazuju, ostale kolone datuma u fajlu. Ako ništa ne "
        "odlučuje, ćelija je greška (ambiguous_date) koja prikazuje oba čitanja; ako kolona (ili, kada ona ne "
        "pokazuje redosled, fajl) ima datume napisane i sa danom i sa mesecom na prvom mestu, ćelija je greška "
        "(date_order_mixed) koja prikazuje i po jedan datum napisan na svaki način. Godina sa dve cifre (15.07.26) je "
        "greška (two_digit_year), kao i nemoguć datum, npr. 31.02.2026 (date_format).",
    ],
}
# Written forms shown in the dictionary with what they become: (text, the column's convention, currency).
NUMBER_EXAMPLES = [
    ("350000", None, None), ("1.250.000", None, None), ("1 250 000", None, None), ("1,250,000", None, None),
    ("1'250'000", None, None), ("1.250.000,00", None, None), ("1,250,000.00", None, None), ("12,00", None, None),
    ("12.0", None, None), ("350.000,-", None, None), ("350.000", None, None), ("350.000", ".", None), ("350,000", ",", None),
    ("350.000", ",", None), ("12,5", None, None), ("350.000 RSD", ".", "RSD"),
    ("350000 din.", None, "RSD"), ("350000 EUR", None, "RSD"), ("25 osoba", None, None), ("25%", None, None),
]
DATE_EXAMPLES = ["2026-07-15", "2026-07-15 13:45:00", "15.07.2026", "15.07.2026.", "15. 7. 2026.", "15-07-2026",
                 "2026/07/15", "46218", "15/07/2026", "07/15/2026", "05/07/2026", "15.07.26", "31.02.2026"]


def _outcome(result) -> str:
    value, problem = result
    if problem is None:
        return f"`{value.isoformat() if isinstance(value, dt.date) else value}`"
    detail = f" ({problem.detail.replace('|', ' or ')})" if problem.detail else ""
    return f"finding `{problem.rule}`{detail}"


def dictionary_lines() -> list[str]:
    """The section 'How to write numbers and dates' of docs/data-dictionary.md, its examples read by the
    functions above (so the document cannot drift from what the pipeline does)."""
    lines = ["## How to write numbers and dates / Kako upisati brojeve i datume", ""]
    lines += [f"- {text}" for text in RULES["en"]] + [""] + [f"- {text}" for text in RULES["sr"]] + [""]
    lines += ["| written | the column's other numbers show | column's currency | read as |", "|---|---|---|---|"]
    shown = {None: "nothing", ".": "'.' for thousands", ",": "',' for thousands"}
    for text, convention, currency in NUMBER_EXAMPLES:
        lines.append(f"| `{text}` | {shown[convention]} | {currency or ''} | "
                     f"{_outcome(read_whole_number(text, convention, currency))} |")
    lines += ["", "| written date | read as |", "|---|---|"]
    lines += [f"| `{text}` | {_outcome(read_date(text))} |" for text in DATE_EXAMPLES]
    return lines + [""]
