"""Running a contract's expectation suite in Great Expectations, fast, and turning its result into findings.

The suite is the validator of record; this module only makes running it cheap: GX imported on a thread
while the first files are read, one ephemeral context reused for every file, a cheap pass (BOOLEAN_ONLY)
on a view of the rows in the dtypes GX compares vectorised, split into narrow passes for a large file, and
the row-level result (COMPLETE) only for the expectations that failed there.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache

from thb_reporting.core.contracts import Contract
from thb_reporting.core.contracts import load as load_contract
from thb_reporting.core.findings import ERROR, WARNING, Finding
from thb_reporting.core.quarters import Quarter
from thb_reporting.core.contracts import ROW_KEY
from thb_reporting.validation.suites import load_suite, suite_names

log = logging.getLogger(__name__)


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
        from great_expectations.execution_engine import pandas_execution_engine

        # GX fingerprints every pandas batch under this many bytes (a hash of every cell, for its batch
        # markers) on each run: a fifth of a 1,000,000-row file's validation (docs/performance.md). Nothing
        # of ours reads the fingerprint, and no result depends on it; 0 leaves batches unhashed
        pandas_execution_engine.HASH_THRESHOLD = 0
        self._gx, self._suite_class = gx, ExpectationSuite
        self._context = gx.get_context(mode="ephemeral")
        self._context.variables.progress_bars = {"globally": False}
        source = self._context.data_sources.add_pandas("submissions")
        self._batches, self._definitions, self._subsets = {}, {}, {}
        self._kept = None  # row-level results the last cheap pass already has (failing → run)
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
        """The suite (or only the expectations at the positions `only`), with row-level results (`.results`).
        Expectations run on the columns they read (and the row key) only, when they all name theirs. The
        row-level results the cheap pass of these very rows (`failing`) already made are not made again."""
        kept, self._kept = self._kept, None
        if only is not None and kept and kept[0]() is typed and kept[1:3] == (dataset, quarter) \
                and set(only) <= kept[3].keys():
            return KeptResults([kept[3][i] for i in only])
        definition = self._definitions[dataset] if only is None else self._subset(dataset, tuple(only))
        if only is not None:
            reads = _columns_read(dataset)
            if all(reads[i] is not None for i in only):
                names = set().union(*(reads[i] for i in only)) | {ROW_KEY}
                typed = typed[[c for c in typed.columns if c in names]]
        return definition.run(
            batch_parameters={"dataframe": typed}, expectation_parameters=self._parameters(quarter),
            result_format=ROW_LEVEL,
        )

    def failing(self, dataset: str, typed, quarter: Quarter, only: list[int] | None = None) -> list[tuple[int, str]]:
        """(position in the suite, severity) of every expectation (of those at `only`) the rows fail,
        in one cheap pass (a few, on narrow frames, for a large file: _narrow_passes)."""
        every = range(len(load_suite(dataset)["expectations"]))
        wanted = tuple(every if only is None else only)
        import weakref

        if len(typed) < NARROW_FROM_ROWS:
            passes = [(wanted, _gx_view(typed), False)]
        else:
            passes = _narrow_passes(dataset, wanted, typed)
        positions = _positions(dataset)
        failed, kept = [], {}
        for group, frame, row_level in passes:
            definition = self._definitions[dataset] if group == tuple(every) else self._subset(dataset, group)
            result = definition.run(
                batch_parameters={"dataframe": frame}, expectation_parameters=self._parameters(quarter),
                result_format=ROW_LEVEL if row_level else "BOOLEAN_ONLY",
            )
            for res in result.results:
                if not res.success:
                    config = res.expectation_config
                    severity = str(getattr(config.severity, "value", config.severity))
                    failed.append((positions[_expectation_key(config.type, config.meta)], severity))
                    if row_level and severity == WARNING:
                        kept[failed[-1][0]] = res
        self._kept = (weakref.ref(typed), dataset, quarter, kept) if kept else None
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


@dataclass
class KeptResults:
    """Row-level results of expectations kept from a cheap pass, shaped as GX's validation result."""
    results: list


ROW_LEVEL = {"result_format": "COMPLETE", "unexpected_index_column_names": [ROW_KEY]}


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


def compared_columns(kwargs: dict) -> list[str]:
    """The columns an expectation's values come from (its column or columns), not those its row condition
    names: an expectation across rows compares these."""
    return [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs] + list(kwargs.get("column_list") or [])


@cache
def _columns_read(dataset: str) -> tuple[frozenset | None, ...]:
    """For each expectation of the suite, the columns it reads (its column or columns, and every column
    its row condition names); None for an expectation of the whole table."""
    import re

    names = [c.name for c in load_contract(dataset).columns] + [ROW_KEY]
    reads = []
    for exp in load_suite(dataset)["expectations"]:
        kwargs = exp["kwargs"]
        cols = set(compared_columns(kwargs))
        condition = kwargs.get("row_condition")
        if condition:  # every column named anywhere in it (naming one too many costs nothing)
            cols.update(n for n in names if re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", str(condition)))
        reads.append(frozenset(cols) if cols else None)
    return tuple(reads)


def _narrow_passes(dataset: str, wanted: tuple[int, ...], typed) -> list[tuple[tuple[int, ...], object, bool]]:
    """The cheap pass of a large file as a few GX runs, each over only the columns its expectations read.

    GX's pandas engine copies the whole frame for every expectation (dropping the rows where the column
    is empty, or those outside a row condition) and hashes it once per run. Groups: the expectations that
    read only columns of codes, numbers and dates and hold row by row (ROW_BY_ROW), together, on the
    distinct rows of the columns they read (_distinct_rows: a few hundred rows instead of a million);
    each other set of columns (free text such as references, uniqueness), with its expectations, on just
    these columns, codes as categoricals; expectations of the column names alone (SCHEMA_ONLY) on the
    frame's header without its rows; any other expectation of the whole table on the whole view. Each
    expectation's outcome is the one it has on the whole view. A set of columns with a soft rule (a
    warning, which does not reject the file) runs with row-level results on the rows as typed, with the
    row key, as `run` would run it: a file that fails only soft rules then needs no second run."""
    import pandas as pd

    expectations = load_suite(dataset)["expectations"]
    reads = _columns_read(dataset)
    codes = _code_columns(dataset)

    def cheap(name) -> bool:
        dtype = typed[name].dtype
        return (name in codes and dtype == "str") or pd.api.types.is_numeric_dtype(dtype) \
            or pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)

    groups: dict[object, list[int]] = {}
    for i in wanted:
        cols = reads[i]
        if cols is None:
            key = "header" if expectations[i]["type"] in SCHEMA_ONLY else "table"
        elif not cols <= set(typed.columns):
            key = "table"  # a column the file lacks: GX reports it as on the whole view
        elif _row_by_row(expectations[i]) and all(cheap(c) for c in cols):
            key = "distinct"
        else:
            key = cols
        groups.setdefault(key, []).append(i)
    passes = []
    for key, group in groups.items():
        if key == "header":
            frame = _gx_view(typed.iloc[:0])
        elif key == "table":
            frame = _gx_view(typed, categorical=codes)
        elif key == "distinct":
            frame = _gx_view(_distinct_rows(typed, [reads[i] for i in group]))
        else:
            cols = set().union(*(reads[i] for i in group))
            if any(expectations[i].get("severity") == WARNING for i in group):
                passes.append((tuple(group), typed[[c for c in typed.columns if c in cols | {ROW_KEY}]], True))
                continue
            frame = _gx_view(typed[[c for c in typed.columns if c in cols]], categorical=codes)
        passes.append((tuple(group), frame, False))
    return passes


# Expectations whose outcome on a frame depends only on which rows (of the columns they read) it holds,
# not on how often each occurs: true of a row-by-row check that must hold on every row (no `mostly`).
ROW_BY_ROW = {"expect_column_values_to_not_be_null", "expect_column_values_to_be_in_set",
              "expect_column_values_to_be_between", "expect_column_value_lengths_to_be_between",
              "expect_column_values_to_match_regex", "expect_column_pair_values_a_to_be_greater_than_b"}


def _row_by_row(expectation: dict) -> bool:
    return expectation["type"] in ROW_BY_ROW and expectation["kwargs"].get("mostly") in (None, 1, 1.0)


def _distinct_rows(typed, column_sets: list[frozenset]):
    """A frame on which every row-by-row expectation reading one of `column_sets` has the outcome it has on
    `typed`: the columns that some set reads together stay together, as each distinct combination of their
    values (empty cells included) once; such blocks sit side by side, the shorter ones repeated to the
    longest's length (a repeated row changes no such outcome, and no expectation reads across blocks)."""
    import numpy as np
    import pandas as pd

    blocks: list[set] = []
    for cols in column_sets:
        joined = set(cols)
        for block in [b for b in blocks if b & joined]:
            joined |= block
            blocks.remove(block)
        blocks.append(joined)
    parts = [typed[[c for c in typed.columns if c in block]].drop_duplicates(ignore_index=True) for block in blocks]
    length = max(len(part) for part in parts)
    if not all(len(part) for part in parts):  # no rows: nothing to repeat
        return pd.concat(parts, axis=1)
    return pd.concat([part.take(np.arange(length) % len(part)).reset_index(drop=True) for part in parts], axis=1)


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

