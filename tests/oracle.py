"""The tests' oracle: what the pipeline must publish from the files SubmissionGenerator wrote, computed
here in plain Python from the generated rows (GeneratedFile.rows), independently of the pipeline's own
code. It lives with the tests, not in the product: nothing in include/ needs the expected figures."""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from thb_reporting import reference
from thb_reporting.generator import GeneratedFile


# CTDC's Global Dataset age bands (ageBroad) and the research export's columns after its row id
CTDC_AGE_BANDS = [(0, 8, "0--8"), (9, 17, "9--17"), (18, 20, "18--20"), (21, 23, "21--23"), (24, 26, "24--26"),
                  (27, 29, "27--29"), (30, 38, "30--38"), (39, 47, "39--47"), (48, None, "48+")]
RESEARCH_FIELDS = ("yearOfRegistration", "vic_TraffickingStatus", "prs_Gender", "ageBroad", "majorityStatus",
                   "majorityStatusAtExploit", "prs_Citizenship", "CountryOfExploitation", "vic_TypeOfExploitation",
                   "isSexualExploit", "isForcedLabour", "isOtherExploit", "vic_MethodsOfControl",
                   "vic_RelationshipToTrafficker", "vic_ForcedLabourIndustry")


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
        areas = {"team": lambda t: t, "district": lambda t: district_of[t], "nation": lambda t: "RS"}
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
                    key = (area_of(team), period_of(quarter), " ".join(r["cptv_ref"].split()).upper()) if r["cptv_ref"] else None
                    if key and key in seen:
                        continue
                    seen.add(key)
                    kept.append((team, area_of(team), period_of(quarter), r))
                victims_per = Counter()
                teams_per_number = defaultdict(set)
                for team, area, period, r in kept:
                    add("persons_by_status", area, period, "status", r["status"])
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

    def sdg_16_2_2(self, district_of: dict[str, str], population: dict[str, int] | None = None) -> dict[tuple, float]:
        """{(level, area, year, breakdown, category): victims per 100,000 population} (population: the
        package's registry unless given)."""
        population = population if population is not None else reference.population()
        return {(level, area, period, breakdown, category): value * 100_000 / population[area]
                for (indicator, level, area, period, breakdown, category), value in self.indicators(district_of).items()
                if indicator == "victims" and level in ("team", "nation") and len(period) == 4
                and breakdown in ("total", "sex", "age_group", "exploitation")}

    def research_persons(self, year: str) -> Counter:
        """The research export's rows of a year before any generalisation (k = 1), as a Counter of tuples in
        the order of RESEARCH_FIELDS: presumed and identified victims, each person once nationally (the same
        CPTV number once, the first referred kept), the national codes mapped by reference/standard_codes.csv
        and ages banded here by CTDC's bands."""
        htcds, ctdc = reference.standard_codes("HTCDS 2.0"), reference.standard_codes("CTDC")

        def mapped(code_list, field, value, standard=htcds):
            values = [standard[(code_list, c)][field] for c in (value or "").split(";") if c and field in standard.get((code_list, c), {})]
            return ";".join(dict.fromkeys(values))

        def band(age):
            if age is None:
                return "", ""
            broad = next(label for low, high, label in CTDC_AGE_BANDS if low <= age and (high is None or age <= high))
            return broad, "Minor" if age < 18 else "Adult"

        people = sorted(((r["referral_date"], t, i, q, r) for t, q, rows in self._files_rows("victims") if q[:4] == year
                         for i, r in enumerate(rows)), key=lambda x: x[:3])
        seen, out = set(), Counter()
        for _, _, _, _, r in people:
            key = " ".join(r["cptv_ref"].split()).upper() if r["cptv_ref"] else None
            if key and key in seen:
                continue
            seen.add(key)
            if r["status"] not in ("possible_victim", "identified_victim"):
                continue
            flags = {f: mapped("exploitation", f, r["exploitation"], ctdc) for f in ("isSexualExploit", "isForcedLabour", "isOtherExploit")}
            industry = mapped("forced_labour_industry", "vic_ForcedLabourIndustry", r.get("forced_labour_industry"))
            out[(year, mapped("victim_status", "vic_TraffickingStatus", r["status"]), mapped("sex", "prs_Gender", r["sex"]),
                 *band(r["age_years"]), band(r.get("age_when_trafficked"))[1], r["citizenship"],
                 r.get("country_of_exploitation") or "", mapped("exploitation", "vic_TypeOfExploitation", r["exploitation"]),
                 *flags.values(), mapped("methods_of_control", "vic_MethodsOfControl", r.get("methods_of_control")),
                 mapped("relationship_to_trafficker", "vic_RelationshipToTrafficker", r.get("relationship_to_trafficker")),
                 industry if flags["isForcedLabour"] else "")] += 1
        return out

    def _files_rows(self, dataset: str) -> list[tuple[str, str, list[dict]]]:
        return [(t, q, f.rows) for (t, q), f in sorted(self.current(dataset).items())]

    def references(self) -> set[str]:
        """Every case and CPTV reference written into any file (they must never appear in clear after ingestion)."""
        return {r[k] for f in self.files if f.dataset == "victims" for r in f.rows for k in ("case_ref", "cptv_ref") if r[k]}
