"""Coverage: a figure is the nation's only where a national unit reported every quarter it sums."""
import csv

from thb_reporting.figures import coverage
from thb_reporting.core import reference


def _registry(tmp_path):
    path = tmp_path / "teams.csv"
    rows = list(csv.DictReader(open(reference.PACKAGE_TEAMS, encoding="utf-8")))[:3]
    rows = [{**r, "scope": "", "datasets": ""} for r in rows]
    rows.append({**rows[0], "municipality_code": "czztlj", "name_lat": "CZŽTLJ", "district_code": "", "scope": "national",
                 "datasets": "victims"})
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return reference.teams(path)


def test_national_only_where_the_national_unit_reported_every_quarter(tmp_path):
    teams = _registry(tmp_path)
    local = list(teams)[:2]
    submitted = [("victims", local[0], "2026Q2"), ("victims", local[1], "2026Q3"), ("victims", "czztlj", "2026Q3"),
                 ("criminal_justice", "czztlj", "2026Q3"), ("criminal_justice", local[0], "2026Q3")]
    got = coverage.of_submissions(submitted, teams, ["2026", "2026Q2", "2026Q3"])
    assert got[("victims", "2026Q3")].national and got[("victims", "2026Q3")].label == "nation"
    assert got[("victims", "2026Q3")].population == teams.population["RS"]
    year = got[("victims", "2026")]  # Q2 without the Centre: the year is a partial sum
    assert not year.national and year.label == "units" and year.quarters == ("2026Q2", "2026Q3")
    assert year.units == tuple(sorted([local[0], local[1], "czztlj"]))
    assert year.population == teams.population[local[0]] + teams.population[local[1]]
    assert not got[("victims", "2026Q2")].national
    # the Centre reports victims nationally, not criminal justice
    assert not got[("criminal_justice", "2026Q3")].national
    assert "not the whole country" in got[("criminal_justice", "2026Q3")].describe()
    assert ("programmes", "2026") not in got


def test_every_quarter_of_the_period_is_checked_against_the_calendar(tmp_path):
    """#25 (a year is the year): a year is complete only where each of its four quarters has every submission the
    calendar says is owed; a quarter with no data, or with an owed submission missing, makes it incomplete."""
    from thb_reporting.store.reporting_calendar import owed_submissions

    teams = _registry(tmp_path)
    local = list(teams)[:2]
    quarters = [f"2026Q{n}" for n in range(1, 5)]
    owed = {(d, t, q) for d, t, q in owed_submissions(teams, quarters) if d == "victims"}
    assert {t for _, t, _ in owed} == set(teams)  # every unit owes victims every quarter (the registry's defaults)
    everything = sorted(owed)
    got = coverage.of_submissions(everything, teams, ["2026", "2026Q1"], owed)
    assert got[("victims", "2026")].complete and got[("victims", "2026")].describe_period() == ""
    # one team's Q1 file missing: the year and Q1 are incomplete, Q2 … Q4 are not asked about here
    short = [s for s in everything if s != ("victims", local[1], "2026Q1")]
    got = coverage.of_submissions(short, teams, ["2026", "2026Q1"], owed)
    assert got[("victims", "2026")].incomplete == ("2026Q1",) == got[("victims", "2026Q1")].incomplete
    assert "2026Q1" in got[("victims", "2026")].describe_period()
    # only the quarters that have data, as before #25, would have called this year whole
    two = [s for s in everything if s[2] in ("2026Q2", "2026Q3")]
    got = coverage.of_submissions(two, teams, ["2026"], owed)
    assert got[("victims", "2026")].quarters == ("2026Q2", "2026Q3")
    assert got[("victims", "2026")].incomplete == ("2026Q1", "2026Q4")
    assert coverage.of_submissions(two, teams, ["2026"])[("victims", "2026")].incomplete == ("2026Q1", "2026Q4")
