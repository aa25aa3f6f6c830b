"""The national reporting database: the submissions ledger (schema `ledger`) and the national tables
(schema `national`). PostgreSQL, or a SQLite file where schemas fold into one file (table names are
unique across schemas for that reason). Fact tables are derived from the data contracts."""
from __future__ import annotations

import io
from functools import cache

from sqlalchemy import (
    BigInteger, Boolean, Column, Date, DateTime, Float, Index, Integer, MetaData, Table, Text,
    create_engine, event, text,
)
from sqlalchemy.engine import Connection, Engine

from thb_reporting.core import contracts
from thb_reporting.store import ledger, release_tables
from thb_reporting.store import mail_ledger  # noqa: F401 (importing it adds mail_messages to the ledger's MetaData)
from thb_reporting.store import explanations  # noqa: F401 (and ledger.explanations, after it)

SCHEMAS = ("ledger", "national")
LOGICAL_TYPES = {"text": Text, "integer": BigInteger, "date": Date}
# Columns every fact row carries so that it can be traced to the file it came from.
LINEAGE = (
    ("submission_id", Integer, "the submission (ledger.submissions) the row comes from"),
    ("team_code", Text, "the team that reported it (national.teams)"),
    ("quarter", Text, "the reporting quarter, e.g. 2026Q1"),
    ("source_row", Integer, "the row number in the team's spreadsheet"),
    ("file_sha256", Text, "SHA-256 of the file as received"),
    ("received_at", DateTime(timezone=True), "when the file arrived in the inbox"),
)


def column_comment(column) -> str:
    """What a contract column means once published, for COMMENT ON and the data dictionary."""
    text = f"{column.label['en']} / {column.label['sr']}"
    if column.privacy == "pseudonymise":
        return f"{text}: keyed hash (pseudonym), never the reference itself"
    if column.privacy == "band":
        return f"{text}: stored only as a band (code list {column.band_list})"
    if column.type == "codes":
        return f"{text}: codes of {column.code_list}, separated by ';'"
    if column.type == "code":
        return f"{text} (code list {column.code_list})"
    if column.type == "country":
        return f"{text} (ISO 3166-1 alpha-2)"
    return text


def fact_table_name(dataset: str) -> str:
    return dataset


def _indicator_key() -> list[Column]:
    """The columns that name one indicator cell (fresh objects: a Column belongs to one table)."""
    return [
        Column("indicator", Text, nullable=False, comment="see national.indicator_catalogue"),
        Column("level", Text, nullable=False, comment="team | district | nation"),
        Column("area_code", Text, nullable=False, comment="team (municipality) code, district code, or RS"),
        Column("period", Text, nullable=False, comment="a quarter (2026Q1) or a year (2026)"),
        Column("breakdown", Text, nullable=False, comment="what category is: total, sex, age_group, ..."),
        Column("category", Text, nullable=False, comment="a code of the breakdown's code list, or total"),
    ]


def _coverage_columns() -> list[Column]:
    """What a figure covers (thb_reporting.figures.coverage.COLUMNS; fresh objects: a Column belongs to one table)."""
    return [
        Column("coverage", Text, comment="nation: a unit of national scope (the Centre) reported the dataset for every "
                                         "quarter summed; units: the sum of the units in coverage_units only, not the "
                                         "country's figure; empty for the calendar's rates"),
        Column("coverage_units", Text, comment="the reporting units whose accepted submissions the figure sums, ';'-separated"),
        Column("coverage_population", BigInteger, comment="the population covered: the nation's when coverage is nation, "
                                                          "else that of the local units' municipalities (census 2022)"),
    ]


def metadata() -> MetaData:
    """The tables of the reporting database: the ledger, the derived national tables and a fact table per
    data contract (the union of the columns of its versions: the current version's). Alembic's target
    (thb_reporting/migrations); built when first asked for, once per contracts folder."""
    return _metadata(contracts.contracts_dir())


@cache
def _metadata(_contracts_dir) -> MetaData:
    md = MetaData()
    ledger.add_tables(md)  # the ledger's tables are defined in thb_reporting.store.ledger (and mail_ledger)
    Table(
        "teams", md,
        Column("municipality_code", Text, primary_key=True, comment="the team's code, also its inbox folder"),
        Column("name_lat", Text, comment="name, Latin script"), Column("name_cyr", Text, comment="name, Cyrillic script"),
        Column("district_code", Text, comment="ISO 3166-2:RS"), Column("district_lat", Text, comment="district, Latin script"),
        Column("district_cyr", Text, comment="district, Cyrillic script"),
        schema="national", comment="Local anti-trafficking teams (from the team registry)",
    )
    Table(
        "districts", md,
        Column("district_code", Text, primary_key=True, comment="ISO 3166-2:RS"),
        Column("name_lat", Text, comment="name, Latin script"), Column("name_cyr", Text, comment="name, Cyrillic script"),
        Column("region_code", Text, comment="RS-VO Vojvodina, RS-KM Kosovo and Metohija, empty elsewhere"),
        schema="national", comment="Districts (okruzi) and the City of Belgrade",
    )
    Table(
        "code_lists", md,
        Column("code_list", Text, primary_key=True, comment="the list's name"),
        Column("code", Text, primary_key=True, comment="the code as stored in the tables"),
        Column("label_sr", Text, comment="Serbian, Latin script"), Column("label_en", Text, comment="English"),
        schema="national", comment="Every code used in the national tables, with Serbian and English labels",
    )
    Table(
        "quarters", md,
        Column("quarter", Text, primary_key=True, comment="e.g. 2026Q1"), Column("year", Integer, comment="calendar year"),
        Column("quarter_number", Integer, comment="1 to 4"),
        Column("start_date", Date, comment="first day"), Column("end_date", Date, comment="last day"),
        Column("deadline", Date, comment="submissions are on time when accepted by this day"),
        schema="national", comment="Reporting quarters with published data",
    )
    Table(
        "indicator_catalogue", md,
        Column("indicator", Text, primary_key=True, comment="the indicator's name in national.indicators"),
        Column("dataset", Text, comment="the dataset it is computed from"),
        Column("unit", Text, comment="persons, cases, rsd, share, ..."),
        Column("label_sr", Text, comment="what it measures, in Serbian"), Column("label_en", Text, comment="what it measures, in English"),
        schema="national", comment="What each indicator in national.indicators measures",
    )
    Table(
        "indicators", md,
        *_indicator_key(),
        Column("value", Float, nullable=False, comment="count, sum or share (see the catalogue's unit)"),
        *_coverage_columns(),
        Index("indicators_period", "period"),
        Index("indicators_indicator", "indicator"),  # the calendar's rates are replaced by name at every publish
        schema="national", comment="National indicators per team, district and nation, per quarter and year (exact counts)",
    )
    Table(
        "public_indicators", md,
        *_indicator_key(),
        Column("value", Float, comment="as in national.indicators; empty where suppressed"),
        Column("suppressed", Boolean, nullable=False, comment="true: a small count, or one that would reveal one"),
        *_coverage_columns(),
        Index("public_indicators_period", "period"),
        Index("public_indicators_indicator", "indicator"),
        schema="national",
        comment="The indicators for the public: counts of persons and cases from 1 to the threshold suppressed, "
                "with secondary suppression (thb_reporting.figures.disclosure)",
    )
    Table(
        "reporting_status", md,
        Column("team_code", Text, primary_key=True, comment="the team"),
        Column("dataset", Text, primary_key=True, comment="the dataset owed"),
        Column("quarter", Text, primary_key=True, comment="the quarter owed"),
        Column("status", Text, nullable=False, comment="accepted | accepted_late | rejected | missing"),
        Column("first_accepted_at", DateTime(timezone=True), comment="when the first accepted file arrived"),
        Column("deadline", Date, nullable=False, comment="on time when accepted by this day"),
        Column("locked", Boolean, nullable=False, comment="the coordinator locked the quarter"),
        schema="national", comment="Completeness and timeliness: every dataset every team owes, per quarter",
    )
    Table(
        "export_crim_thb", md,
        Column("geo", Text, nullable=False, comment="RS where the figures cover the nation (coverage nation), else RS_PART: "
                                                    "a sum of the units in coverage_units, not the country"),
        Column("time", Text, nullable=False, comment="year"),
        Column("leg_stat", Text, nullable=False, comment="IDENT identified | PRESUM presumed victims"),
        Column("sex", Text, nullable=False, comment="F | M | UNK"),
        Column("citizen", Text, nullable=False, comment="NAT reporting country | EU27_2020_FOR other EU | NEU27_2020_FOR non-EU"),
        Column("expl", Text, nullable=False, comment="SEX sexual | LAB labour | OTH other forms (reference/eurostat.csv)"),
        Column("unit", Text, nullable=False, comment="NR: number of persons"),
        Column("value", BigInteger, comment="victims, counted once nationally; once per form group; empty where suppressed"),
        Column("suppressed", Boolean, nullable=False, comment="true: a count from 1 to the threshold"),
        *_coverage_columns(),
        schema="national", comment="Victims per year shaped like Eurostat crim_thb, small counts suppressed",
    )
    Table(
        "sdg_16_2_2", md,
        Column("level", Text, nullable=False, comment="team (its municipality) | nation"),
        Column("area_code", Text, nullable=False, comment="municipality code; RS for the nation (coverage nation), "
                                                          "RS_PART for a sum of local teams that is not the nation's"),
        Column("year", Text, nullable=False, comment="year"),
        Column("breakdown", Text, nullable=False, comment="total | sex | age_group | exploitation"),
        Column("category", Text, nullable=False, comment="a code of the breakdown, or total"),
        Column("victims", BigInteger, comment="victims (identified and presumed); empty where suppressed"),
        Column("population", BigInteger, nullable=False, comment="reference population (reference/population.csv): the "
                                                                  "municipality's, the nation's, or for RS_PART the covered one"),
        Column("rate_per_100000", Float, comment="victims per 100,000 population; empty where suppressed"),
        Column("suppressed", Boolean, nullable=False, comment="true where national.public_indicators suppresses the count"),
        *_coverage_columns(),
        schema="national", comment="SDG indicator 16.2.2: victims of trafficking per 100,000 population",
    )
    Table(
        "coverage", md,
        Column("dataset", Text, primary_key=True, comment="the dataset"),
        Column("period", Text, primary_key=True, comment="a quarter (2026Q1) or a year (2026)"),
        Column("coverage", Text, nullable=False, comment="nation: the whole country; units: the sum of the units listed only"),
        Column("national", Boolean, nullable=False, comment="a unit of national scope reported every quarter summed"),
        Column("units", Text, nullable=False, comment="the reporting units with an accepted submission, ';'-separated"),
        Column("quarters", Text, nullable=False, comment="the quarters of the period with an accepted submission"),
        Column("population", BigInteger, comment="the population covered (the nation's when national)"),
        Column("nation_population", BigInteger, comment="the nation's population (census 2022)"),
        Column("population_share", Float, comment="population / nation_population"),
        Column("description_sr", Text, comment="what the figures cover, in Serbian"),
        Column("description_en", Text, comment="what the figures cover, in English"),
        Column("not_in_file", Text, comment="columns that files made from an earlier template lacked, stored as not "
                                            "stated: 'column: persons; …' (1 to the suppression threshold shown as a range)"),
        schema="national",
        comment="What the national figures of each dataset and period cover: the nation (the Centre reported) or a "
                "set of local teams and their population",
    )
    Table(
        "publications", md,
        Column("dataset", Text, primary_key=True, comment="the dataset"),
        Column("team_code", Text, primary_key=True, comment="the team"),
        Column("quarter", Text, primary_key=True, comment="the quarter"),
        Column("submission_id", Integer, nullable=False, comment="the submission whose rows are published"),
        Column("published_at", DateTime(timezone=True), nullable=False, comment="when they were published"),
        schema="national", comment="Which submission each published team, dataset and quarter comes from",
    )
    for dataset in contracts.datasets():
        contract = contracts.load(dataset)
        Table(
            fact_table_name(dataset), md,
            *(Column(name, type_, nullable=name not in ("received_at",), comment=comment) for name, type_, comment in LINEAGE),
            *(Column(c.stored_name, LOGICAL_TYPES[c.stored_type], comment=column_comment(c)) for c in contract.columns),
            schema="national", comment=contract.title["en"],
        )
    Table(
        "victims_by_team_quarter", md,
        Column("team_code", Text, nullable=False, comment="the team"),
        Column("quarter", Text, nullable=False, comment="the quarter"),
        Column("status", Text, nullable=False, comment="code list victim_status"),
        Column("sex", Text, nullable=False, comment="code list sex"),
        Column("age_group", Text, nullable=False, comment="child (under 18) | adult | unknown"),
        Column("exploitation", Text, nullable=False,
               comment="one form per row; a person with several forms counts under each"),
        Column("victims", Integer, nullable=False, comment="persons"),
        schema="national", comment="Persons reported by team, quarter, status, sex, child/adult and form of exploitation",
    )
    release_tables.add_tables(md, _indicator_key)  # frozen copies of the working tables, per release
    return md


def table(name: str, schema: str = "national") -> Table:
    return metadata().tables[f"{schema}.{name}"]


def is_postgres(engine_or_conn) -> bool:
    return engine_or_conn.dialect.name == "postgresql"


NATIONAL_WRITER_LOCK = 4242002  # PostgreSQL advisory lock: one writer of the national tables at a time


def hold_national_tables(conn) -> None:
    """Wait for, then hold until the transaction ends, the national tables' writer lock (publish and a release
    candidate take it; SQLite's BEGIN IMMEDIATE already queues writers)."""
    if is_postgres(conn):
        conn.execute(text(f"SELECT pg_advisory_xact_lock({NATIONAL_WRITER_LOCK})"))


_ENGINES: dict[str, Engine] = {}


def reporting_engine(url: str) -> Engine:
    """One engine (and connection pool) per database URL for the life of the process."""
    if url not in _ENGINES:
        _ENGINES[url] = _create_engine(url)
    return _ENGINES[url]


def reader_engine(url: str) -> Engine:
    """For reading only, as the ministries' tools do: on SQLite a plain transaction that reads the last
    committed state (WAL) without queueing behind the pipeline's writers."""
    if not url.startswith("sqlite"):
        return reporting_engine(url)
    key = f"reader:{url}"
    if key not in _ENGINES:
        _ENGINES[key] = create_engine(url, connect_args={"timeout": 60}).execution_options(
            schema_translate_map={s: None for s in SCHEMAS})
    return _ENGINES[key]


def dispose_engines() -> None:
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()


def _create_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        from pathlib import Path

        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # let SQLAlchemy issue BEGIN, so DDL is transactional too
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute("PRAGMA busy_timeout=60000")

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # writers queue up instead of failing mid-way

        return engine.execution_options(schema_translate_map={s: None for s in SCHEMAS})
    engine = create_engine(url, pool_pre_ping=True)

    @event.listens_for(engine, "do_connect")
    def _name_the_connection(dialect, _record, cargs, cparams):
        # libpq says why (certificate, host name, no TLS, password), not which database: an operator
        # reading a failed run's log needs both
        try:
            return dialect.connect(*cargs, **cparams)
        except dialect.loaded_dbapi.OperationalError as e:
            where = f"{cparams.get('host') or 'the local socket'}:{cparams.get('port') or 5432}/{cparams.get('dbname', '')}"
            raise type(e)(f"connection reporting_db (the national reporting database, {where}, "
                          f"sslmode={cparams.get('sslmode', 'prefer')}) refused: {e}") from e

    @event.listens_for(engine, "connect")
    def _act_as_pipeline_writer(dbapi_conn, _record):
        # Whatever login connects (credentials are rotated), tables and views are created and replaced as
        # pipeline_writer, so that every login of the pipeline can replace them (thb_reporting.store.access).
        from thb_reporting.store.access import act_as_pipeline_writer

        act_as_pipeline_writer(dbapi_conn)

    return engine


COPY_ROWS = 16_384  # rows per slice of CSV sent to COPY


def insert_rows(conn: Connection, target: Table, rows) -> int:
    """Append a pyarrow Table's rows: COPY on PostgreSQL, batched INSERT elsewhere."""
    if rows.num_rows == 0:
        return 0
    if is_postgres(conn):
        import pyarrow.csv as pacsv

        options = pacsv.WriteOptions(include_header=False)
        rows = _timestamps_as_text(rows)
        columns = ", ".join(f'"{c}"' for c in rows.column_names)
        with conn.connection.driver_connection.cursor() as cur:
            with cur.copy(f'COPY "{target.schema}"."{target.name}" ({columns}) FROM STDIN (FORMAT csv)') as copy:
                # CSV written a slice of rows at a time, so that the server parses one slice while the
                # next is written (the whole CSV first, then COPY, left one core idle each time)
                for batch in rows.to_batches(max_chunksize=COPY_ROWS):
                    buf = io.BytesIO()
                    pacsv.write_csv(batch, buf, options)
                    copy.write(buf.getbuffer())
    else:
        conn.execute(target.insert(), rows.to_pylist())
    return rows.num_rows


def _timestamps_as_text(rows):
    """`rows` with each timestamp column as the text pyarrow's CSV writer would give it, each distinct
    value written once: the writer formats a zoned timestamp about fifty times slower than a text, and
    these columns repeat a few values (received_at: one per submission)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for k, field in enumerate(rows.schema):
        if pa.types.is_timestamp(field.type):
            column = rows.column(k)
            distinct = pc.unique(column)
            rows = rows.set_column(k, field.name, pc.take(pc.cast(distinct, pa.string()),
                                                          pc.index_in(column, distinct)))
    return rows
