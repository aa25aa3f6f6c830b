"""The tests' oracle: what the pipeline must publish from the files SubmissionGenerator wrote, computed
here in plain Python from the generated rows (GeneratedFile.rows), independently of the pipeline's own
code. It lives with the tests, not in the product: nothing in include/ needs the expected figures."""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from thb_reporting.core import reference
from thb_reporting.tools.generator import GeneratedFile


# CTDC's Global Dataset age bands (ageBroad) and the research export's columns after its row id
CTDC_AGE_BANDS = [(0, 8, "0--8"), (9, 17, "9--17"), (18, 20, "18--20"), (21, 23, "21--23"), (24, 26, "24--26"),
                  (27, 29, "27--29"), (30, 38, "30--38"), (39, 47, "39--47"), (48, None, "48+")]
RESEARCH_MISSING = "-99"  # CTDC's code for a value not known


def _ctdc_flags(code_list: str) -> tuple[str, ...]:
    """CTDC's 0/1 columns for a national code list, in reference/standard_codes.csv's order."""
    return tuple(dict.fromkeys(f for (cl, _), fields in reference.standard_codes("CTDC").items() if cl == code_list
                               for f in fields))


RESEARCH_FLAGS = {cl: _ctdc_flags(cl) for cl in ("exploitation", "forced_labour_industry", "methods_of_control",
                                                   "relationship_to_trafficker")}
RESEARCH_FIELDS = ("yearOfRegistration", "gender", "ageBroad", "majorityStatus", "majorityStatusAtExploit", "citizenship",
                   "CountryOfExploitation", *(c for flags in RESEARCH_FLAGS.values() for c in flags))


@dataclass
class Truth:
    """What the pipeline must make of the generated files. `files` may be a generator's own list
    (SubmissionGenerator.files): the truth then follows every file written after it was made."""
    files: list[GeneratedFile] = field(default_factory=list)

    def current(self, dataset: str = "victims") -> dict[tuple[str, str], GeneratedFile]:
        """Per team and quarter, the last accepted file written (a re-submission replaces)."""
        out = {}
        for f in self.files:
            if f.dataset == dataset and f.expected_status == "accepted":
                out[(f.team, f.quarter)] = f
        return out

    def rows(self, dataset: str) -> list[tuple[str, str, dict]]:
        """(team, quarter, row) of every row that must be published for a dataset."""
        return [(t, q, r) for (t, q), f in sorted(self.current(dataset).items()) for r in f.rows]

    def victims_by_team_quarter(self) -> Counter:
        counts = Counter()
        for team, quarter, p in self.rows("victims"):
            age = p["age_years"]
            group = "unknown" if age is None else ("child" if age < 18 else "adult")
            for form in (p["exploitation"].split(";") if p["exploitation"] else ["not_stated"]):
                counts[(team, quarter, p["status"], p["sex"], group, form)] += 1
        return counts

    def published_rows(self, dataset: str = "victims") -> int:
        return len(self.rows(dataset))

    def indicators(self, district_of: dict[str, str]) -> dict[tuple, float]:
        """Every indicator the pipeline must publish, computed here in plain Python from the generated
        rows: {(indicator, level, area, period, breakdown, category): value}. Zeros of counts are absent
        unless a row gave them; shares are given for every code of an area and period with victims."""
        out: dict[tuple, float] = defaultdict(float)
        statuses = ("possible_victim", "identified_victim")
        # the Centre (no district in the registry) counts in its own team rows and the nation's only
        areas = {"team": lambda t: t, "district": lambda t: district_of.get(t) or None, "nation": lambda t: "RS"}
        services = reference.codes("service")
        for level, area_of in areas.items():
            for period_of in (lambda q: q, lambda q: q[:4]):
                def add(indicator, area, period, breakdown, category, value=1):
                    out[(indicator, level, area, period, breakdown, category)] += value

                # victims: one person per CPTV number per area and period, the first referred kept
                people = sorted(((r["referral_date"], t, i, q, r) for t, q, rows in self._files_rows("victims")
                                 for i, r in enumerate(rows)), key=lambda x: x[:3])
                kept, seen = [], set()
                for _, team, _, quarter, r in people:
                    if area_of(team) is None:
                        continue
                    key = (area_of(team), period_of(quarter), " ".join(r["cptv_ref"].split()).upper()) if r["cptv_ref"] else None
                    if key and key in seen:
                        continue
                    seen.add(key)
                    kept.append((team, area_of(team), period_of(quarter), r))
                victims_per = Counter()
                teams_per_number = defaultdict(set)
                for team, area, period, r in kept:
                    add("persons_by_status", area, period, "status", r["status"])
                    add("persons_referred", area, period, "total", "total")
                    add("persons_referred", area, period, "referral_source", r["referral_source"])
                    add("persons_referred", area, period, "referral_source_status", f"{r['referral_source']}/{r['status']}")
                    if r["status"] not in statuses:
                        continue
                    victims_per[(area, period)] += 1
                    add("victims", area, period, "total", "total")
                    add("victims", area, period, "sex", r["sex"])
                    age = r["age_years"]
                    add("victims", area, period, "age_group", "unknown" if age is None else ("child" if age < 18 else "adult"))
                    for form in (r["exploitation"] or "not_stated").split(";"):
                        add("victims", area, period, "exploitation", form)
                    add("victims", area, period, "citizenship", "serbian" if r["citizenship"] == "RS" else "foreign")
                    add("victims", area, period, "migration_status", r["migration_status"])
                    add("victims", area, period, "exploitation_once", self.form_once(r))
                    for column in ("compensation", "free_legal_aid", "residence_permit"):  # victims contract v2
                        add("victims", area, period, column, r.get(column) or "not_stated")
                    for service in (r["services"] or "").split(";"):
                        if service:
                            add("victims_receiving_service", area, period, "service", service)
                    if r["reintegration_programme"] == "yes":
                        add("victims_in_reintegration", area, period, "total", "total")
                    if r["cptv_ref"]:
                        teams_per_number[(period, " ".join(r["cptv_ref"].split()).upper())].add(team)
                for (area, period), n in victims_per.items():
                    for service in services:
                        out[("share_receiving_service", level, area, period, "service", service)] = \
                            out.get(("victims_receiving_service", level, area, period, "service", service), 0) / n
                    out[("share_in_reintegration", level, area, period, "total", "total")] = \
                        out.get(("victims_in_reintegration", level, area, period, "total", "total"), 0) / n
                if level == "team":
                    for team, area, period, r in kept:
                        if r["status"] in statuses and r["cptv_ref"] and len(
                                teams_per_number[(period, " ".join(r["cptv_ref"].split()).upper())]) > 1:
                            add("victims_also_reported_by_another_team", area, period, "total", "total")

                for team, quarter, rows in self._files_rows("criminal_justice"):
                    area, period = area_of(team), period_of(quarter)
                    for r in rows:
                        pair = f"{r['article']}/{r['stage']}"
                        add("prosecution_persons", area, period, "article_stage", pair, r["persons_male"] + r["persons_female"])
                        add("prosecution_persons", area, period, "article_stage_sex", pair + "/male", r["persons_male"])
                        add("prosecution_persons", area, period, "article_stage_sex", pair + "/female", r["persons_female"])
                        add("prosecution_cases", area, period, "article_stage", pair, r["cases"])

                latest = {}  # a programme counts once per period: its latest report
                for team, quarter, rows in sorted(self._files_rows("programmes"), key=lambda x: x[1]):
                    for r in rows:
                        latest[(team, r["programme_ref"], period_of(quarter))] = (area_of(team), r)
                funding = defaultdict(lambda: [0, 0])
                for (_, _, period), (area, r) in latest.items():
                    add("programme_funding_rsd", area, period, "total", "total", r["amount_rsd"])
                    add("programme_funding_rsd", area, period, "funding_source", r["funding_source"], r["amount_rsd"])
                    add("programmes", area, period, "total", "total")
                    add("programmes", area, period, "type", r["type"])
                    add("programme_beneficiaries", area, period, "total", "total", r["beneficiaries"])
                    add("programme_beneficiaries", area, period, "type", r["type"], r["beneficiaries"])
                    funding[(area, period)][0] += r["amount_rsd"] if r["funding_source"] == "local_migration_council" else 0
                    funding[(area, period)][1] += r["amount_rsd"]
                for (area, period), (local, total) in funding.items():
                    if total:
                        out[("share_funding_local_migration_councils", level, area, period, "total", "total")] = local / total

                for team, quarter, rows in self._files_rows("activities"):
                    area, period = area_of(team), period_of(quarter)
                    for r in rows:
                        add("activities", area, period, "total", "total")
                        for breakdown in ("type", "with_migration_council", "public_visibility"):
                            add("activities", area, period, breakdown, r[breakdown])
                        add("people_reached", area, period, "total", "total", r["participants"])
                        add("people_reached", area, period, "type", r["type"], r["participants"])

                for team, quarter, rows in self._files_rows("cross_border"):
                    area, period = area_of(team), period_of(quarter)
                    for r in rows:
                        add("cross_border_events", area, period, "total", "total")
                        for breakdown in ("counterpart_country", "kind", "direction", "mixed_migration"):
                            add("cross_border_events", area, period, breakdown, r[breakdown])
                        add("cross_border_persons", area, period, "total", "total", r["persons"])
                        add("cross_border_persons", area, period, "counterpart_country", r["counterpart_country"], r["persons"])
        return dict(out)

    @staticmethod
    def form_once(row: dict) -> str:
        """A person's form counted once: the one form, multiple_forms for two or more, not_stated for none."""
        forms = {f for f in (row["exploitation"] or "").split(";") if f}
        return "not_stated" if not forms else (forms.pop() if len(forms) == 1 else "multiple_forms")

    def nation_victims(self, year: str) -> list[dict]:
        """The victims (identified and presumed) of a year, each person once nationally (first referred kept)."""
        people = sorted(((r["referral_date"], t, i, q, r) for t, q, rows in self._files_rows("victims")
                         for i, r in enumerate(rows) if q.startswith(year)), key=lambda x: x[:3])
        seen, out = set(), []
        for _, _, _, _, r in people:
            key = " ".join(r["cptv_ref"].split()).upper() if r["cptv_ref"] else None
            if key and key in seen:
                continue
            seen.add(key)
            if r["status"] in ("possible_victim", "identified_victim"):
                out.append(r)
        return out

    def victims_by_form_sex_age(self, year: str) -> Counter:
        """{(form counted once, sex, child | adult | unknown): victims} of a year, nationally."""
        return Counter((self.form_once(r), r["sex"], "unknown" if r["age_years"] is None else
                        ("child" if r["age_years"] < 18 else "adult")) for r in self.nation_victims(year))

    def crim_thb(self) -> dict[tuple, int]:
        """{(time, leg_stat, sex, citizen, expl): victims}, each person once nationally per year."""
        codes, eu = reference.eurostat_codes(), reference.eu_members()
        people = sorted(((r["referral_date"], t, i, q, r) for t, q, rows in self._files_rows("victims")
                         for i, r in enumerate(rows)), key=lambda x: x[:3])
        seen, out = set(), Counter()
        for _, _, _, quarter, r in people:
            key = (quarter[:4], " ".join(r["cptv_ref"].split()).upper()) if r["cptv_ref"] else None
            if key and key in seen:
                continue
            seen.add(key)
            if r["status"] not in ("possible_victim", "identified_victim"):
                continue
            citizen = "reporting_country" if r["citizenship"] == "RS" else ("other_eu" if r["citizenship"] in eu else "non_eu")
            groups = {codes[("expl", f)] for f in (r["exploitation"] or "").split(";") if f} or {"UNK"}
            for group in groups:
                out[(quarter[:4], codes[("leg_stat", r["status"])], codes[("sex", r["sex"])],
                     codes[("citizen", citizen)], group)] += 1
        return dict(out)

    def eurostat_transmission(self, year: str) -> dict[tuple, int | None]:
        """{(LEG_STAT, SEX, AGE, CITIZEN, EXPL): persons} of the Eurostat transmission's year: victims each
        once nationally, crossed by legal status × sex × age, × citizenship, × form (a person under each
        Eurostat group of its forms, once in TOTAL), every combination with TOTAL; stateless None (the
        contract cannot tell); and suspected / prosecuted / convicted persons by sex summed over the
        teams' criminal_justice rows of the stages the reference maps."""
        codes, eu = reference.eurostat_codes(), reference.eu_members()
        extra = {(r["code_list"], r["code"]): r["eurostat_code"] for r in reference.csv_rows("eurostat_transmission.csv")}
        persons = []
        for r in self.nation_victims(year):
            age = r["age_years"]
            citizen = "reporting_country" if r["citizenship"] == "RS" else ("other_eu" if r["citizenship"] in eu else "non_eu")
            persons.append({"leg": codes[("leg_stat", r["status"])], "sex": codes[("sex", r["sex"])],
                            "age": extra[("age", "unknown" if age is None else ("child" if age < 18 else "adult"))],
                            "citizen": codes[("citizen", citizen)],
                            "expl": {codes[("expl", f)] for f in (r["exploitation"] or "").split(";") if f}
                            or {extra[("expl", "not_stated")]}})
        out: dict[tuple, int | None] = {}
        T = {d: extra[(d, "total")] for d in ("leg_stat", "sex", "age", "citizen", "expl")}
        if self.current("victims") and any(q[:4] == year for _, q in self.current("victims")):
            legs = [codes[("leg_stat", "possible_victim")], codes[("leg_stat", "identified_victim")], T["leg_stat"]]
            sexes = [codes[("sex", s)] for s in ("female", "male", "other_unknown")] + [T["sex"]]
            ages = [extra[("age", a)] for a in ("child", "adult", "unknown")] + [T["age"]]
            citizens = [codes[("citizen", c)] for c in ("reporting_country", "other_eu", "non_eu")] + [
                extra[("citizen", c)] for c in ("stateless", "unknown", "total")]
            forms = sorted({codes[k] for k in codes if k[0] == "expl"}) + [extra[("expl", "not_stated")], T["expl"]]

            def n(leg, sex, age=None, citizen=None, form=None):
                return sum(1 for p in persons if leg in (p["leg"], T["leg_stat"]) and sex in (p["sex"], T["sex"])
                           and (age is None or age in (p["age"], T["age"]))
                           and (citizen is None or citizen in (p["citizen"], T["citizen"]))
                           and (form is None or form == T["expl"] or form in p["expl"]))
            for leg in legs:
                for sex in sexes:
                    for age in ages:
                        out[(leg, sex, age, T["citizen"], T["expl"])] = n(leg, sex, age=age)
                    for citizen in citizens:
                        out[(leg, sex, T["age"], citizen, T["expl"])] = (
                            None if citizen == extra[("citizen", "stateless")] else n(leg, sex, citizen=citizen))
                    for form in forms:
                        out[(leg, sex, T["age"], T["citizen"], form)] = n(leg, sex, form=form)
        justice = [(q, r) for t, q, rows in self._files_rows("criminal_justice") if q[:4] == year for r in rows]
        if justice:
            for stage in reference.codes("justice_stage"):
                legal_status = extra[("leg_stat", stage)]
                if not legal_status:
                    continue
                female = sum(r["persons_female"] for _, r in justice if r["stage"] == stage)
                male = sum(r["persons_male"] for _, r in justice if r["stage"] == stage)
                for sex, value in ((codes[("sex", "female")], female), (codes[("sex", "male")], male), (T["sex"], female + male)):
                    out[(legal_status, sex, T["age"], T["citizen"], T["expl"])] = value
        return out

    def sdg_16_2_2(self, district_of: dict[str, str], teams: reference.TeamRegistry | None = None) -> dict[tuple, float]:
        """{(level, area, year, breakdown, category): victims per 100,000 population} (teams: the package's
        registry unless given). The nation's row is 'RS' over the nation's population where the Centre
        reported every quarter of the year, else 'RS_PART' over the population of the local teams summed;
        a unit without a municipality (the Centre) has no rate of its own."""
        teams = teams if teams is not None else reference.teams()
        covered = self.coverage(teams)
        out = {}
        for (indicator, level, area, period, breakdown, category), value in self.indicators(
                {c: t.district_code for c, t in teams.items()}).items():
            if indicator != "victims" or level not in ("team", "nation") or len(period) != 4 \
                    or breakdown not in ("total", "sex", "age_group", "exploitation"):
                continue
            if level == "nation":
                national, _, population = covered[("victims", period)]
                area = "RS" if national else "RS_PART"
            else:
                population = teams.population.get(area)
                if population is None:
                    continue
            out[(level, area, period, breakdown, category)] = value * 100_000 / population
        return out

    def coverage(self, teams: reference.TeamRegistry) -> dict[tuple[str, str], tuple[bool, tuple[str, ...], int]]:
        """{(dataset, period): (national, units, population)} for every quarter and year with an accepted
        file: national where a unit of national scope for the dataset has an accepted file in every quarter
        of the period that has any; population the nation's then, else the sum over the local units."""
        files = [f for f in self.files if f.expected_status == "accepted"]
        out = {}
        for dataset in {f.dataset for f in files}:
            by_quarter = defaultdict(set)
            for f in files:
                if f.dataset == dataset:
                    by_quarter[f.quarter].add(f.team)
            for period in set(by_quarter) | {q[:4] for q in by_quarter}:
                quarters = [q for q in by_quarter if q.startswith(period)]
                units = set().union(*(by_quarter[q] for q in quarters))
                national = all(any(teams[u].scope == "national" and dataset in (teams[u].datasets or dataset).split(";")
                                   for u in by_quarter[q]) for q in quarters)
                population = teams.population["RS"] if national else sum(
                    teams.population[u] for u in units if teams[u].scope == "local")
                out[(dataset, period)] = (national, tuple(sorted(units)), population)
        return out

    # The SDG 16.2.2 groups of the national forms, written here from the series' names (sexual exploitation;
    # forced labour, servitude and slavery; removal of organ; other purposes), not read from the product.
    SDG_GROUP = {"sexual": "sexual", "pornography": "sexual", "labour": "labour", "servitude": "labour",
                 "organ_removal": "organs", "begging": "other", "criminality": "other", "forced_marriage": "other",
                 "illegal_adoption": "other", "other": "other"}

    def sdg_victims(self, year: str) -> Counter:
        """Victims (identified and presumed) of a year counted once nationally (one person per CPTV number,
        the first referred kept): {(group, sex, age_group): persons} for group 'all' and each SDG group of
        forms (a person with forms in two groups counts in each, once per group), sex and age_group
        ('child' < 18, 'adult', 'unknown') and their totals ('total')."""
        out = Counter()
        for r in self.nation_victims(year):
            age = r["age_years"]
            age_group = "unknown" if age is None else ("child" if age < 18 else "adult")
            groups = {"all"} | {self.SDG_GROUP[f] for f in (r["exploitation"] or "").split(";") if f}
            for group in groups:
                for sex in (r["sex"], "total"):
                    for a in (age_group, "total"):
                        out[(group, sex, a)] += 1
        return out

    def research_persons(self, year: str) -> Counter:
        """The research export's rows of a year before any generalisation (k = 1), as a Counter of tuples in
        the order of RESEARCH_FIELDS: presumed and identified victims, each person once nationally (the same
        CPTV number once, the first referred kept), the national codes mapped to CTDC's by reference/standard_codes.csv,
        ages banded here by CTDC's bands, -99 for a value not known."""
        ctdc, missing = reference.standard_codes("CTDC"), RESEARCH_MISSING

        def flags(code_list, value):
            codes = [c for c in (value or "").split(";") if c]
            named = {f for c in codes for f in ctdc.get((code_list, c), {})}
            return [("1" if f in named else "0") if codes else missing for f in RESEARCH_FLAGS[code_list]]

        def band(age):
            if age is None:
                return missing, missing
            broad = next(label for low, high, label in CTDC_AGE_BANDS if low <= age and (high is None or age <= high))
            return broad, "Minor" if age < 18 else "Adult"

        out = Counter()
        for r in self.nation_victims(year):
            forms = flags("exploitation", r["exploitation"])
            labour = flags("forced_labour_industry", r.get("forced_labour_industry"))
            if forms[RESEARCH_FLAGS["exploitation"].index("isForcedLabour")] != "1":
                labour = [missing] * len(labour)
            gender = ctdc.get(("sex", r["sex"]), {}).get("gender", missing)
            out[(year, gender, *band(r["age_years"]), band(r.get("age_when_trafficked"))[1], r["citizenship"] or missing,
                 r.get("country_of_exploitation") or missing, *forms, *labour,
                 *flags("methods_of_control", r.get("methods_of_control")),
                 *flags("relationship_to_trafficker", r.get("relationship_to_trafficker")))] += 1
        return out

    def _files_rows(self, dataset: str) -> list[tuple[str, str, list[dict]]]:
        return [(t, q, f.rows) for (t, q), f in sorted(self.current(dataset).items())]

    def references(self) -> set[str]:
        """Every case and CPTV reference written into any file (they must never appear in clear after ingestion)."""
        return {r[k] for f in self.files if f.dataset == "victims" for r in f.rows for k in ("case_ref", "cptv_ref") if r[k]}
