"""The ministry analyst in PostgreSQL (role reporting_reader): every view and column of reporting_public is
described (the catalogue a client's `\\d+` or browser shows), without naming tables the reader cannot read;
and the labelled views open in pandas as an analyst would, with labels (not codes), separate columns for
level, area and period, rates rounded to 2 decimals, and the public suppression intact."""
from __future__ import annotations

import re
import warnings

import pytest
from sqlalchemy import create_engine, text

from test_access import pipeline  # noqa: F401  (fixture: roles, and a published quarter of three teams)
from thb_reporting.store.reader_views import PUBLIC_VIEWS
from thb_reporting.store.reader_views import labelled_views

pytestmark = pytest.mark.parametrize("reporting_db_url", ["postgres"], indirect=True)
ANALYST_LOGIN = "thb_ministry_analyst_test"
INTERNAL = re.compile(r"\b(national|ledger)\.|thb_reporting|reference/|\.py\b|\.csv\b")


def test_every_view_and_column_is_described_for_the_reader(pipeline):  # noqa: F811
    engine = create_engine(pipeline)
    with engine.begin() as conn:
        conn.execute(text("SET ROLE reporting_reader"))
        views = dict(conn.execute(text(
            "SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'reporting_public' AND c.relkind = 'v'")).all())
        columns = conn.execute(text(
            "SELECT c.relname, a.attname, col_description(c.oid, a.attnum) FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'reporting_public' AND a.attnum > 0 AND NOT a.attisdropped")).all()
        # and the reader may open every one of them
        for view in views:
            conn.execute(text(f"SELECT * FROM reporting_public.{view} LIMIT 1"))
    engine.dispose()
    assert set(views) == set(PUBLIC_VIEWS) | set(labelled_views())
    assert {v for v, described in views.items() if not described} == set()
    assert {(v, c) for v, c, described in columns if not described} == set()
    assert len(columns) > 100
    leaks = {v: d for v, d in views.items() if INTERNAL.search(d)} | {
        f"{v}.{c}": d for v, c, d in columns if INTERNAL.search(d)}
    assert leaks == {}


def _as_analyst(pg_url: str):
    """A ministry analyst's own login, a member of reporting_reader, through psycopg as pandas users connect."""
    import psycopg

    admin = create_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ANALYST_LOGIN}') THEN "
                          f"CREATE ROLE {ANALYST_LOGIN} LOGIN; END IF; END $$"))
        conn.execute(text(f"GRANT reporting_reader TO {ANALYST_LOGIN}"))
    admin.dispose()
    url = pg_url.replace("postgresql+psycopg://postgres@", f"postgresql://{ANALYST_LOGIN}@")
    return psycopg.connect(url)


def _read(conn, sql: str):
    import pandas as pd

    with warnings.catch_warnings():  # pandas prefers SQLAlchemy; a plain DB-API connection is what many analysts use
        warnings.simplefilter("ignore", UserWarning)
        return pd.read_sql(sql, conn)


def test_an_analyst_opens_the_labelled_views_in_pandas(pipeline):  # noqa: F811
    import pandas as pd

    with _as_analyst(pipeline) as conn:
        victims = _read(conn, "SELECT * FROM reporting_public.victims_by_quarter_and_area")
        prosecutions = _read(conn, "SELECT * FROM reporting_public.prosecutions_by_article_and_stage")
        programmes = _read(conn, "SELECT * FROM reporting_public.programmes_and_funding")
        labelled = _read(conn, "SELECT * FROM reporting_public.indicators_labelled")
        public = _read(conn, "SELECT * FROM reporting_public.indicators")
        catalogue = _read(conn, "SELECT * FROM reporting_public.indicator_catalogue")
        with pytest.raises(Exception, match="permission denied"):
            _read(conn, "SELECT * FROM national.indicators")
    for frame in (victims, prosecutions, programmes):
        assert len(frame) > 0
        assert set(frame.level) == {"team", "district", "nation"}
        assert set(frame.period_type) == {"quarter", "year"}
        quarters = frame[frame.period_type == "quarter"]
        assert set(quarters.year) == {2026} and set(quarters.quarter) == {1}
        assert frame[frame.period_type == "year"].quarter.isna().all()
        # labels, not codes
        assert (frame.indicator_en != frame.indicator).all() and (frame.indicator_sr != frame.indicator_en).all()
        assert not frame.area_name_lat.isin(frame.area_code).any()
    teams = victims[victims.level == "team"]
    assert set(teams.area_name_lat) == {"Niš", "Vranje", "Kraljevo"} and "Ниш" in set(teams.area_name_cyr)
    assert set(victims[victims.level == "nation"].area_name_en) == {"Republic of Serbia"}
    by_sex = victims[(victims.indicator == "victims") & (victims.breakdown == "sex")]
    assert {"Female", "Male"} <= set(by_sex.category_en) and "Ženski" in set(by_sex.category_sr)
    assert (victims.category_en != victims.category).all() and (victims.category_sr != victims.category).all()
    assert set(victims[victims.breakdown == "citizenship"].category_en) <= {"Serbian citizens", "Foreign citizens"}

    assert set(prosecutions.article) <= {"388", "389", "390"} and "388" in set(prosecutions.article)
    assert prosecutions.article_en.str.startswith(("Trafficking", "Slavery")).all()
    assert set(prosecutions.stage_order) == {1, 2, 3, 4, 5}
    assert set(prosecutions.stage_en) >= {"Criminal complaint", "Final conviction"}
    assert set(prosecutions.sex.dropna()) == {"female", "male"} and prosecutions.sex_en.dropna().isin(["Female", "Male"]).all()
    by_source = programmes[programmes.breakdown == "funding_source"]
    assert (by_source.category_en != by_source.category).all() and len(by_source) > 0

    # rates: percentages with at most 2 decimals, equal to the public share × 100
    rates = labelled[labelled.unit == "percent"].dropna(subset=["value"])
    assert len(rates) > 0 and rates.value.between(0, 100).all() and (rates.value.round(2) == rates.value).all()
    assert (rates.value != rates.value.round(0)).any()  # not whole numbers only: the rounding is to 2 decimals
    shares = set(catalogue[catalogue.unit == "share"].indicator)
    key = ["indicator", "level", "area_code", "period", "breakdown", "category"]
    joined = labelled.merge(public, on=key, suffixes=("", "_public"), validate="one_to_one")
    assert len(joined) == len(public) == len(labelled)  # exactly the public figures, nothing more
    expected = joined.value_public.where(~joined.indicator.isin(shares), joined.value_public * 100).round(2)
    assert ((joined.value - expected).abs().fillna(0) < 1e-9).all()
    # disclosure: what the public table suppresses stays suppressed in every labelled view
    assert joined.suppressed.any() and joined[joined.suppressed].value.isna().all()
    assert (joined.suppressed == joined.suppressed_public).all()
    assert pd.api.types.is_float_dtype(victims.value)
