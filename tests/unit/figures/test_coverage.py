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
