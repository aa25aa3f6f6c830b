"""Validating a submission against its contract.

Order: the columns of the template (missing, unknown, duplicated); personal identifiers in any cell;
types (whole numbers, dates) parsed in plain code; then the contract's expectation suite in Great
Expectations on the typed rows, keyed by each row's `source_row`. Each failure becomes a Finding that
names the row, the column and the rule, and quotes the value only where it is a code, number or date.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path

import yaml

from thb_reporting.contracts import CODES_SEPARATOR, Contract
from thb_reporting.contracts import load as load_contract
from thb_reporting.privacy import identifier_kind, shown, suspect_cells
from thb_reporting.quarters import Quarter
from thb_reporting.submission_files import READING_FINDINGS, column_position, shown_header
from thb_reporting.suites import ROW_KEY, load_suite, suite_names
from thb_reporting.written_forms import Problem, read_date, read_whole_number, thousands_separators

log = logging.getLogger(__name__)
ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str = ERROR
    column: str | None = None
    row: int | None = None
    value: str | None = None  # only codes, numbers and dates, never text that could describe a person
    detail: str | None = None
    letter: str | None = field(default=None, compare=False)  # the column's letter in the team's file (column_letters)

    def __post_init__(self):
        # Screened here, so that no caller can forget: a column may be a header the team wrote, a value any
        # cell, a detail a sentence quoting the file's name or a cell (privacy.shown).
        object.__setattr__(self, "column", shown(self.column))
        object.__setattr__(self, "value", shown(self.value))
        object.__setattr__(self, "detail", shown(self.detail, kind="text"))

    def as_dict(self) -> dict:
        return asdict(self)


@cache
def rule_texts() -> dict:
    return yaml.safe_load((Path(__file__).parent / "rules.yaml").read_text(encoding="utf-8"))


def explain(finding: Finding, lang: str = "en", contract: Contract | None = None, quarter=None) -> tuple[str, str]:
    """(what is wrong, how to fix it) in words for the team, in Serbian ('sr') or English ('en')."""
    texts = rule_texts().get(finding.rule, {"en": finding.rule, "sr": finding.rule, "fix_en": "", "fix_sr": ""})
    fields = {"column": column_as_seen(finding, contract), "value": finding.value or "", "detail": _detail_text(finding, lang),
              "quarter": str(quarter or finding.detail or ""), "allowed": "", "min": "", "max": "", "measure": ""}
    if contract and contract.history_measure:
        fields["measure"] = contract.history_measure["label"][lang]
    if contract and finding.column in contract.column_names:
        col = contract.column(finding.column)
        fields.update(allowed=_allowed(col, lang), min=col.min if col.min is not None else "",
                      max=col.max if col.max is not None else "")
    if contract and finding.detail and finding.rule in DETAIL_IN_CODES:
        fields["detail"] = _in_words(finding.detail, contract, lang)
    return texts[lang].format(**fields), texts[f"fix_{lang}"].format(**fields)


def _detail_text(finding: Finding, lang: str) -> str:
    """The finding's detail in the team's language: two readings ('350000|350') as '350000 ili 350' or
    '350000 or 350', with a decimal comma in Serbian; the likely date of a two-digit year in brackets."""
    if not finding.detail:
        return ""
    if finding.rule in ("ambiguous_number", "ambiguous_date"):
        readings = finding.detail.split("|")
        if lang == "sr" and finding.rule == "ambiguous_number":
            readings = [r.replace(".", ",") for r in readings]
        return (" ili " if lang == "sr" else " or ").join(readings)
    if finding.rule == "two_digit_year":
        return f" ({'verovatno' if lang == 'sr' else 'probably'} {finding.detail})"
    return finding.detail


def column_as_seen(finding: Finding, contract: Contract | None) -> str:
    """The finding's column as the team finds it in its spreadsheet: the letter of the column in its file
    (when known) and the header's words, e.g. 'H (Država eksploatacije / Country of exploitation)'."""
    from thb_reporting.templates import column_label

    if not finding.column:
        return ""
    words = (column_label(contract.column(finding.column)) if contract and finding.column in contract.column_names
             else finding.column)
    return f"{finding.letter} ({words})" if finding.letter else words


def column_letters(frame) -> dict[str, str]:
    """Column name → its letter in the file as read (A for the first column; 'C, F' for a name twice)."""
    from openpyxl.utils import get_column_letter

    letters: dict[str, str] = {}
    for i, name in enumerate((c for c in frame.columns if c != ROW_KEY), start=1):
        letters[name] = f"{letters[name]}, {get_column_letter(i)}" if name in letters else get_column_letter(i)
    return letters


def located(findings: list[Finding], letters: dict[str, str]) -> list[Finding]:
    """The findings with the letter of their column in the file (column_letters)."""
    return [replace(f, letter=letters[f.column]) if f.column in letters else f for f in findings]


def archived_column_letters(file_name: str, archive_path: str | None) -> dict[str, str]:
    """column_letters of a submission's file, read again from the archive: for messages composed from the
    ledger after the file was processed. {} when the file cannot be read or named."""
    from thb_reporting.storage import storage_path
    from thb_reporting.submission_files import parse_file_name, read_submission

    try:
        return column_letters(read_submission(storage_path(archive_path).read_bytes(), parse_file_name(file_name)))
    except Exception:  # noqa: BLE001 (the letters help the team; the message goes out without them)
        log.debug("the columns of %s could not be read again from %s", file_name, archive_path, exc_info=True)
        return {}


# Rules whose detail names columns and codes ('article 388', 'cross_border = yes', 'article, stage'):
# messages show them in the team's words.
DETAIL_IN_CODES = {"required_when", "stage_not_above", "duplicate_key"}


def _code_label(column, code: str, lang: str) -> str:
    from thb_reporting.reference import code_lists
    from thb_reporting.templates import code_list_of

    for c in code_lists().get(code_list_of(column) or "", ()):
        if c.code == code:
            return c.label_en if lang == "en" else c.label_sr
    return code


def _allowed(column, lang: str) -> str:
    """The codes a column allows, each with its label in the message's language: 'Ženski (female), …'."""
    shown = [f"{_code_label(column, code, lang)} ({code})" for code in column.allowed_codes[:12]]
    return ", ".join(shown) + (" …" if len(column.allowed_codes) > 12 else "")


def _in_words(detail: str, contract: Contract, lang: str) -> str:
    """A detail of DETAIL_IN_CODES with the columns' labels and the codes' labels for their names."""
    import re

    m = re.fullmatch(r"(\w+)( = | )(\S+)", detail)
    if m and m.group(1) in contract.column_names:
        col = contract.column(m.group(1))
        values = "/".join(_code_label(col, code, lang) for code in m.group(3).split("/"))
        return f"{col.label[lang]}{' = ' if m.group(2) == ' = ' else ' – '}{values}"
    names = [n.strip() for n in detail.split(",")]
    if all(n in contract.column_names for n in names):
        return ", ".join(contract.column(n).label[lang] for n in names)
    return detail


def describe(finding: Finding, lang: str = "en", contract: Contract | None = None, quarter=None) -> str:
    """The finding in one sentence for the team, with its row and how to fix it."""
    where = f"row {finding.row}: " if lang == "en" and finding.row else (f"red {finding.row}: " if finding.row else "")
    what, fix = explain(finding, lang, contract, quarter)
    return f"{where}{what} {fix}"


# --- structure and identifiers ----------------------------------------------------------------
def check_columns(frame, contract: Contract) -> list[Finding]:
    """The template's columns, and the findings made while reading the file (control characters, an
    identifier outside the data rows). A header not in the template is named only where it may be shown."""
    seen, findings = set(), list(frame.attrs.get(READING_FINDINGS, ()))
    for position, col in enumerate((c for c in frame.columns if c != ROW_KEY), start=1):
        if col in seen:
            findings.append(Finding("duplicate_column", column=col if col in contract.column_names else shown_header(col, position)))
        elif col not in contract.column_names:
            findings.append(Finding("unknown_column", column=shown_header(col, position)))
        seen.add(col)
    findings += [Finding("missing_column", column=c) for c in contract.column_names if c not in frame.columns]
    return findings


def find_personal_identifiers(frame) -> list[Finding]:
    """Every heading and every cell holding a JMBG with a valid check digit, an e-mail address or a phone
    number (privacy.identifier_kind). The value is never kept in the finding; a heading that holds one is
    named by its column letter."""
    import numpy as np
    import pandas as pd

    names = [c for c in frame.columns if c != ROW_KEY]
    findings = [Finding("personal_identifier_in_header", column=column_position(i), row=1, detail=kind)
                for i, name in enumerate(names, start=1) if (kind := identifier_kind(str(name)))]
    for position, col in enumerate(frame.columns):
        if col == ROW_KEY:
            continue
        shown = shown_header(col, names.index(col) + 1)
        values = frame.iloc[:, position]
        if len(values) > 10_000 and values.iloc[:1_000].nunique() <= 100:
            # a column that repeats a few values (codes, dates, numbers): each distinct value is screened once
            codes, distinct = pd.factorize(values)
            hit = np.append(suspect_cells(pd.Series(distinct, dtype=values.dtype)), False)  # code -1: empty
            suspects = values[hit[codes]]
        else:
            values = values.dropna()
            suspects = values[suspect_cells(values)]
        kinds = {text: identifier_kind(text) for text in suspects.unique()}  # a repeated value examined once
        for idx, text in suspects.items():
            kind = kinds[text]
            if kind:
                findings.append(Finding("personal_identifier", column=shown, row=int(frame.at[idx, ROW_KEY]),
                                        detail=kind))
    return findings


# --- types ----------------------------------------------------------------------------------
def _parse_dates(raw):
    """(dates, the Problem of each cell that is no date or None): the written forms of written_forms.read_date.
    ISO dates, most of a column, are parsed together; the other forms one by one."""
    import pandas as pd

    iso = raw.str.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}").fillna(False).astype(bool)
    readings = {text: read_date(text) for text in raw[~iso].dropna().unique()}
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
    from thb_reporting.reference import code_aliases, codes, to_latin

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
        dates, problems = _parse_dates(raw)
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


def _file_convention(frame, contract: Contract) -> dict[str, str | None]:
    """Per whole-number column, the thousands separator its cells show beyond doubt; where they show
    none, the one the file's other whole-number columns show; None where nothing (or both) shows."""
    import pandas as pd

    def written(values):  # the distinct cells that are more than plain digits (only they show a convention)
        distinct = pd.Series(values.dropna().unique(), dtype=values.dtype)
        return distinct[~distinct.str.fullmatch(r"-?[0-9]+").fillna(True).astype(bool)]

    shown = {c.name: thousands_separators(written(frame[c.name]))
             for c in contract.columns if c.type == "integer" and c.name in frame.columns}
    everywhere = set().union(*shown.values()) if shown else set()
    own = {name: seps or everywhere for name, seps in shown.items()}
    return {name: next(iter(seps)) if len(seps) == 1 else None for name, seps in own.items()}


def parse_types(frame, contract: Contract):
    """A typed copy of the rows, and a finding for each cell that is not of its column's type.
    Columns of codes, numbers and dates repeat a few values: each distinct value is parsed once."""
    import pandas as pd

    typed = pd.DataFrame({ROW_KEY: frame[ROW_KEY].astype("int64")}, index=frame.index)
    findings = []
    conventions = _file_convention(frame, contract)
    for col in contract.columns:
        if col.type == "text":
            values, problems, raw = _typed_column(frame[col.name], col)
            findings += [Finding("formula_injection", column=col.name, row=int(frame.at[idx, ROW_KEY]))
                         for idx in raw.index[raw.str.match(r"^[=+\-@]").fillna(False).astype(bool)]]
        else:
            codes, distinct = pd.factorize(frame[col.name], use_na_sentinel=False)
            values, problems, raw = _typed_column(pd.Series(distinct, dtype=frame[col.name].dtype), col,
                                                  conventions.get(col.name))
            values = values.take(codes).set_axis(frame.index)
            if problems is not None:  # the cells of the wrong type, with what the finding may show
                wrong = problems.notna().to_numpy(dtype=bool)[codes]
                findings += [Finding(p.rule, column=col.name, row=int(frame.at[idx, ROW_KEY]), value=p.value, detail=p.detail)
                             for idx, p in zip(frame.index[wrong], problems.to_numpy()[codes[wrong]])]
        typed[col.name] = values
    return typed, findings


def _canonical_codes(text: str) -> str:
    import re

    return CODES_SEPARATOR.join(sorted({c.strip() for c in re.split(r"[;,|]+", text) if c.strip()}))


# --- Great Expectations ---------------------------------------------------------------------
def import_gx_in_background() -> None:
    """Start importing Great Expectations (2-3 s of a task's time, once per process) on a thread, so that
    it overlaps reading and typing the first files, mostly work in pyarrow outside the interpreter lock.
    SuiteRunner then finds it imported, or waits for the import to finish (Python's import lock); if the
    import fails here, SuiteRunner's own import meets the error again and raises it."""
    import sys
    import threading

    if "great_expectations" not in sys.modules:
        threading.Thread(target=_import_gx, name="import-great-expectations", daemon=True).start()


def _import_gx() -> None:
    import importlib

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    try:
        importlib.import_module("great_expectations")
    except Exception:  # noqa: BLE001 (raised again where GX is used)
        log.debug("importing great_expectations in the background failed", exc_info=True)


class SuiteRunner:
    """One ephemeral GX context with the committed suites, reused for every file of a batch.

    The suite is the validator of record. A file is first checked in one cheap pass (result_format
    BOOLEAN_ONLY, on a view of its rows in the dtypes GX compares vectorised); only expectations that
    fail there are run again with the row-level result (COMPLETE) from which findings are made, so a
    file's findings are exactly those of a COMPLETE run of the whole suite."""

    def __init__(self, datasets: tuple[str, ...]):
        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        import great_expectations as gx
        from great_expectations.core.expectation_suite import ExpectationSuite

        self._gx, self._suite_class = gx, ExpectationSuite
        self._context = gx.get_context(mode="ephemeral")
        self._context.variables.progress_bars = {"globally": False}
        source = self._context.data_sources.add_pandas("submissions")
        self._batches, self._definitions, self._subsets = {}, {}, {}
        for dataset in (name for d in datasets for name in suite_names(d)):  # a suite per contract version
            batch = source.add_dataframe_asset(dataset).add_batch_definition_whole_dataframe("submission")
            suite = self._context.suites.add(ExpectationSuite(**load_suite(dataset)))
            self._batches[dataset] = batch
            self._definitions[dataset] = self._context.validation_definitions.add(
                gx.ValidationDefinition(name=dataset, data=batch, suite=suite)
            )

    @staticmethod
    def _parameters(quarter: Quarter) -> dict:
        import pandas as pd

        return {"quarter_start": pd.Timestamp(quarter.start), "quarter_end": pd.Timestamp(quarter.end)}

    def run(self, dataset: str, typed, quarter: Quarter, only: list[int] | None = None):
        """The suite (or only the expectations at the positions `only`), with row-level results.
        Expectations run on the columns they read (and the row key) only, when they all name theirs."""
        definition = self._definitions[dataset] if only is None else self._subset(dataset, tuple(only))
        if only is not None:
            reads = _columns_read(dataset)
            if all(reads[i] is not None for i in only):
                names = set().union(*(reads[i] for i in only)) | {ROW_KEY}
                typed = typed[[c for c in typed.columns if c in names]]
        return definition.run(
            batch_parameters={"dataframe": typed}, expectation_parameters=self._parameters(quarter),
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [ROW_KEY]},
        )

    def failing(self, dataset: str, typed, quarter: Quarter, only: list[int] | None = None) -> list[tuple[int, str]]:
        """(position in the suite, severity) of every expectation (of those at `only`) the rows fail,
        in one cheap pass (a few, on narrow frames, for a large file: _narrow_passes)."""
        every = range(len(load_suite(dataset)["expectations"]))
        wanted = tuple(every if only is None else only)
        if len(typed) < NARROW_FROM_ROWS:
            passes = [(wanted, _gx_view(typed))]
        else:
            passes = _narrow_passes(dataset, wanted, _gx_view(typed, categorical=_code_columns(dataset)))
        positions = _positions(dataset)
        failed = []
        for group, frame in passes:
            definition = self._definitions[dataset] if group == tuple(every) else self._subset(dataset, group)
            result = definition.run(
                batch_parameters={"dataframe": frame}, expectation_parameters=self._parameters(quarter),
                result_format="BOOLEAN_ONLY",
            )
            for res in result.results:
                if not res.success:
                    config = res.expectation_config
                    severity = str(getattr(config.severity, "value", config.severity))
                    failed.append((positions[_expectation_key(config.type, config.meta)], severity))
        return sorted(failed)

    def _subset(self, dataset: str, only: tuple[int, ...]):
        if (dataset, only) not in self._subsets:
            suite = load_suite(dataset)
            name = f"{dataset}:{','.join(map(str, only))}"
            sub = self._context.suites.add(self._suite_class(
                name=name, expectations=[suite["expectations"][i] for i in only], meta=suite.get("meta", {})))
            self._subsets[(dataset, only)] = self._context.validation_definitions.add(
                self._gx.ValidationDefinition(name=name, data=self._batches[dataset], suite=sub))
        return self._subsets[(dataset, only)]


def _expectation_key(type_: str, meta) -> str:
    import json

    return json.dumps([type_, dict(meta or {})], sort_keys=True)


@cache
def _positions(dataset: str) -> dict[str, int]:
    """Each expectation of the committed suite, by its type and meta (rule and column), → its position."""
    expectations = load_suite(dataset)["expectations"]
    positions = {_expectation_key(e["type"], e.get("meta")): i for i, e in enumerate(expectations)}
    if len(positions) != len(expectations):
        raise ValueError(f"expectations/{dataset}.json: two expectations share a type, rule and column")
    return positions


# From this many rows a file's cheap pass is split (_narrow_passes): below it GX's fixed cost per run
# (0.1-0.3 s) outweighs what the narrow frames save.
NARROW_FROM_ROWS = 50_000
# Expectations whose outcome depends on the column names alone, not on any row.
SCHEMA_ONLY = {"expect_table_columns_to_match_set"}


@cache
def _columns_read(dataset: str) -> tuple[frozenset | None, ...]:
    """For each expectation of the suite, the columns it reads (its column or columns, and every column
    its row condition names); None for an expectation of the whole table."""
    import re

    names = [c.name for c in load_contract(dataset).columns] + [ROW_KEY]
    reads = []
    for exp in load_suite(dataset)["expectations"]:
        kwargs = exp["kwargs"]
        cols = {kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs}
        cols.update(kwargs.get("column_list") or [])
        condition = kwargs.get("row_condition")
        if condition:  # every column named anywhere in it (naming one too many costs nothing)
            cols.update(n for n in names if re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", str(condition)))
        reads.append(frozenset(cols) if cols else None)
    return tuple(reads)


def _narrow_passes(dataset: str, wanted: tuple[int, ...], view) -> list[tuple[tuple[int, ...], object]]:
    """The cheap pass of a large file as a few GX runs, each over only the columns its expectations read.

    GX's pandas engine copies the whole frame for every expectation (dropping the rows where the column
    is empty, or those outside a row condition) and hashes it once per run: with the code columns as
    categoricals such copies are cheap, and the columns of free text (references) are copied only for
    their own expectations. Groups: the expectations that read only cheap columns, together, on those
    columns; each other set of columns, with its expectations, on just these columns; expectations of
    the column names alone (SCHEMA_ONLY) on the frame's header without its rows; any other expectation
    of the whole table on the whole view. Each expectation's outcome is the one it has on the whole view."""
    import pandas as pd

    expectations = load_suite(dataset)["expectations"]
    reads = _columns_read(dataset)

    def cheap(name) -> bool:
        dtype = view[name].dtype
        return isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_numeric_dtype(dtype) \
            or pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)

    groups: dict[object, list[int]] = {}
    for i in wanted:
        cols = reads[i]
        if cols is None:
            key = "header" if expectations[i]["type"] in SCHEMA_ONLY else "table"
        elif not cols <= set(view.columns):
            key = "table"  # a column the file lacks: GX reports it as on the whole view
        elif all(cheap(c) for c in cols):
            key = "cheap"
        else:
            key = cols
        groups.setdefault(key, []).append(i)
    passes = []
    for key, group in groups.items():
        if key == "header":
            frame = view.iloc[:0]
        elif key == "table":
            frame = view
        else:
            cols = set().union(*(reads[i] for i in group))
            frame = view[[c for c in view.columns if c in cols]]
        passes.append((tuple(group), frame))
    return passes


@cache
def _code_columns(dataset: str) -> frozenset:
    return frozenset(c.name for c in load_contract(dataset).columns if c.type in ("code", "country", "codes"))


def _gx_view(typed, categorical: frozenset = frozenset()):
    """The same rows in the dtypes GX compares vectorised (it compares nullable integers and dates in
    microseconds value by value in Python): whole numbers as float64 where all are exact in it, dates in
    nanoseconds where all fit; the columns named in `categorical` (codes: a few distinct values) as categoricals,
    which GX's copies of the frame copy as small integers. Values, and so every expectation's outcome,
    are unchanged."""
    import pandas as pd

    changed = {}
    for name, values in typed.items():
        if name in categorical and values.dtype == "str":
            changed[name] = values.astype("category")
        elif isinstance(values.dtype, pd.Int64Dtype):
            if not (values.abs() > 2**53).any():
                changed[name] = values.astype("float64")
        elif pd.api.types.is_datetime64_dtype(values.dtype) and str(values.dtype) != "datetime64[ns]":
            try:
                changed[name] = values.astype("datetime64[ns]")
            except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime):
                pass
    return typed.assign(**changed) if changed else typed


def _missing(value) -> bool:
    import pandas as pd

    return value is None or bool(pd.isna(value))


def findings_from_gx(result, contract: Contract) -> list[Finding]:
    findings = []
    for res in result.results:
        if res.success:
            continue
        config = res.expectation_config
        if res.exception_info and res.exception_info.get("raised_exception"):
            raise RuntimeError(f"expectation {config.type} on {config.kwargs.get('column')} could not run: "
                               f"{res.exception_info.get('exception_message')}")
        meta = config.meta or {}
        rule, column = meta.get("rule", config.type), meta.get("column")
        severity = WARNING if str(getattr(config.severity, "value", config.severity)) == "warning" else ERROR
        rows = res.result.get("unexpected_index_list") or []
        if not rows:
            findings.append(Finding(rule, severity, column=column, detail=str(res.result.get("observed_value", ""))[:200]))
            continue
        echo = column is not None and contract.column(column).echo_values
        detail = ", ".join(meta["columns"]) if "columns" in meta else None
        if rule == "required_when":
            when = contract.column(column).required_when
            detail = f"{when['column']} = {'/'.join(when['in'])}"
        for entry in rows:
            value = entry.get(column)
            value = None if (not echo or _missing(value)) else str(value)[:40]
            if value and rule == "within_quarter":
                value = value[:10]
            findings.append(Finding(rule, severity, column=column, row=int(entry[ROW_KEY]), value=value, detail=detail))
    return findings


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


@dataclass
class Outcome:
    typed: object  # pandas.DataFrame of the contract's columns, parsed; None when the structure failed
    findings: list[Finding]
    gx_result: object = None  # Great Expectations' validation result, when the suite ran

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


# Structure findings after which the rows cannot be typed: every other check waits for a corrected file.
UNTYPABLE = {"missing_column", "duplicate_column"}


def prepare(frame, contract: Contract) -> Prepared:
    """Every check before the suite, all reported in one round: a file with a personal identifier or a
    column the template lacks is rejected whole, and its types and row rules are still checked so that the
    team can fix everything at once; the cells holding an identifier are left out of every other finding
    (their value is never quoted)."""
    letters = column_letters(frame)
    if frame.shape[0] == 0:
        return Prepared(None, [Finding("empty_file", detail="header only")], letters=letters)
    structure = check_columns(frame, contract)
    identifiers = find_personal_identifiers(frame)
    if any(f.rule in UNTYPABLE for f in structure):
        return Prepared(None, structure + identifiers, letters=letters)
    # cells holding an identifier or a control character: never quoted, nor carried on to any other rule
    secret = frozenset((f.row, f.column) for f in identifiers + structure
                       if f.rule in ("personal_identifier", "control_character") and f.row)
    typed, type_findings = parse_types(frame, contract)
    type_findings = [f for f in type_findings if (f.row, f.column) not in secret]
    if secret:  # emptied, so that no rule (a row rule's sum, the suite and its Data Docs) carries them on
        index_of = dict(zip(typed[ROW_KEY], typed.index))
        for column in {c for _, c in secret} & set(contract.column_names):
            typed.loc[[index_of[r] for r, c in secret if c == column], column] = None
    return Prepared(typed, structure + identifiers + type_findings + check_row_rules(typed, contract),
                    frozenset((f.row, f.column) for f in type_findings) | secret, letters=letters)


def finish(prepared: Prepared, contract: Contract, quarter: Quarter, runner: SuiteRunner) -> Outcome:
    """The suite on the prepared rows. A file that is rejected (by its types, a row rule or the suite)
    gets the whole suite's row-level result, for its findings; a file that passes the
    cheap pass needs nothing more; one that fails only soft rules has those run again row by row."""
    typed, findings = prepared.typed, located(prepared.findings, prepared.letters)
    if typed is None:
        return Outcome(None, findings)
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
    return Outcome(typed, findings, gx_result)


ACROSS_ROWS = {"expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"}


def clear_in_batches(runner: SuiteRunner, dataset: str, quarter: Quarter, prepared: list[Prepared]) -> None:
    """Mark `cleared` every prepared file (of one dataset and quarter) whose rows pass the suite, with one
    cheap pass of the suite over the rows of all of them together: every expectation of the suites holds
    row by row, or over a column or the table as a whole, so a pass over all the rows is a pass for each
    file. A group that fails is halved until the files that fail stand alone; those are validated by
    themselves (finish), as every file used to be. GX's fixed cost per run is then paid once per batch."""
    import pandas as pd

    expectations = load_suite(dataset)["expectations"]

    def visit(group: list[Prepared]) -> None:
        if len(group) < 2:
            return
        failed = runner.failing(dataset, pd.concat([p.typed for p in group], ignore_index=True), quarter)
        if all(expectations[i]["type"] in ACROSS_ROWS for i, _ in failed):
            # Values unique within each file may repeat across files (every criminal_justice file has
            # article 388 at each stage): those expectations alone are run on each file by itself.
            only = sorted(i for i, _ in failed)
            for p in group:
                p.cleared = not only or not runner.failing(dataset, p.typed, quarter, only=only)
            return
        middle = len(group) // 2
        visit(group[:middle])
        visit(group[middle:])

    visit([p for p in prepared if p.typed is not None and not any(f.severity == ERROR for f in p.findings)])


def validate(frame, contract: Contract, quarter: Quarter, runner: SuiteRunner) -> Outcome:
    return finish(prepare(frame, contract), contract, quarter, runner)

