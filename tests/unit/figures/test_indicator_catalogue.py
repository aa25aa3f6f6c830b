"""The indicator catalogue (indicators.yaml) says everything an output needs about every indicator, and
every category a person reads is shown by its label, not its code."""
from __future__ import annotations

import copy

import pytest
from sqlalchemy import select

from test_pipeline import run_cycle
from thb_reporting.core import contracts, reference
from thb_reporting.figures import indicator_catalogue
from thb_reporting.messaging import notifications
from thb_reporting.figures.indicator_catalogue import category_key, category_label, category_parts
from thb_reporting.store.warehouse import reader_engine, table

RULES = ("code_list", "composite", "categories")  # how a breakdown's categories are made: exactly one
UNITS = {"persons", "cases", "programmes", "activities", "events", "rsd", "share"}
PAGES = {"status_page", "summary"}
OUTPUTS = {"receipt", "sdg_16_2_2", "status_page", "greta"}


def _code_lists() -> set[str]:
    return set(reference.code_lists()) | {"dataset"}


def problems(document: dict) -> list[str]:
    """What an output would miss in a catalogue document (indicators.yaml as parsed): [] when nothing."""
    out = []
    items = document["indicators"]
    shared = set(document.get("categories", {}))
    lists = _code_lists()
    positions = {"headline": [], "summary_table": []}

    def has(indicator, breakdown=None):
        return indicator in items and (breakdown is None or breakdown in items[indicator]["breakdowns"])

    for name, item in items.items():
        for field in ("dataset", "unit", "sr", "en", "breakdowns"):
            if not item.get(field):
                out.append(f"{name}: no {field}")
        if item.get("unit") not in UNITS:
            out.append(f"{name}: unit {item.get('unit')!r} is none of {sorted(UNITS)}")
        breakdowns = item.get("breakdowns") or {}
        if "headline" in item:
            positions["headline"].append(item["headline"])
            if "total" not in breakdowns:
                out.append(f"{name}: a headline without a total breakdown")
        if set(item.get("charted", ())) - PAGES:
            out.append(f"{name}: charted on an unknown page {item['charted']}")
        if item.get("charted") and "total" not in breakdowns:
            out.append(f"{name}: charted without a total breakdown")
        share = item.get("share")
        if (item.get("unit") == "share") != (share is not None):
            out.append(f"{name}: unit {item.get('unit')} but share parts {share!r}")
        for side in ("numerator", "denominator") if share is not None else ():
            part = share.get(side) or {}
            if "count" in part:
                continue
            default = list(breakdowns)[0] if side == "numerator" else "total"
            if not has(part.get("indicator"), part.get("breakdown", default)):
                out.append(f"{name}: the {side} {part!r} is no indicator's breakdown")
        for breakdown, spec in breakdowns.items():
            spec = spec or {}
            where = f"{name}/{breakdown}"
            rules = [r for r in RULES if r in spec]
            if rules == ["code_list", "categories"]:  # a code list and categories besides it (multiple_forms)
                rules = ["code_list"]
            if breakdown != "total" and len(rules) != 1:
                out.append(f"{where}: needs exactly one of {RULES}, has {rules}")
            if spec.get("code_list", next(iter(lists))) not in lists:
                out.append(f"{where}: unknown code list {spec['code_list']!r}")
            if set(spec.get("composite", ())) - lists:
                out.append(f"{where}: unknown code lists in {spec['composite']}")
            for category, label in spec.get("categories", {}).items():
                if not (label or {}).get("sr") or not label.get("en"):
                    out.append(f"{where}: category {category} has no Serbian and English label")
            if set(spec.get("shown_in", ())) - OUTPUTS:
                out.append(f"{where}: shown in an unknown output {spec['shown_in']}")
            if "summary_table" in spec:
                positions["summary_table"].append(spec["summary_table"])
            sums_to = spec.get("sums_to")
            if sums_to is None:
                continue
            if isinstance(sums_to, dict) and "breakdown" in sums_to:  # a composite into a coarser composite
                coarser = breakdowns.get(sums_to["breakdown"]) or {}
                coarser_lists = coarser.get("composite") or ([coarser["code_list"]] if "code_list" in coarser else None)
                if spec.get("composite", [])[:-1] != coarser_lists or not spec.get("composite"):
                    out.append(f"{where}: adds up into {sums_to['breakdown']!r}, which must be its composite "
                               f"without the last code list")
                continue
            if spec.get("multi_code") or "composite" in spec or not ({"code_list", "categories"} & set(spec)):
                out.append(f"{where}: adds up to a total, so its categories must be one code list or the catalogue's")
            if sums_to == "total" and "total" not in breakdowns:
                out.append(f"{where}: adds up to a total the indicator does not have")
            if isinstance(sums_to, dict):
                if not has(sums_to.get("indicator"), "total"):
                    out.append(f"{where}: adds up to {sums_to.get('indicator')!r}, which has no total")
                codes = set(reference.codes(spec["code_list"])) if "code_list" in spec else set(spec.get("categories", {}))
                if not sums_to.get("categories") or set(sums_to["categories"]) - codes:
                    out.append(f"{where}: adds up categories {sums_to.get('categories')} that are not its codes")
            elif sums_to != "total":
                out.append(f"{where}: sums_to is total or {{indicator, categories}}, not {sums_to!r}")
    for field, taken in positions.items():
        if len(taken) != len(set(taken)):
            out.append(f"two {field}s at the same position: {sorted(taken)}")
    if "total" not in shared:
        out.append("the shared categories have no label for total")
    return out


def test_the_catalogue_gives_every_output_what_it_needs():
    assert problems(indicator_catalogue._document()) == []


@pytest.mark.parametrize("spoil, expected", [
    (lambda d: d["indicators"]["share_in_reintegration"].pop("share"), "unit share but share parts None"),
    (lambda d: d["indicators"]["victims"]["breakdowns"]["sex"].pop("code_list"), "victims/sex: needs exactly one"),
    (lambda d: d["indicators"]["activities"]["breakdowns"].pop("total"), "activities: a headline without a total"),
    (lambda d: d["indicators"]["victims"]["breakdowns"]["exploitation"].update(sums_to="total"),
     "victims/exploitation: adds up to a total"),
    (lambda d: d["indicators"]["share_receiving_service"]["share"]["numerator"].update(indicator="nothing"),
     "share_receiving_service: the numerator"),
    (lambda d: d["indicators"]["programmes"]["breakdowns"]["type"].update(code_list="programme_kind"),
     "unknown code list 'programme_kind'"),
    (lambda d: d["indicators"]["prosecution_persons"]["breakdowns"]["article_stage_sex"].update(
        sums_to={"breakdown": "total"}), "prosecution_persons/article_stage_sex: adds up into 'total'"),
])
def test_a_catalogue_that_lacks_something_fails(spoil, expected):
    document = copy.deepcopy(indicator_catalogue._document())
    spoil(document)
    assert any(expected in p for p in problems(document)), problems(document)


def test_what_the_outputs_read():
    assert indicator_catalogue.headlines() == (
        "victims", "victims_in_reintegration", "programmes", "programme_beneficiaries", "programme_funding_rsd",
        "share_funding_local_migration_councils", "activities", "people_reached", "cross_border_events")
    assert indicator_catalogue.charted("status_page") == (
        "victims", "victims_in_reintegration", "programme_beneficiaries", "people_reached")
    assert indicator_catalogue.charted("summary") == indicator_catalogue.charted("status_page") + ("reporting_rate",)
    assert indicator_catalogue.summary_tables()[:2] == (("persons_by_status", "status"), ("victims", "sex"))
    assert indicator_catalogue.additive_breakdowns() == {("victims", b) for b in (
        "sex", "age_group", "citizenship", "migration_status", "exploitation_once", "compensation", "free_legal_aid",
        "residence_permit")} | {("persons_referred", "referral_source"), ("programme_beneficiaries", "type"),
                                ("people_reached", "type"), ("cross_border_persons", "counterpart_country")}
    assert indicator_catalogue.sums_into_coarser_breakdowns() == (
        ("persons_referred", "referral_source_status", "referral_source"),
        ("prosecution_persons", "article_stage_sex", "article_stage"))
    assert ("victims", "exploitation_once") in indicator_catalogue.shown_in("status_page")
    assert {b for i, b in indicator_catalogue.shown_in("greta")} >= {"exploitation_once", "referral_source_status", "compensation"}
    assert indicator_catalogue.sums_into_other_totals() == (
        ("persons_by_status", "status", ("possible_victim", "identified_victim"), "victims"),)
    receipt = set(indicator_catalogue.receipt_breakdowns())
    assert ("prosecution_persons", "article_stage") in receipt and ("victims", "exploitation") not in receipt
    assert not any(name == "victims_also_reported_by_another_team" for name, _ in receipt)
    assert indicator_catalogue.share_parts("share_receiving_service") == {
        "numerator": {"indicator": "victims_receiving_service", "breakdown": None, "category": None},
        "denominator": {"indicator": "victims", "breakdown": "total", "category": "total"}}
    assert indicator_catalogue.share_parts("victims") is None
    assert indicator_catalogue.code_list_of("activities", "type") == "activity_type"
    assert indicator_catalogue.code_list_of("programmes", "type") == "programme_type"
    assert indicator_catalogue.code_list_of("prosecution_persons", "article_stage_sex") == (
        "criminal_code_article", "justice_stage", "sex")


def test_one_category_key():
    import pandas as pd

    assert category_key("388", "indictment") == "388/indictment"
    assert category_parts(category_key("388", "indictment", "male")) == ["388", "indictment", "male"]
    column = category_key(pd.Series(["388", "390"]), pd.Series(["indictment", "investigation"]), "female")
    assert column.tolist() == ["388/indictment/female", "390/investigation/female"]
    # a code holding the separator would make its key ambiguous
    assert not [(name, c.code) for name, codes in reference.code_lists().items() for c in codes
                if indicator_catalogue.KEY_SEPARATOR in c.code]


def test_labels_of_composite_and_made_categories():
    assert category_label("prosecution_persons", "article_stage", "388/indictment") == (
        "Trgovina ljudima (čl. 388 KZ): Optužnica", "Trafficking in human beings (CC art. 388): Indictment")
    assert category_label("prosecution_persons", "article_stage_sex", "390/final_conviction/female")[1] == (
        "Slavery (CC art. 390): Final conviction, Female")
    assert category_label("victims", "citizenship", "foreign") == ("Strani državljani", "Foreign citizens")
    assert category_label("victims", "exploitation", "not_stated")[1] == "Not stated"
    assert category_label("victims", "exploitation_once", "multiple_forms")[1] == "Multiple forms of exploitation"
    assert category_label("victims", "exploitation_once", "labour")[1] == "Labour exploitation"
    assert category_label("persons_referred", "referral_source_status", "police/not_a_victim")[1] == "Police: Not a victim"
    assert category_label("victims", "compensation", "awarded")[0] == "Naknada dosuđena"
    assert category_label("cross_border_events", "counterpart_country", "MK")[1] == "North Macedonia"
    assert category_label("reporting_rate", "dataset", "victims") == tuple(contracts.load("victims").title[k] for k in ("sr", "en"))


def _known_labels() -> set[str]:
    """Every label a category may have: the code lists, the countries, the datasets' titles, the catalogue's."""
    known = {label for codes in reference.code_lists().values() for c in codes for label in (c.label_sr, c.label_en)}
    known |= {contracts.load(d).title[k] for d in contracts.datasets() for k in ("sr", "en")}
    document = indicator_catalogue._document()
    made = [document["categories"]] + [spec.get("categories", {}) for item in document["indicators"].values()
                                       for spec in item["breakdowns"].values() if spec]
    return known | {label[k] for categories in made for label in categories.values() for k in ("sr", "en")}


@pytest.mark.parametrize("reporting_db_url", ["sqlite"], indirect=True)
def test_every_published_category_is_declared_and_labelled(config, tmp_path):
    from pathlib import Path

    from thb_reporting.tools.generator import SubmissionGenerator

    generator = SubmissionGenerator(Path(config.inbox.removeprefix("file://")), seed=31, shared_persons=2)
    generator.scenario(["nis", "leskovac", "subotica", "novi_sad"], ["2026Q1", "2026Q2"], datasets=contracts.datasets())
    run_cycle(config)
    t = table("indicators")
    subs = table("submissions", "ledger")
    with reader_engine(config.reporting_db_url).connect() as conn:
        published = set(conn.execute(select(t.c.indicator, t.c.breakdown, t.c.category).distinct()).all())
        accepted = conn.execute(select(subs).where(subs.c.status == "accepted")).all()
    catalogue = indicator_catalogue.catalogue()
    produced = {(i, b) for i, b, _ in published}
    declared = {(name, b) for name, item in catalogue.items() for b in item["breakdowns"]}
    assert produced <= declared, produced - declared
    assert {i for i, _ in produced} == set(catalogue)  # the scenario exercises every indicator
    assert {("prosecution_persons", "article_stage_sex"), ("victims", "citizenship"), ("reporting_rate", "dataset")} <= produced
    known = _known_labels()
    code_labels = {(name, c.code): (c.label_sr, c.label_en) for name, codes in reference.code_lists().items() for c in codes}
    for indicator, breakdown, category in sorted(published):
        sr, en = category_label(indicator, breakdown, category)
        where = (indicator, breakdown, category, sr, en)
        lists = indicator_catalogue.code_list_of(indicator, breakdown)
        if isinstance(lists, tuple):  # composite: each code shown by its code list's label
            parts = category_parts(category)
            assert len(parts) == len(lists), where
            for code_list, code in zip(lists, parts):
                assert (code_list, code) in code_labels, where
                assert code_labels[(code_list, code)][0] in sr and code_labels[(code_list, code)][1] in en, where
        else:
            assert sr in known and en in known, where
        assert category != sr, where  # (the English of total is "total": a declared label, checked above)

    # the teams' receipts (the figures of an accepted file) show the same labels
    figures = [f for fs in notifications._figures_of(accepted).values() for f in fs]
    prosecution = [f["label"] for f in figures if f["label"]["en"].startswith(catalogue["prosecution_persons"]["en"])]
    assert prosecution and all("(CC art. 3" in label["en"] and "/" not in label["en"] for label in prosecution), prosecution


def test_every_category_the_catalogue_can_name_has_a_label_that_is_not_its_code():
    """What the analysts' labelled views and every other output show: a label in each language, never the
    code itself (total included: 'Ukupno' / 'Total')."""
    rows = indicator_catalogue.category_labels()
    assert {(i, b) for i, b, *_ in rows} == {(i, b) for i, item in indicator_catalogue.catalogue().items()
                                             for b in item["breakdowns"]}
    unnamed = [(i, b, c) for i, b, c, sr, en in rows if not sr or not en or c in (sr, en)]
    assert unnamed == []
    assert ("prosecution_persons", "article_stage", "388/indictment") in {(i, b, c) for i, b, c, *_ in rows}
