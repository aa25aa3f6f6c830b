"""Validating a submission against its contract: the checks, and the order they run in for one file.

Order: the columns of the template (missing, unknown, duplicated); personal identifiers in any cell;
types (whole numbers, dates) parsed in plain code; rules across rows; then the contract's expectation
suite in Great Expectations on the typed rows (suite_runner), keyed by each row's `source_row`. Each
failure becomes a Finding (findings.py) that names the row, the column and the rule.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from thb_reporting.core.contracts import CODES_SEPARATOR, Contract
from thb_reporting.core.contracts import versions as contracts_versions
from thb_reporting.core.findings import ERROR, WARNING, Finding, column_letters, located
from thb_reporting.core.privacy import identifier_kind, suspect_cells_of
from thb_reporting.core.quarters import Quarter
from thb_reporting.reading.submission_files import DECLARED_TEMPLATE, READING_FINDINGS, column_position, shown_header
from thb_reporting.validation.suite_runner import SuiteRunner, compared_columns, findings_from_gx
from thb_reporting.core.contracts import ROW_KEY
from thb_reporting.validation.suites import load_suite
from thb_reporting.core.written_forms import (BOTH_ORDERS, DAY_FIRST, MONTH_FIRST, Problem, date_orders, read_date,
                                         read_whole_number, thousands_separators)


# --- structure and identifiers ----------------------------------------------------------------
def check_columns(frame, contract: Contract, followed: int | None = None) -> list[Finding]:
    """The template's columns, and the findings made while reading the file (control characters, an
    identifier outside the data rows). A header not in the template is named only where it may be shown.
    A file made from an earlier template (`followed`, Contract.template_followed) may lack the optional
    columns a later version added (one warning names them all); a required one it lacks rejects it,
    naming the template that has it."""
    followed = contract.version if followed is None else followed
    seen, findings = set(), list(frame.attrs.get(READING_FINDINGS, ()))
    for position, col in enumerate((c for c in frame.columns if c != ROW_KEY), start=1):
        if col in seen:
            findings.append(Finding("duplicate_column", column=col if col in contract.column_names else shown_header(col, position)))
        elif col not in contract.column_names:
            findings.append(Finding("unknown_column", column=shown_header(col, position)))
        seen.add(col)
    absent = [c for c in contract.columns if c.name not in frame.columns]
    later = {c.name for c in contract.later_columns(followed)}
    findings += [Finding("missing_column", column=c.name) for c in absent if c.name not in later]
    findings += [Finding("missing_column_of_later_template", column=c.name, detail=str(c.since_version))
                 for c in absent if c.name in later and c.required]
    if not_stated := [c.name for c in absent if c.name in later and not c.required]:
        findings.append(Finding("columns_of_later_template", WARNING, detail=f"{followed}|{','.join(not_stated)}"))
    return findings


def _columns_of_later_quarters(frame, contract: Contract):
    """(frame without them, findings) for the columns of a later contract version than the quarter's, as in
    a current template used for an earlier quarter: left empty, they are dropped with a warning; holding
    values, they reject the file (the quarter's version cannot record them)."""
    from thb_reporting.core.contracts import load

    latest = load(contract.dataset)
    ahead = [c for c in latest.columns if c.since_version > contract.version and c.name in frame.columns]
    findings = []
    for c in ahead:
        values = frame[c.name]
        empty = bool((values.isna() | (values.astype("str").str.strip() == "")).all())
        version = next(v for v in contracts_versions(contract.dataset) if v.version == c.since_version)
        findings.append(Finding("empty_column_of_later_template" if empty else "column_of_later_template",
                                WARNING if empty else ERROR, column=c.name, detail=f"{c.since_version}|{version.from_quarter}"))
    return (frame.drop(columns=[c.name for c in ahead]) if ahead else frame), findings


def columns_not_in_file(frame, contract: Contract, followed: int) -> tuple[str, ...]:
    """The optional columns of a later template than the file's that it lacks: stored as not stated."""
    return tuple(c.name for c in contract.later_columns(followed) if not c.required and c.name not in frame.columns)


def find_personal_identifiers(frame, distinct: dict | None = None) -> list[Finding]:
    """Every heading and every cell holding a JMBG with a valid check digit, an e-mail address or a phone
    number (privacy.identifier_kind). The value is never kept in the finding; a heading that holds one is
    named by its column letter. `distinct`, where given, receives the factorisation (codes, distinct values;
    code -1: empty) of each column (named once in the file) screened value by value, for parse_types."""
    return identifiers_of_many([frame], [distinct])[0]


FACTORISED_FROM_ROWS = 10_000  # a longer column that repeats a few values is screened and typed value by value


def identifiers_of_many(frames: list, distincts: list[dict | None] | None = None) -> list[list[Finding]]:
    """find_personal_identifiers of each frame (with its `distincts` entry), the cells of all of them
    screened in one pass: the screen's fixed cost is paid once for a quarter's small files, not per file."""
    import numpy as np
    import pandas as pd

    distincts = distincts or [None] * len(frames)
    found: list[list[Finding]] = []
    columns = []  # (file, shown header, its cells, their factorisation or None, the texts to screen)
    for n, (frame, distinct) in enumerate(zip(frames, distincts)):
        names = [c for c in frame.columns if c != ROW_KEY]
        found.append([Finding("personal_identifier_in_header", column=column_position(i), row=1, detail=kind)
                      for i, name in enumerate(names, start=1) if (kind := identifier_kind(str(name)))])
        for position, col in enumerate(frame.columns):
            if col == ROW_KEY:
                continue
            shown = shown_header(col, names.index(col) + 1)
            values = frame.iloc[:, position]
            if len(values) > FACTORISED_FROM_ROWS and values.iloc[:1_000].nunique() <= 100:
                # a column that repeats a few values (codes, dates, numbers): each distinct value is screened once
                codes, uniques = pd.factorize(values)
                if distinct is not None and names.count(col) == 1:
                    distinct[col] = (codes, uniques)
                columns.append((n, shown, values, codes, pd.Series(uniques, dtype=values.dtype)))
            else:
                values = values.dropna()
                columns.append((n, shown, values, None, values))
    for (n, shown, values, codes, _), hit in zip(columns, suspect_cells_of([texts for *_, texts in columns])):
        suspects = values[np.append(hit, False)[codes]] if codes is not None else values[hit]  # code -1: empty
        kinds = {text: identifier_kind(text) for text in suspects.unique()}  # a repeated value examined once
        for idx, text in suspects.items():
            kind = kinds[text]
            if kind:
                found[n].append(Finding("personal_identifier", column=shown, row=int(frames[n].at[idx, ROW_KEY]),
                                        detail=kind))
    return found


# --- types ----------------------------------------------------------------------------------
def _parse_dates(raw, order: str | None = None):
    """(dates, the Problem of each cell that is no date or None): the written forms of written_forms.read_date,
    a slashed date both ways could be read in the file's `order` (_file_convention). ISO dates, most of a
    column, are parsed together; the other forms one by one."""
    import pandas as pd

    iso = raw.str.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}").fillna(False).astype(bool)
    readings = {text: read_date(text, order) for text in raw[~iso].dropna().unique()}
    text = raw.where(iso, raw.map(lambda v: readings[v][0].isoformat() if readings.get(v, (None,))[0] else None))
    dates = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    problems = raw.map(lambda v: readings[v][1] if v in readings else None).where(dates.isna() & raw.notna(), None)
    # an ISO form of an impossible date (2026-02-31) is a date_format problem like any other
    odd = raw.notna() & dates.isna() & problems.isna()
    problems = problems.where(~odd, raw[odd].map(lambda v: Problem("date_format", str(v)[:20])))
    return dates, problems


def _as_codes(raw, code_list: str):
    """Codes as the contract has them: a Serbian or English label, in Latin or Cyrillic script, becomes
    its code when it names exactly one; anything else is left for the code-list rule to report."""
    from thb_reporting.core.reference import code_aliases, codes, to_latin

    aliases = code_aliases(code_list)
    lowered = raw.str.lower()
    odd = lowered.notna() & ~lowered.isin(list(codes(code_list)))  # only these need the slower mapping
    if not odd.any():
        return lowered
    latin = _map_distinct(lowered[odd], lambda v: to_latin(v).strip().lower())
    return lowered.where(~odd, latin.map(lambda v: aliases.get(v, v)))


def _map_distinct(values, fn):
    """values.map(fn), calling fn once per distinct value (a column of codes repeats a few values)."""
    distinct = values.dropna().unique()
    return values.map(dict(zip(distinct, map(fn, distinct))))


def _typed_column(raw, col, convention: str | None = None):
    """(typed values, the Problem of each cell not of the column's type or None (or None for columns of
    text and codes), the stripped text) of one column's cells. A whole number written with one '.' or ','
    before three digits is read with `convention`, the thousands separator the file's numbers show
    (written_forms.read_whole_number); every other cell's outcome depends on that cell alone."""
    import pandas as pd

    raw = raw.str.strip().replace("", None)
    if col.type == "integer":
        plain = raw.str.fullmatch(r"-?[0-9]{1,18}").fillna(False).astype(bool)  # most cells: read together
        readings = {text: read_whole_number(text, convention, col.unit) for text in raw[~plain].dropna().unique()}
        numbers = pd.to_numeric(raw.where(plain), errors="coerce").astype("Int64")
        numbers = numbers.where(plain, raw.map(lambda v: readings[v][0] if v in readings else None).astype("Int64"))
        problems = raw.map(lambda v: readings[v][1] if v in readings else None)
        return numbers, problems, raw
    if col.type == "date":
        dates, problems = _parse_dates(raw, convention)
        return dates, problems, raw
    text = raw
    if col.type == "code":
        text = _as_codes(raw, col.code_list)
    elif col.type == "country":
        text = _as_codes(raw, "country").str.upper()  # a name or the template's choice, 'Srbija / Serbia (RS)', too
    elif col.type == "codes":
        text = raw.str.lower()
        several = text.str.contains(r"[;,|]", regex=True).fillna(False).astype(bool)
        text = text.where(~several, _map_distinct(text[several], _canonical_codes)).replace("", None)
        text = _as_codes(text, col.code_list).where(~several, text)  # labels stand only for a single code
    return text.astype("str"), None, raw


def _file_convention(frame, contract: Contract) -> tuple[dict[str, str | None], dict[str, str]]:
    """Per whole-number column, the thousands separator its cells show beyond doubt, and per date column
    the order of day and month its cells show beyond doubt; where they show none, the one the file's other
    columns of the type show; None where nothing (or both separators) shows. A date column whose dates (or,
    where they show none, the file's) show both orders has BOTH_ORDERS, and in the second dict 'a|b', a
    date written day first and one written month first, for the message (as numbers do: mirror them)."""
    import pandas as pd

    def written(values, plain: str):  # the distinct cells other than the plain form (only they show a convention)
        distinct = pd.Series(values.dropna().unique(), dtype=values.dtype)
        return distinct[~distinct.str.fullmatch(plain).fillna(True).astype(bool)]

    conventions = {}
    for kind, plain, shows in (("integer", r"-?[0-9]+", thousands_separators),
                               ("date", r"[0-9]{4}-[0-9]{2}-[0-9]{2}", date_orders)):
        shown = {c.name: shows(written(frame[c.name], plain))
                 for c in contract.columns if c.type == kind and c.name in frame.columns}
        everywhere = {}
        for seen in shown.values():
            everywhere = seen | everywhere  # the first column's example of each kept
        own = {name: seen or everywhere for name, seen in shown.items()}
        conventions |= {name: next(iter(seen)) if len(seen) == 1 else None for name, seen in own.items()}
        if kind == "date":
            both = {name: f"{seen[DAY_FIRST]}|{seen[MONTH_FIRST]}" for name, seen in own.items() if len(seen) == 2}
            conventions |= dict.fromkeys(both, BOTH_ORDERS)
    return conventions, both


def parse_types(frame, contract: Contract, distinct: dict | None = None):
    """A typed copy of the rows, and a finding for each cell that is not of its column's type.
    Columns of codes, numbers and dates repeat a few values: each distinct value is parsed once (the
    factorisation find_personal_identifiers made, in `distinct`, is reused); a column of codes that are
    already as the contract has them is the file's column itself, not a copy."""
    typed, located_findings = _typed(frame, contract, *_file_convention(frame, contract), distinct)
    return typed, [f for _, f in located_findings]


def _typed(frame, contract: Contract, conventions: dict, both_orders: dict, distinct: dict | None = None):
    """parse_types with the file's conventions given: (typed rows, [(index label of the row, finding)]).
    Every cell's outcome depends on that cell and the conventions alone, so the rows of several files with
    the same conventions can be typed together (prepare_many)."""
    import numpy as np
    import pandas as pd

    typed = pd.DataFrame({ROW_KEY: frame[ROW_KEY].astype("int64")}, index=frame.index)
    findings = []
    for col in contract.columns:
        if col.type == "text":
            values, problems, raw = _typed_column(frame[col.name], col)
            findings += [(idx, Finding("formula_injection", column=col.name, row=int(frame.at[idx, ROW_KEY])))
                         for idx in raw.index[raw.str.match(r"^[=+\-@]").fillna(False).astype(bool)]]
        else:
            cells = frame[col.name]
            if distinct and col.name in distinct and len(distinct[col.name][0]) == len(cells):
                codes, uniques = distinct[col.name]
                if (codes == -1).any():  # the empty cell as one more distinct value
                    codes = np.where(codes == -1, len(uniques), codes)
                    uniques = pd.Series(uniques, dtype=cells.dtype).reindex(range(len(uniques) + 1)).array
            else:
                codes, uniques = pd.factorize(cells, use_na_sentinel=False)
            original = pd.Series(uniques, dtype=cells.dtype)
            values, problems, raw = _typed_column(original, col, conventions.get(col.name))
            if values.dtype == cells.dtype and values.equals(original):
                values = cells  # every value as it was written (pandas copies on write, if ever)
            else:
                values = values.take(codes).set_axis(frame.index)
            if problems is not None:  # the cells of the wrong type, with what the finding may show
                wrong = problems.notna().to_numpy(dtype=bool)[codes]
                findings += [(idx, Finding(p.rule, column=col.name, row=int(frame.at[idx, ROW_KEY]), value=p.value,
                                           detail=f"{p.detail}|{both_orders[col.name]}" if p.rule == "date_order_mixed" else p.detail))
                             for idx, p in zip(frame.index[wrong], problems.to_numpy()[codes[wrong]])]
        typed[col.name] = values
    return typed, findings


def _canonical_codes(text: str) -> str:
    import re

    return CODES_SEPARATOR.join(sorted({c.strip() for c in re.split(r"[;,|]+", text) if c.strip()}))


# --- rules across rows ----------------------------------------------------------------------
def check_row_rules(typed, contract: Contract) -> list[Finding]:
    """Rules across rows that the suite cannot express (listed in the suite's meta as checked_in_code)."""
    findings = []
    for rule in contract.row_rules:
        if rule["rule"] != "stage_not_above":
            raise ValueError(f"{contract.dataset}: no check for row rule {rule['rule']!r}")
        totals = typed[rule["sum"]].fillna(0).sum(axis=1)
        stage = typed[rule["stage_column"]]
        for group, rows in typed.groupby(rule["group_by"]).groups.items():
            top = totals[rows][stage[rows] == rule["stage"]].sum()
            limit = totals[rows][stage[rows] == rule["not_above"]].sum()
            if top > limit:
                for idx in rows[(stage[rows] == rule["stage"]).to_numpy()]:
                    findings.append(Finding(rule["rule"], column=rule["stage_column"], row=int(typed.at[idx, ROW_KEY]),
                                            value=f"{int(top)} > {int(limit)}", detail=f"{rule['group_by']} {group}"))
    return findings


# --- one file, and a batch of small files ---------------------------------------------------
@dataclass
class Validation:
    typed: object  # pandas.DataFrame of the contract's columns, parsed; None when the structure failed
    findings: list[Finding]
    gx_result: object = None  # Great Expectations' validation result, when the suite ran
    template_version: int | None = None  # as Prepared
    not_in_file: tuple[str, ...] = ()

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]


@dataclass
class Prepared:
    """A file's rows after the checks before the suite: structure, identifiers, types."""
    typed: object  # None when the columns cannot be typed (one missing or duplicated), or the file is empty
    findings: list[Finding]
    # (row, column) of cells whose type is wrong or that hold an identifier: the suite is not quoted on them
    flagged: frozenset = frozenset()
    cleared: bool = False  # the suite already passed on these rows (clear_in_batches)
    letters: dict = field(default_factory=dict)  # column → its letter in the file (column_letters)
    template_version: int | None = None  # the template version the file was made from (Contract.template_followed)
    not_in_file: tuple[str, ...] = ()  # columns of a later template it lacks, stored as not stated


# Structure findings after which the rows cannot be typed: every other check waits for a corrected file.
UNTYPABLE = {"missing_column", "missing_column_of_later_template", "duplicate_column"}


def prepare(frame, contract: Contract) -> Prepared:
    """Every check before the suite, all reported in one round: a file with a personal identifier or a
    column the template lacks is rejected whole, and its types and row rules are still checked so that the
    team can fix everything at once; the cells holding an identifier are left out of every other finding
    (their value is never quoted)."""
    screened = _screen(frame, contract)
    return screened if isinstance(screened, Prepared) else _typed_alone(screened)


@dataclass
class _Screened:
    """A file's rows past the checks of structure and identifiers, waiting for their types."""
    frame: object
    contract: Contract
    findings: list[Finding]  # structure, then identifiers
    secret: frozenset  # (row, column) of the cells never quoted nor carried on
    letters: dict
    followed: int | None
    not_in_file: tuple[str, ...]
    distinct: dict


def _screen(frame, contract: Contract, identifiers: list[Finding] | None = None) -> Prepared | _Screened:
    """The checks before the types; a Prepared where the rows cannot be typed. `identifiers`: the file's
    find_personal_identifiers, where found already (with no factorisation kept)."""
    letters = column_letters(frame)
    followed = contract.template_followed(frame.columns, frame.attrs.get(DECLARED_TEMPLATE))
    if frame.shape[0] == 0:
        return Prepared(None, [Finding("empty_file", detail="header only")], letters=letters, template_version=followed)
    distinct: dict = {}  # factorised columns, shared by the identifier screen and the types
    if identifiers is None:  # every column of the file, those dropped next included
        identifiers = find_personal_identifiers(frame, distinct)
    frame, ahead = _columns_of_later_quarters(frame, contract)
    structure = check_columns(frame, contract, followed) + ahead
    if any(f.rule in UNTYPABLE for f in structure):
        return Prepared(None, structure + identifiers, letters=letters, template_version=followed)
    not_in_file = columns_not_in_file(frame, contract, followed)
    if not_in_file:  # not stated: empty cells, as a team that had the column and left it empty
        frame = frame.assign(**dict.fromkeys(not_in_file, None))
    # cells holding an identifier or a control character: never quoted, nor carried on to any other rule
    secret = frozenset((f.row, f.column) for f in identifiers + structure
                       if f.rule in ("personal_identifier", "control_character") and f.row)
    return _Screened(frame, contract, structure + identifiers, secret, letters, followed, not_in_file, distinct)


def _typed_alone(screened: _Screened) -> Prepared:
    return _after_types(screened, *parse_types(screened.frame, screened.contract, screened.distinct))


def _after_types(screened: _Screened, typed, type_findings: list[Finding]) -> Prepared:
    """The checks after the types: the row rules, on the rows with the secret cells emptied."""
    secret, contract = screened.secret, screened.contract
    type_findings = [f for f in type_findings if (f.row, f.column) not in secret]
    if secret:  # emptied, so that no rule (a row rule's sum, the suite and its Data Docs) carries them on
        index_of = dict(zip(typed[ROW_KEY], typed.index))
        for column in {c for _, c in secret} & set(contract.column_names):
            typed.loc[[index_of[r] for r, c in secret if c == column], column] = None
    return Prepared(typed, screened.findings + type_findings + check_row_rules(typed, contract),
                    frozenset((f.row, f.column) for f in type_findings) | secret, letters=screened.letters,
                    template_version=screened.followed, not_in_file=screened.not_in_file)


def prepare_many(files: list[tuple[object, Contract]]) -> list[Prepared | Exception]:
    """prepare for each (frame, contract), each file's outcome or the exception preparing it raised. The
    small files of one contract whose cells are written in the same conventions are typed together, in one
    frame: a file's types cost a few milliseconds of pandas' fixed cost per column however few its rows,
    and a quarter brings hundreds of small files. Each file gets what prepare gives it alone (tested)."""
    outcomes: list = [None] * len(files)
    groups: dict[tuple, list[tuple[int, _Screened, tuple]]] = {}
    small = [len(frame) <= FACTORISED_FROM_ROWS for frame, _ in files]  # a larger one keeps its factorisation
    try:
        found = iter(identifiers_of_many([frame for (frame, _), s in zip(files, small) if s]))
    except Exception:  # noqa: BLE001 (each file is then screened alone, meeting its own error)
        small = [False] * len(files)
    for i, (frame, contract) in enumerate(files):
        try:
            screened = _screen(frame, contract, next(found) if small[i] else None)
            if isinstance(screened, Prepared) or screened.distinct:  # a large file's factorisation: typed alone
                outcomes[i] = screened if isinstance(screened, Prepared) else _typed_alone(screened)
                continue
            conventions, both_orders = _file_convention(screened.frame, contract)
            columns = [ROW_KEY, *contract.column_names]
            key = (id(contract), tuple(sorted(conventions.items())), tuple(sorted(both_orders.items())),
                   tuple(screened.frame[c].dtype for c in columns))
            groups.setdefault(key, []).append((i, screened, (conventions, both_orders)))
        except Exception as e:  # noqa: BLE001 (this file's own outcome; the others go on)
            outcomes[i] = e
    for group in groups.values():
        try:
            typed_group = _typed_together([s for _, s, _ in group], *group[0][2])
        except Exception:  # noqa: BLE001 (each file is then typed alone, meeting its own error)
            typed_group = None
        for n, (i, screened, _) in enumerate(group):
            try:
                outcomes[i] = (_after_types(screened, *typed_group[n]) if typed_group is not None
                               else _typed_alone(screened))
            except Exception as e:  # noqa: BLE001
                outcomes[i] = e
    return outcomes


def _typed_together(group: list[_Screened], conventions: dict, both_orders: dict) -> list[tuple[object, list[Finding]]]:
    """(typed rows, type findings) of each file of `group` (one contract, the same conventions), as
    parse_types gives them, from one _typed over all their rows."""
    import numpy as np
    import pandas as pd

    contract = group[0].contract
    columns = [ROW_KEY, *contract.column_names]
    frames = [s.frame[columns] for s in group]
    typed, located_findings = _typed(pd.concat(frames, ignore_index=True), contract, conventions, both_orders)
    starts = np.cumsum([0] + [len(f) for f in frames])
    findings: list[list[Finding]] = [[] for _ in group]
    for position, finding in located_findings:  # in column order, then row order, as for each file alone
        findings[int(np.searchsorted(starts, position, side="right")) - 1].append(finding)
    return [(typed.iloc[starts[n]:starts[n + 1]].set_axis(frame.index), findings[n]) for n, frame in enumerate(frames)]


def finish(prepared: Prepared, contract: Contract, quarter: Quarter, runner: SuiteRunner) -> Validation:
    """The suite on the prepared rows. A file that is rejected (by its types, a row rule or the suite)
    gets the whole suite's row-level result, for its findings; a file that passes the
    cheap pass needs nothing more; one that fails only soft rules has those run again row by row."""
    typed, findings = prepared.typed, located(prepared.findings, prepared.letters)
    template = {"template_version": prepared.template_version, "not_in_file": prepared.not_in_file}
    if typed is None:
        return Validation(None, findings, **template)
    gx_result, gx_findings = None, []
    rejected = any(f.severity == ERROR for f in findings)
    failed = [] if prepared.cleared or rejected else runner.failing(contract.suite_name, typed, quarter)
    if rejected or any(severity != WARNING for _, severity in failed):
        gx_result = runner.run(contract.suite_name, typed, quarter)
        gx_findings = findings_from_gx(gx_result, contract)
    elif failed:
        gx_findings = findings_from_gx(runner.run(contract.suite_name, typed, quarter, only=[i for i, _ in failed]), contract)
    gx_findings = located([f for f in gx_findings if (f.row, f.column) not in prepared.flagged], prepared.letters)
    findings = sorted(findings + gx_findings, key=lambda f: (f.severity != ERROR, f.row or 0, f.column or "", f.rule))
    return Validation(typed, findings, gx_result, **template)


ACROSS_ROWS = {"expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"}


def clear_in_batches(runner: SuiteRunner, suite_name: str, quarter: Quarter, prepared: list[Prepared]) -> None:
    """Mark `cleared` every prepared file (of one contract version, whose suite is `suite_name`, and quarter) whose rows pass the suite, with one
    cheap pass of the suite over the rows of all of them together: every expectation of the suites holds
    row by row, or over a column or the table as a whole, so a pass over all the rows is a pass for each
    file. A group that fails is halved until the files that fail stand alone; those are validated by
    themselves (finish), as every file used to be. GX's fixed cost per run is then paid once per batch."""
    import pandas as pd

    expectations = load_suite(suite_name)["expectations"]

    def visit(group: list[Prepared]) -> None:
        if len(group) < 2:
            return
        failed = runner.failing(suite_name, pd.concat([p.typed for p in group], ignore_index=True), quarter)
        if all(expectations[i]["type"] in ACROSS_ROWS for i, _ in failed):
            # Values unique within each file may repeat across files (every criminal_justice file has
            # article 388 at each stage): those expectations are run on the files' rows kept apart.
            only = sorted(i for i, _ in failed)
            if only:
                apart(group, only, sorted({c for i in only for c in compared_columns(expectations[i]["kwargs"])}))
            else:
                for p in group:
                    p.cleared = True
            return
        middle = len(group) // 2
        visit(group[:middle])
        visit(group[middle:])

    def apart(group: list[Prepared], only: list[int], columns: list[str]) -> None:
        """Clear the files of `group` whose rows pass the expectations at `only` (values unique within the
        file) by themselves: run once over all the files' rows with each file's values of `columns` made
        its own (_own_values), so that rows of two files never match; a group that fails is halved."""
        if len(group) == 1:
            group[0].cleared = not runner.failing(suite_name, group[0].typed, quarter, only=only)
            return
        frames = [p.typed.assign(**{c: _own_values(p.typed[c], n) for c in columns}) for n, p in enumerate(group)]
        if not runner.failing(suite_name, pd.concat(frames, ignore_index=True), quarter, only=only):
            for p in group:
                p.cleared = True
            return
        middle = len(group) // 2
        apart(group[:middle], only, columns)
        apart(group[middle:], only, columns)

    visit([p for p in prepared if p.typed is not None and not any(f.severity == ERROR for f in p.findings)])


def _own_values(values, file_number: int):
    """Each value, empty ones left empty, as text made the file's own: two cells are equal here exactly when
    they are in the same file and equal there (the file's number and a separator no number holds)."""
    return values.map(lambda v: f"{file_number}\x1f{v}", na_action="ignore").astype(object)


def validate(frame, contract: Contract, quarter: Quarter, runner: SuiteRunner) -> Validation:
    return finish(prepare(frame, contract), contract, quarter, runner)

