"""What every transmission is made of: its inputs (the year's exact and public figures), the files it writes,
and their metadata sidecar. The transmission modules (eurostat, sdg, greta) and the package's write_year
import this; it imports none of them."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from thb_reporting.core import reference
from thb_reporting.figures.coverage import Coverage


@dataclass(frozen=True)
class ReleaseMark:
    """The release a transmission is written for: provisional values are flagged in the receiver's terms, and
    the values that differ from the period's previous release's transmission are marked revised."""
    release_id: int
    provisional: bool
    previous: tuple[int, TransmissionInputs] | None = None  # (release_id, its inputs), to find the revised values


@dataclass(frozen=True)
class TransmissionInputs:
    """What a builder may read: exact figures only (a builder flags, it never suppresses)."""
    facts: dict                  # dataset → pandas DataFrame of the published rows of the years (or None)
    indicators: object           # pandas DataFrame of national.indicators rows (exact) of the years
    coverage: dict[tuple[str, str], Coverage]  # (dataset, period) → Coverage (thb_reporting.figures.coverage)
    teams: reference.TeamRegistry
    threshold: int               # disclosure's threshold: cells it would suppress are flagged confidential
    produced_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    public: object = None        # the public indicator rows as published (suppressed flags); None: public_rows computes them
    release: ReleaseMark | None = None  # None: the working figures (no release)


def public_rows(inputs: TransmissionInputs):
    """The public indicator rows (disclosure.public_outputs over the exact indicators, as publish runs it):
    a transmission flags every nation figure the public tables hide, or the receiver's publication would
    give the public suppression away. Publish passes its own; a caller without them gets them computed
    the same way."""
    if inputs.public is not None:
        return inputs.public
    from thb_reporting.figures import disclosure, indicator_catalogue
    from thb_reporting.publishing import exports

    years = {p[:4] for p in inputs.indicators["period"]}
    district_of = {code: t.district_code for code, t in inputs.teams.items()}
    public, _ = disclosure.public_outputs(inputs.indicators, exports.crim_thb(inputs.facts.get("victims"), years, inputs.coverage),
                                          indicator_catalogue.catalogue(), district_of, exports.crim_thb_margins(),
                                          inputs.threshold)
    return public


@dataclass(frozen=True)
class TransmissionFile:
    name: str          # file name, e.g. crim_thb_vict_2026.csv
    content: bytes
    metadata: dict     # the sidecar's content (see metadata())
    validation: dict | None = None  # the structure check's report (structure_check.check); a failed one keeps the file back


def metadata(*, title: str, receiver: str, source: str, coverage: list[Coverage], definitions: dict[str, str],
             code_lists: dict[str, str], produced_at: dt.datetime, file_format: str, notes: list[str] | None = None) -> dict:
    """The sidecar every transmission file has. `code_lists`: code list or dimension → where its codes
    come from (a published structure's URN or document)."""
    contact = reference.national_contacts()["national_coordinator"]
    return {
        "title": title,
        "receiver": receiver,
        "format": file_format,
        "source": source,
        "coverage": [{"dataset": c.dataset, "period": c.period, "scope": c.label, "units": list(c.units),
                      "quarters": list(c.quarters), "population": c.population,
                      "description_en": c.describe("en"), "description_sr": c.describe("sr")} for c in coverage],
        "definitions": definitions,
        "code_lists": code_lists,
        "contact": {"name": contact["name"], "email": contact["email"]},
        "produced_at": produced_at.isoformat(timespec="seconds"),
        "notes": notes or [],
    }
