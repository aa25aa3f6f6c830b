"""What a team typed is what gets published: numbers, dates and identifiers in the forms people write them.

Property tests (hypothesis) generate written forms from known values: each form is read back as the
value, or becomes a finding; never a different value. Identifiers in any written form are found, and
the column-wide pre-filter (SUSPECT) finds every cell identifier_kind would. The example counts are
bounded for `make test`; THB_FUZZ_EXAMPLES=2000 (say) runs more."""
from __future__ import annotations

import datetime as dt
import os
import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from thb_reporting.core import contracts
from thb_reporting.core.invisible_characters import FORMAT
from thb_reporting.core.privacy import identifier_kind, is_valid_jmbg, suspect_cells
from thb_reporting.core.written_forms import EXCEL_EPOCH, read_date, read_whole_number, thousands_separators

EXAMPLES = int(os.environ.get("THB_FUZZ_EXAMPLES", "150"))
fuzz = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SPACES = [" ", "\u00a0", "\u202f"]


# --- numbers ------------------------------------------------------------------------------------
def _grouped(n: int, separator: str) -> str:
    return f"{n:,}".replace(",", separator)


@st.composite
def written_numbers(draw):
    """(n, a written form of n)."""
    n = draw(st.one_of(st.integers(0, 999), st.integers(1000, 10**12)))
    serbian, english = _grouped(n, "."), _grouped(n, ",")
    space = _grouped(n, draw(st.sampled_from(SPACES + ["'"])))
    zeros = "0" * draw(st.integers(1, 4))
    return n, draw(st.sampled_from([
        str(n), f"'{n}", serbian, english, space, f"{serbian},{zeros}", f"{english}.{zeros}", f"{space},{zeros}",
        f"{space}.{zeros}", f"{n}.{zeros}", f"{n},{zeros}", f"{serbian},-", f"{english}.-",
    ]))


@fuzz
@given(written_numbers(), st.sampled_from([None, ".", ","]), st.sampled_from([None, "RSD"]), st.booleans())
def test_a_written_whole_number_is_its_value_or_a_finding(case, convention, currency, with_currency):
    n, text = case
    one = re.fullmatch(r"'?([0-9]{1,3})([.,])([0-9]{3})", text)  # 350.000 or 12,000: thousands or decimals
    if with_currency and currency:
        text = f"{text} RSD" if n % 2 else f"{text} din."
    value, problem = read_whole_number(text, convention, currency)
    assert (value is None) != (problem is None)
    if not one or one[1] == "0":
        assert (value, problem) == (n, None), text
    elif convention == one[2] and int(one[1] + one[3]) == n:  # the file's convention: thousands
        assert (value, problem) == (n, None), text
    elif convention != one[2]:  # nothing decides, or the file shows the other convention: both readings shown
        assert problem.rule == "ambiguous_number" and str(n) in problem.detail.split("|"), (text, value, problem)


@fuzz
@given(st.integers(0, 10**9), st.integers(1, 999), st.sampled_from([".", ","]), st.sampled_from([None, ".", ","]))
def test_decimals_in_a_whole_number_column_are_a_finding(n, fraction, decimal, convention):
    decimals = f"{fraction:03d}".rstrip("0") if fraction % 10 == 0 else f"{fraction:03d}"
    group = "," if decimal == "." else "."
    text = f"{_grouped(n, group) if n >= 1000 else n}{decimal}{decimals}"
    value, problem = read_whole_number(text, convention)
    if value is not None:  # only the thousands reading of 1.500 can be whole, and only by the file's convention
        assert convention == decimal and len(decimals) == 3 and value == int(text.replace(decimal, "").replace(group, ""))
    else:
        assert problem.rule in ("whole_number", "ambiguous_number")


NUMBER_TEXT = st.text(alphabet="0123456789.,'- \u00a0\u202f+−RSDdin€%osbakm", max_size=16)


@fuzz
@given(NUMBER_TEXT, st.sampled_from([None, ".", ","]), st.sampled_from([None, "RSD"]))
def test_any_cell_is_read_as_its_own_digits_or_a_finding(text, convention, currency):
    """Whatever the text, a value read from it has the text's digits, less decimal zeros: never another number."""
    value, problem = read_whole_number(text, convention, currency)
    assert (value is None) != (problem is None)
    if value is not None:
        digits = "".join(re.findall(r"[0-9]", text)).lstrip("0") or "0"
        assert digits.startswith(str(abs(value))) and set(digits[len(str(abs(value))):]) <= {"0"}, (text, value)


@fuzz
@given(st.lists(st.integers(1000, 10**9), min_size=1, max_size=6), st.integers(100, 999), st.booleans())
def test_a_column_decides_its_ambiguous_cells(amounts, thousands, serbian):
    """350.000 among 1.250.000 (or 350,000 among 1,250,000) is 350000; the column then shows one convention."""
    sep = "." if serbian else ","
    column = [_grouped(a, sep) for a in amounts] + [f"{thousands}{sep}000", _grouped(1_250_000, sep)]
    assert set(thousands_separators(column)) == {sep}
    assert read_whole_number(f"{thousands}{sep}000", sep) == (thousands * 1000, None)


def test_a_frame_reads_its_columns_by_their_own_convention():
    """parse_types: the column's cells decide; where they show nothing, the file's other whole-number columns."""
    import pandas as pd

    from thb_reporting.validation.checks import parse_types

    contract = contracts.load("programmes")
    rows = {c: ["x", "y", "z"] for c in contract.column_names}
    rows.update(type=["prevention"] * 3, funding_source=["ngo"] * 3, start_date=["01.04.2026"] * 3, end_date=[None] * 3,
                amount_rsd=["350.000", "1.250.000", "75.000 RSD"], beneficiaries=["1.500", "12", None])
    frame = pd.DataFrame(rows, dtype="str").assign(source_row=[2, 3, 4])
    typed, findings = parse_types(frame, contract)
    assert findings == []
    assert typed["amount_rsd"].tolist() == [350000, 1250000, 75000]
    assert typed["beneficiaries"].tolist()[:2] == [1500, 12]  # by the file's other column: '.' for thousands
    assert typed["beneficiaries"].isna().tolist() == [False, False, True]
    frame.loc[1, "amount_rsd"], frame.loc[2, "beneficiaries"] = "1,250,000", "7.5"  # now both conventions
    typed, findings = parse_types(frame, contract)
    assert {(f.rule, f.column, f.row, f.value, f.detail) for f in findings} == {
        ("ambiguous_number", "amount_rsd", 2, "350.000", "350000|350"),
        ("ambiguous_number", "amount_rsd", 4, "75.000", "75000|75"),
        ("ambiguous_number", "beneficiaries", 2, "1.500", "1500|1.5"),
        ("whole_number", "beneficiaries", 4, "7.5", None)}
    assert typed["amount_rsd"].isna().tolist() == [True, False, True]


# --- dates --------------------------------------------------------------------------------------
@st.composite
def written_dates(draw):
    """(date, a written form, 'exact' | 'slashed' | 'two_digit_year')."""
    d = draw(st.dates(dt.date(1990, 1, 1), dt.date(2099, 12, 31)))
    time = draw(st.sampled_from(["", " 00:00:00", " 13:45", "T08:30:15"]))
    forms = [
        (f"{d.isoformat()}{time}", "exact"), (d.strftime("%d.%m.%Y"), "exact"), (d.strftime("%d.%m.%Y."), "exact"),
        (f"{d.day}.{d.month}.{d.year}.", "exact"), (f"{d.day}. {d.month}. {d.year}.", "exact"),
        (d.strftime("%d-%m-%Y"), "exact"), (d.strftime("%Y/%m/%d"), "exact"),
        (d.strftime("%d/%m/%Y"), "slashed"), (d.strftime("%m/%d/%Y"), "slashed"),
        (d.strftime("%d.%m.%y"), "two_digit_year"), (d.strftime("%d/%m/%y"), "two_digit_year"),
    ]
    if dt.date(1954, 10, 2) <= d <= dt.date(2118, 12, 11):  # serial day numbers 20000 to 80000
        forms.append((str((d - EXCEL_EPOCH).days), "exact"))
    text, kind = draw(st.sampled_from(forms))
    return d, text, kind


@fuzz
@given(written_dates())
def test_a_written_date_is_its_date_or_a_finding(case):
    d, text, kind = case
    value, problem = read_date(text)
    if kind == "exact":
        assert (value, problem) == (d, None), text
    elif kind == "slashed":  # day first, or month first where only that is a date, or both shown
        assert value == d or problem.rule == "ambiguous_date" and d.isoformat() in problem.detail.split("|"), (text, value, problem)
        assert (problem is not None) == (d.day <= 12 and d.month <= 12 and d.day != d.month), text
    else:
        assert value is None and problem.rule == "two_digit_year"


@fuzz
@given(st.lists(written_dates(), min_size=1, max_size=8))
def test_a_date_column_is_read_as_each_cell_alone(cases):
    """The column-wise reading (ISO dates together, other forms one by one) equals the cell-wise one."""
    import pandas as pd

    from thb_reporting.validation.checks import _parse_dates

    texts = pd.Series([text for _, text, _ in cases] + [None], dtype="str")
    dates, problems = _parse_dates(texts)
    for text, date, problem in zip(texts[:-1], dates[:-1], problems[:-1]):
        expected, why = read_date(text)
        assert (None if pd.isna(date) else date.date()) == expected and problem == why
    assert pd.isna(dates.iloc[-1]) and problems.iloc[-1] is None


def test_impossible_dates_are_findings():
    for text in ("31.02.2026", "2026-02-30", "29.02.2027", "15.13.2026", "00.01.2026", "1.1.1850", "12345"):
        assert read_date(text)[1].rule == "date_format", text


# --- identifiers --------------------------------------------------------------------------------
@st.composite
def jmbgs(draw) -> str:
    """A JMBG with a valid check digit (every 12-digit start has exactly one) for a date of birth."""
    born = draw(st.dates(dt.date(1920, 1, 1), dt.date(2026, 12, 31)))
    prefix = born.strftime("%d%m") + f"{born.year % 1000:03d}{draw(st.integers(0, 99)):02d}{draw(st.integers(0, 999)):03d}"
    return next(prefix + str(k) for k in range(10) if is_valid_jmbg(prefix + str(k)))


@st.composite
def written_jmbgs(draw) -> str:
    j = draw(jmbgs())
    sep = draw(st.sampled_from([" ", "-", ".", "/", "\u00a0", " - "]))
    cuts = draw(st.sampled_from([(6,), (7,), (2, 4, 7, 9, 12), (4, 8), (2, 4, 7)]))
    pieces = [j[a:b] for a, b in zip((0, *cuts), (*cuts, 13))]
    forms = [j, "'" + j, sep.join(pieces), f"JMBG: {sep.join(pieces)}", f"ЈМБГ {j}.", f"rođen, jmbg {sep.join(pieces)}, Niš"]
    if j[0] == "0":  # a spreadsheet number: the leading zero lost, maybe with '.0'
        forms += [j[1:], j[1:] + ".0"]
    return draw(st.sampled_from(forms))


@st.composite
def written_phones(draw) -> str:
    code = draw(st.sampled_from(["60", "61", "62", "63", "64", "65", "66", "69", "11", "21", "18", "34", "230"]))
    number = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=6, max_size=7)))
    a, b = number[:3], number[3:]
    forms = [
        f"0{code} {a} {b}", f"0{code}/{a}-{b}", f"0{code}/{a}-{b[:2]}-{b[2:]}", f"(0{code}) {a}-{b}", f"0{code}{number}",
        f"+381 {code} {a} {b}", f"+381{code}{number}", f"00381{code}{number}", f"+381 (0){code} {a} {b}",
        f"00 381 {code} {number}",
    ]
    form = draw(st.sampled_from(forms))
    cue = draw(st.sampled_from(["", "tel. ", "Tel:", "mob. ", "telefon ", "тел. ", "kontakt ", "Fax: "]))
    return cue + form


@st.composite
def written_emails(draw) -> str:
    letters = st.sampled_from(list("abcdefghijklmnopqrstuvwxyzабвгдђежзијклљмнњопрстћуфхцчџшčćžšđ"))
    local = "".join(draw(st.lists(letters, min_size=1, max_size=10)))
    domain = "".join(draw(st.lists(letters, min_size=1, max_size=10)))
    tld = draw(st.sampled_from(["rs", "срб", "org", "com", "xn--90a3ac"]))
    at = draw(st.sampled_from(["@", "\uff20"]))
    return draw(st.sampled_from([f"{local}{at}{domain}.{tld}", f"{local}.{local}{at}{domain}.{tld}", f"e-pošta: {local}{at}{domain}.{tld}"]))


@st.composite
def pasted(draw, identifiers) -> str:
    """An identifier with format characters pasted inside (zero-width space, soft hyphen, direction marks):
    the reader sees the identifier, so the screens must too."""
    text = draw(identifiers)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(["\u200b", "\u00ad", "\u2060", "\u200e", "\ufeff", "\u200d"])) + text[at:]
    return text


IDENTIFIERS = st.one_of(written_jmbgs(), written_phones(), written_emails())
IDENTIFIERS = st.one_of(IDENTIFIERS, pasted(IDENTIFIERS))
SURROUNDINGS = st.text(alphabet="abcčž ABTelmo,;:()\n", max_size=8)


@fuzz
@given(st.lists(st.tuples(SURROUNDINGS, IDENTIFIERS, SURROUNDINGS), min_size=1, max_size=10))
def test_identifiers_in_any_written_form_are_found_by_both_screens(cases):
    import pandas as pd

    # (a number that lost its leading zero is recognised as a whole cell only)
    texts = [identifier if re.fullmatch(r"[0-9]{12}(\.0)?", FORMAT.sub("", identifier)) else f"{before} {identifier} {after}"
             for before, identifier, after in cases]
    assert all(identifier_kind(t) for t in texts), [t for t in texts if not identifier_kind(t)]
    assert suspect_cells(pd.Series(texts, dtype="str")).all()


@st.composite
def references(draw) -> str:
    """Case, CPTV and programme references as teams write them: letters, a year, then a number."""
    latin = st.sampled_from(list("ABCDEFGHIJKLMNOPRSTUVZ"))
    prefix = "".join(draw(st.lists(st.sampled_from(list("ABCDEFGHIJKLMNOPRSTUVZČĆŽŠĐ")), min_size=0, max_size=4)))
    prefix += draw(latin)  # the letter before the number is a Latin one, as in CZŽTL
    year = draw(st.integers(2000, 2030))
    number = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=1, max_size=10)))
    middle = draw(st.sampled_from(["", "-NI", "-SU"]))
    return f"{prefix}{middle}-{year}{draw(st.sampled_from(['-', '/']))}{number}"


@st.composite
def ordinary_values(draw) -> str:
    """Figures and dates in their written forms: none is an identifier."""
    n = draw(st.integers(0, 10**9))
    d = draw(st.dates(dt.date(2000, 1, 1), dt.date(2030, 12, 31)))
    return draw(st.sampled_from([
        str(n), _grouped(n, "."), _grouped(n, ","), _grouped(n, " ") + ",00", _grouped(n, "\u00a0"), d.isoformat(),
        d.strftime("%d.%m.%Y."), d.strftime("%d/%m/%Y"), d.strftime("%d-%m-%Y"), f"{d.day}. {d.month}. {d.year}.",
        f"{d.isoformat()} 13:45:00", f"{d.strftime('%d.%m.%Y')}-{(d + dt.timedelta(days=30)).strftime('%d.%m.%Y')}",
    ]))


@fuzz
@given(st.lists(references(), min_size=1, max_size=10), st.lists(ordinary_values(), min_size=1, max_size=10))
def test_references_and_figures_are_never_identifiers(refs, values):
    import pandas as pd

    assert [r for r in refs + values if identifier_kind(r)] == []
    assert not suspect_cells(pd.Series(refs, dtype="str")).any()  # references are not even examined one by one


SCREEN_TEXT = st.text(alphabet="0123456789 \u00a0\u200b\u00ad-./()+@'abTtelmoб:тел\n", max_size=30)


@fuzz
@given(st.lists(st.one_of(SCREEN_TEXT, st.tuples(SCREEN_TEXT, IDENTIFIERS).map("".join)), min_size=1, max_size=40))
def test_the_column_screen_is_a_superset_of_identifier_kind(texts):
    """SUSPECT (RE2, a whole column at once) matches every cell in which identifier_kind finds something."""
    import pandas as pd

    found = [bool(identifier_kind(t)) for t in texts]
    suspect = suspect_cells(pd.Series(texts, dtype="str")).tolist()
    assert [t for t, f, s in zip(texts, found, suspect) if f and not s] == []


@fuzz
@example(["tel\x00 5"])
@example(["x", "тел.\x000641234567", None])
@example(["tel", "5"])
@example(["", "a@b"])
@given(st.lists(st.one_of(st.none(), SCREEN_TEXT, st.tuples(SCREEN_TEXT, IDENTIFIERS).map("".join),
                          st.tuples(SCREEN_TEXT, st.just("\x00"), SCREEN_TEXT).map("".join)), min_size=1, max_size=40))
def test_a_column_screened_as_one_text_gives_what_each_text_screened_alone_gives(texts):
    """The joined screen of a long column (SUSPECT_JOINED) never misses a text that SUSPECT matches alone:
    a cue in one text and a digit in the next, a NUL in a text, a missing text change nothing."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from thb_reporting.core import privacy

    column = pd.Series(texts, dtype="str")
    alone = pc.match_substring_regex(pa.array(texts, pa.string()), privacy.SUSPECT).fill_null(False).to_pylist()
    saved, privacy.JOINED_FROM = privacy.JOINED_FROM, 1  # every column joined first
    try:
        assert privacy.suspect_cells(column).tolist() == alone
    finally:
        privacy.JOINED_FROM = saved


def test_a_heading_with_an_identifier_is_a_finding_by_column_letter():
    import pandas as pd

    from thb_reporting.validation.checks import check_columns, find_personal_identifiers
    from thb_reporting.core.findings import describe

    contract = contracts.load("activities")
    names = list(contract.column_names)
    frame = pd.DataFrame([["x"] * (len(names) + 1)], columns=names[:2] + ["ana@example.org"] + names[2:], dtype="str")
    frame.insert(0, "source_row", [2])
    frame.iloc[0, 3] = "064/123-45-67"  # a cell under the heading too
    findings = find_personal_identifiers(frame) + check_columns(frame, contract)
    assert {(f.rule, f.column, f.row, f.detail) for f in findings} == {
        ("personal_identifier_in_header", "C (#3)", 1, "email"), ("personal_identifier", "C (#3)", 2, "phone"),
        ("unknown_column", "C (#3)", None, None)}
    for f in findings:
        for lang in ("sr", "en"):
            assert "ana@" not in describe(f, lang, contract) and "123-45" not in describe(f, lang, contract)
    assert {f.column for f in find_personal_identifiers(frame.rename(columns={"ana@example.org": "0101100710006"}))} == {"C (#3)"}

