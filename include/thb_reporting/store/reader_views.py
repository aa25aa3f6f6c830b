"""What a ministry analyst meets in PostgreSQL (role reporting_reader, schema reporting_public): labelled,
ready-to-pivot views for the common questions, and a description on every view and every column (`\\d+`,
or any client's catalogue browser), written for the analyst: no internal table names.

The labelled views are built on the public, suppressed indicators only (disclosure control holds): one row
per figure, with level, area code and names, period type, year and quarter in columns of their own, codes
with Serbian and English labels, shares as percentages rounded to 2 decimals. Created and commented by
access.ensure_access (PostgreSQL only; SQLite has no roles)."""
from __future__ import annotations

from sqlalchemy import text

from thb_reporting.figures.indicator_catalogue import category_labels
from thb_reporting.store.release_tables import frozen_name

# reporting_public views of released figures → the working table frozen per release (release_tables)
RELEASED_VIEWS = {"indicators": "public_indicators", "crim_thb": "export_crim_thb", "sdg_16_2_2": "sdg_16_2_2",
                  "coverage": "coverage"}
ALL_RELEASES = "_all_releases"  # the suffix of the views that hold every release, not only each period's latest
DIMENSION_VIEWS = {
    "indicator_catalogue": "national.indicator_catalogue",
    "teams": "national.teams",
    "districts": "national.districts",
    "code_lists": "national.code_lists",
    "quarters": "national.quarters",
}
# reporting_public view → the table whose column descriptions it repeats
PUBLIC_VIEWS = {
    **{view: f"national.{frozen_name(t)}" for view, t in RELEASED_VIEWS.items()},
    **{view + ALL_RELEASES: f"national.{frozen_name(t)}" for view, t in RELEASED_VIEWS.items()},
    "releases": "national.releases",
    "revisions": "national.release_revisions",
    **DIMENSION_VIEWS,
}
RELEASED = "'released'"  # release_tables.ReleaseState.RELEASED, as SQL


def public_view_sql(view: str, frozen_columns: list[str]) -> str:
    """The query of a plain reporting_public view. A view of figures shows released figures only: each row
    with its release, its status (provisional | final) and when it was released; `<view>` the latest release
    of each period, `<view>_all_releases` every release (filter on release_id to read a past one)."""
    if view in DIMENSION_VIEWS:
        return f"SELECT * FROM {DIMENSION_VIEWS[view]}"
    if view == "releases":
        return ("SELECT release_id, period, status, decided_at AS released_at, note, previous_release_id AS revises_release "
                f"FROM national.releases WHERE state = {RELEASED}")
    if view == "revisions":
        return ("SELECT v.* FROM national.release_revisions v JOIN national.releases r ON r.release_id = v.release_id "
                f"WHERE r.state = {RELEASED}")
    every = view.endswith(ALL_RELEASES)
    frozen = PUBLIC_VIEWS[view]
    columns = ", ".join(f'f."{c}"' for c in frozen_columns if c != "release_id")
    latest = ("" if every else " AND r.release_id = (SELECT max(x.release_id) FROM national.releases x "
              f"WHERE x.state = {RELEASED} AND x.period = r.period)")
    return (f"SELECT r.release_id, r.status AS release_status, r.decided_at AS released_at, {columns} "
            f"FROM {frozen} f JOIN national.releases r ON r.release_id = f.release_id "
            f"WHERE r.state = {RELEASED}{latest}")


NATION_NAMES = ("Republika Srbija", "Република Србија", "Republic of Serbia")

VIEW_COMMENTS = {
    "indicators": "The released indicators (each period's latest approved release) per local team, district and the "
                  "nation, per quarter and year, for the public: counts of "
                  "persons and cases from 1 to the suppression threshold (4 unless the coordinator sets another) are "
                  "suppressed (value empty, suppressed true), and so is any count from which a suppressed one could be "
                  "recomputed. Zeros are shown. One row per indicator, area, period, breakdown and category; the same "
                  "with labels: indicators_labelled.",
    "crim_thb": "Victims per year in the shape of Eurostat's crim_thb collection (legal status x sex x citizenship x "
                "form of exploitation), for the nation; small counts suppressed.",
    "sdg_16_2_2": "SDG indicator 16.2.2: victims of trafficking per 100,000 population, per municipality with a team "
                  "and for the nation, per year; small counts and their rates suppressed.",
    "releases": "Every release of the national figures: the period, provisional or final, when it was released, the "
                "approver's note, and the release it revises. Each figure in these views names its release.",
    "revisions": "Each public figure a release changed against the period's previous release: both values (empty where "
                 "suppressed) and the submissions that changed it.",
    **{view + ALL_RELEASES: f"As {view}, for every release, not only each period's latest: filter on release_id to "
                            f"read the figures of a past release." for view in RELEASED_VIEWS},
    "coverage": "What the national figures of each dataset cover, per quarter and year: the whole country where the "
                "Centre for Protection of Victims of Trafficking reported every quarter (coverage nation), else the sum "
                "of the reporting units listed and the population they cover (coverage units; the exports label such a "
                "sum RS_PART, not RS).",
    "indicator_catalogue": "What each indicator measures, in Serbian and English, its unit and the dataset it comes from.",
    "teams": "The local anti-trafficking teams: municipality code, names in Latin and Cyrillic script, district.",
    "districts": "Districts (okruzi) and the City of Belgrade, names in Latin and Cyrillic script.",
    "code_lists": "Every code used in these views, with its Serbian (Latin script) and English label.",
    "quarters": "The reporting quarters: first and last day, and the deadline for the teams' submissions.",
    "indicators_labelled": "Every public indicator with its labels, ready to pivot: one row per figure; level, area "
                           "(code, names), period (type, year, quarter), indicator and category in Serbian and "
                           "English; shares as percentages with 2 decimals. Small counts suppressed as in indicators.",
    "victims_by_quarter_and_area": "Victims (presumed and identified) per quarter and year, per local team, district "
                                   "and the nation, by status, sex, child/adult, citizenship, form of exploitation, "
                                   "migration status, services and reintegration; labelled, ready to pivot; small "
                                   "counts suppressed. A person reported by two teams counts once in the district "
                                   "and the nation.",
    "prosecutions_by_article_and_stage": "Persons and cases in criminal proceedings per Criminal Code article (388 "
                                         "trafficking in human beings, 389 trafficking in minors for adoption, 390 "
                                         "slavery) and stage (criminal complaint to final conviction), persons also by "
                                         "sex; per team, district and nation, quarter and year; small counts suppressed.",
    "programmes_and_funding": "Support and reintegration programmes: number, beneficiaries and funding in RSD by "
                              "programme type and funding source, and the share funded by local councils for "
                              "migration (percent); per team, district and nation, quarter and year.",
}

# Columns of the labelled views (and of `indicators`), described once.
COLUMN_COMMENTS = {
    "level": "team (a local team's municipality) | district | nation",
    "level_sr": "the level in Serbian", "level_en": "the level in English",
    "area_code": "municipality code of the team, district code (ISO 3166-2:RS), or RS for the nation",
    "area_name_lat": "the area's name, Latin script", "area_name_cyr": "the area's name, Cyrillic script",
    "area_name_en": "the area's name in English",
    "district_code": "the district the area lies in (ISO 3166-2:RS); empty for the nation",
    "period_type": "quarter | year", "year": "calendar year",
    "quarter": "1 to 4; empty for a year", "period": "the period as one code: 2026Q1 (a quarter) or 2026 (a year)",
    "indicator": "the indicator's code (reporting_public.indicator_catalogue)",
    "indicator_sr": "what the indicator measures, in Serbian", "indicator_en": "what the indicator measures, in English",
    "dataset": "the teams' dataset it is computed from: victims, criminal_justice, programmes, activities, "
               "cross_border; calendar for the reporting rates",
    "unit": "persons, cases, programmes, activities, events, rsd (Serbian dinars), percent",
    "breakdown": "what the category splits by: total, sex, age_group, status, exploitation, ...",
    "category": "the category's code (reporting_public.code_lists), or total",
    "category_sr": "the category in Serbian", "category_en": "the category in English",
    "value": "the figure; for percentages 0 to 100 with 2 decimals; empty where suppressed",
    "suppressed": "true: a count from 1 to the threshold, or one that would reveal one; value is empty",
    "article": "Criminal Code article: 388, 389 or 390",
    "article_sr": "the article in Serbian", "article_en": "the article in English",
    "stage": "stage of the proceedings: criminal_complaint, investigation, indictment, first_instance_judgment, "
             "final_conviction",
    "stage_order": "1 (criminal complaint) to 5 (final conviction), for sorting",
    "stage_sr": "the stage in Serbian", "stage_en": "the stage in English",
    "sex": "female | male for persons by sex; empty for all persons and for cases",
    "sex_sr": "sex in Serbian", "sex_en": "sex in English",
    "release_id": "the release the figure belongs to (reporting_public.releases)",
    "release_status": "provisional (late or corrected files may still revise it) | final (the quarter is locked)",
    "released_at": "when the release was approved",
    "revises_release": "the period's earlier release that this one revises; empty for the first",
}
# Columns of the plain public views whose source description would not help a reader (or names internal tables).
PUBLIC_COLUMN_COMMENTS = {
    ("indicator_catalogue", "indicator"): "the indicator's code, as in reporting_public.indicators",
    ("indicator_catalogue", "dataset"): COLUMN_COMMENTS["dataset"],
    ("indicator_catalogue", "unit"): "persons, cases, programmes, activities, events, rsd (Serbian dinars), "
                                     "share (0 to 1)",
    ("crim_thb", "expl"): "SEX sexual | LAB labour | OTH other forms of exploitation (Eurostat's groups)",
    ("sdg_16_2_2", "population"): "reference population (census 2022): the municipality's, the nation's, or for "
                                   "RS_PART the population of the local teams summed",
    ("sdg_16_2_2", "suppressed"): "true where the count is suppressed in reporting_public.indicators",
    ("indicators", "indicator"): COLUMN_COMMENTS["indicator"],
    ("revisions", "indicator"): COLUMN_COMMENTS["indicator"],
    ("indicators", "value"): "the figure (a share from 0 to 1 where the unit is share); empty where suppressed",
    ("indicators", "breakdown"): COLUMN_COMMENTS["breakdown"],
    ("quarters", "deadline"): "a team's submission is on time when accepted by this day",
}
TOPIC_FILTERS = {"victims_by_quarter_and_area": "victims", "programmes_and_funding": "programmes"}


def _literal(value) -> str:
    return "NULL" if value is None else "'" + str(value).replace("'", "''") + "'"


def _values(rows) -> str:
    return ", ".join("(" + ", ".join(_literal(v) for v in row) + ")" for row in rows)


def _labelled_sql() -> str:
    sr, cyr, en = (_literal(n) for n in NATION_NAMES)
    return f"""
WITH category_label(indicator, breakdown, category, label_sr, label_en) AS (VALUES {_values(category_labels())})
SELECT i.level,
       CASE i.level WHEN 'team' THEN 'Lokalni tim' WHEN 'district' THEN 'Okrug' ELSE 'Republika' END AS level_sr,
       CASE i.level WHEN 'team' THEN 'Local team' WHEN 'district' THEN 'District' ELSE 'Nation' END AS level_en,
       i.area_code,
       COALESCE(t.name_lat, d.name_lat, CASE WHEN i.level = 'nation' THEN {sr} END, i.area_code) AS area_name_lat,
       COALESCE(t.name_cyr, d.name_cyr, CASE WHEN i.level = 'nation' THEN {cyr} END, i.area_code) AS area_name_cyr,
       COALESCE(t.name_lat, d.name_lat, CASE WHEN i.level = 'nation' THEN {en} END, i.area_code) AS area_name_en,
       COALESCE(t.district_code, d.district_code) AS district_code,
       CASE WHEN i.period LIKE '%Q%' THEN 'quarter' ELSE 'year' END AS period_type,
       CAST(left(i.period, 4) AS integer) AS year,
       CASE WHEN i.period LIKE '%Q%' THEN CAST(right(i.period, 1) AS integer) END AS quarter,
       i.period,
       i.indicator, c.label_sr AS indicator_sr, c.label_en AS indicator_en, c.dataset,
       CASE WHEN c.unit = 'share' THEN 'percent' ELSE c.unit END AS unit,
       i.breakdown, i.category,
       COALESCE(x.label_sr, i.category) AS category_sr,
       COALESCE(x.label_en, i.category) AS category_en,
       CAST(round(CAST(i.value AS numeric) * CASE WHEN c.unit = 'share' THEN 100 ELSE 1 END, 2)
            AS double precision) AS value,
       i.suppressed, i.release_id, i.release_status, i.released_at
FROM reporting_public.indicators i
JOIN national.indicator_catalogue c ON c.indicator = i.indicator
LEFT JOIN national.teams t ON i.level = 'team' AND t.municipality_code = i.area_code
LEFT JOIN national.districts d ON i.level = 'district' AND d.district_code = i.area_code
LEFT JOIN category_label x ON x.indicator = i.indicator AND x.breakdown = i.breakdown AND x.category = i.category"""


_AREA_PERIOD = ("level, level_sr, level_en, area_code, area_name_lat, area_name_cyr, area_name_en, district_code, "
                "period_type, year, quarter, period")


def _prosecutions_sql() -> str:
    from thb_reporting.figures.indicator_catalogue import KEY_SEPARATOR
    from thb_reporting.core.reference import codes

    sep = _literal(KEY_SEPARATOR)  # article/stage(/sex): indicator_catalogue.category_key
    stage_order = " ".join(f"WHEN {_literal(c)} THEN {n}" for n, c in enumerate(codes("justice_stage"), start=1))
    return f"""
SELECT {_AREA_PERIOD}, indicator, indicator_sr, indicator_en, unit,
       split_part(category, {sep}, 1) AS article, a.label_sr AS article_sr, a.label_en AS article_en,
       split_part(category, {sep}, 2) AS stage,
       CASE split_part(category, {sep}, 2) {stage_order} END
         AS stage_order,
       s.label_sr AS stage_sr, s.label_en AS stage_en,
       NULLIF(split_part(category, {sep}, 3), '') AS sex, x.label_sr AS sex_sr, x.label_en AS sex_en,
       value, suppressed, release_id, release_status, released_at
FROM reporting_public.indicators_labelled
LEFT JOIN national.code_lists a ON a.code_list = 'criminal_code_article' AND a.code = split_part(category, {sep}, 1)
LEFT JOIN national.code_lists s ON s.code_list = 'justice_stage' AND s.code = split_part(category, {sep}, 2)
LEFT JOIN national.code_lists x ON x.code_list = 'sex' AND x.code = split_part(category, {sep}, 3)
WHERE dataset = 'criminal_justice' AND breakdown IN ('article_stage', 'article_stage_sex')"""


def _topic_sql(dataset: str) -> str:
    return f"""
SELECT {_AREA_PERIOD}, indicator, indicator_sr, indicator_en, unit, breakdown, category, category_sr, category_en,
       value, suppressed, release_id, release_status, released_at
FROM reporting_public.indicators_labelled WHERE dataset = {_literal(dataset)}"""


def labelled_views() -> dict[str, str]:
    """reporting_public view → its query, in the order they must be created."""
    return {"indicators_labelled": _labelled_sql(),
            **{view: _topic_sql(dataset) for view, dataset in TOPIC_FILTERS.items()},
            "prosecutions_by_article_and_stage": _prosecutions_sql()}


def create_reader_views(conn, metadata) -> None:
    """The labelled views, and descriptions on every reporting_public view and column (run by their owner)."""
    for view, query in labelled_views().items():
        conn.execute(text(f"CREATE OR REPLACE VIEW reporting_public.{view} AS {query}"))
    comment_public_views(conn, metadata)


def comment_public_views(conn, metadata) -> None:
    """COMMENT ON every reporting_public view and column; metadata: the warehouse's tables (their comments)."""
    columns = conn.execute(text(
        "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'reporting_public' AND c.relkind = 'v' "
        "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY c.relname, a.attnum")).all()
    for view in sorted({v for v, _ in columns}):
        conn.execute(text(f"COMMENT ON VIEW reporting_public.{view} IS {_literal(VIEW_COMMENTS.get(view))}"))
    for view, column in columns:
        source = metadata.tables.get(PUBLIC_VIEWS.get(view, ""))
        described = (PUBLIC_COLUMN_COMMENTS.get((view.removesuffix(ALL_RELEASES), column))
                     or (source.columns[column].comment if source is not None and column in source.columns else None)
                     or COLUMN_COMMENTS.get(column))
        conn.execute(text(f'COMMENT ON COLUMN reporting_public.{view}."{column}" IS {_literal(described)}'))
