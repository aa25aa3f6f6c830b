"""What every transmission is made of: its inputs (the year's exact and public figures), the files it writes,
and their metadata sidecar. The transmission modules (eurostat, sdg, greta) and the package's write_year
import this; it imports none of them."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from thb_reporting.core import reference
from thb_reporting.core.config import PROTECTION_LEVEL
from thb_reporting.figures.coverage import Coverage


@dataclass(frozen=True)
class ReleaseMark:
    """The release a transmission is written for: provisional values are flagged in the receiver's terms, and
    the values that differ from the period's previous release's transmission are marked revised."""
    release_id: int
    provisional: bool
    previous: tuple[int, TransmissionInputs] | None = None  # (release_id, its inputs), to find the revised values
    quarters_released: tuple[str, ...] | None = None  # a year's release: its quarters that have a release (partial_year)


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
    level: int = PROTECTION_LEVEL  # the public tables' protection level (public_rows computes them with it)


def partial_year(inputs: TransmissionInputs, dataset: str, year: str) -> str | None:
    """None where the year's figure of the dataset may be sent as the year's; otherwise the comment every value of
    it carries, flagged provisional in the receiver's terms (Eurostat OBS_STATUS P, SDG OBS_STATUS P, GRETA's
    `status` column). A year is the year only when every one of its quarters is in: with a release, each quarter
    has a release (the year's release is built from them); otherwise each quarter's submissions owed by the
    reporting calendar are all accepted (coverage.Coverage.incomplete)."""
    from thb_reporting.figures.coverage import quarters_of

    cover = inputs.coverage.get((dataset, year))
    mark = inputs.release
    if mark is not None and mark.quarters_released is not None:
        missing = [q for q in quarters_of(year) if q not in mark.quarters_released]
        why = "no release yet for"
    else:
        missing = list(cover.incomplete) if cover is not None else list(quarters_of(year))
        why = "not every owed submission accepted for"
    if not missing:
        return None
    summed = ", ".join(cover.quarters) if cover is not None and cover.quarters else "no quarter"
    return f"provisional, incomplete year {year}: covers {summed}; {why} {', '.join(missing)}"


def flag_partial_year(observations: list[dict], inputs: TransmissionInputs, dataset: str, year: str,
                      provisional: str, outranking: frozenset[str] = frozenset()) -> list[str]:
    """Observations (dicts with OBS_STATUS and COMMENT_OBS) of a year not complete (partial_year): each flagged
    `provisional` (the receiver's code) unless its status is one of `outranking` (e.g. withheld, not collected:
    one OBS_STATUS per observation, the strongest reason), and every one with the quarters it covers first in its
    comment, its other reasons kept. Returns the sidecar's note."""
    why = partial_year(inputs, dataset, year)
    if why is None:
        return []
    for o in observations:
        if o.get("OBS_STATUS") not in outranking:
            o["OBS_STATUS"] = provisional
        o["COMMENT_OBS"] = f"{why}; {o['COMMENT_OBS']}" if o.get("COMMENT_OBS") else why
    return [f"{why}: every value is flagged OBS_STATUS {provisional} (provisional) with this in COMMENT_OBS."]


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
                                          inputs.threshold, level=inputs.level)
    return public


@dataclass(frozen=True)
class TransmissionFile:
    name: str          # file name, e.g. crim_thb_vict_2026.csv
    content: bytes
    metadata: dict     # the sidecar's content (see metadata())
    validation: dict | None = None  # the structure check's report (structure_check.check); a failed one keeps the file back
    withheld: bool = False      # nothing to send (every observation pending): only <name>.pending.json is written


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
                      "quarters": list(c.quarters), "incomplete_quarters": list(c.incomplete), "population": c.population,
                      "description_en": c.describe("en"), "description_sr": c.describe("sr")} for c in coverage],
        "definitions": definitions,
        "code_lists": code_lists,
        "contact": {"name": contact["name"], "email": contact["email"]},
        "produced_at": produced_at.isoformat(timespec="seconds"),
        "notes": notes or [],
    }
