"""Transmission files: exact figures for the international collections (Eurostat, UNODC / SDG 16.2.2,
GRETA), per year, under <data_root>/transmissions/<year>/, beside the public exports (which stay
suppressed, thb_reporting.exports).

A transmission carries exact counts and a confidentiality flag for the receiver to protect, never a
blank for a suppressed cell. Every file has a metadata sidecar <file>.metadata.json: source, coverage,
definitions, contact, date, and where each code list came from. Each kind of transmission is one module
of this package with a `build(inputs, year) -> list[TransmissionFile]`; BUILDERS lists them, publish
calls write_year after the tables are committed.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field

from thb_reporting import reference
from thb_reporting.coverage import Coverage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TransmissionInputs:
    """What a builder may read: exact figures only (a builder flags, it never suppresses)."""
    facts: dict                  # dataset → pandas DataFrame of the published rows of the years (or None)
    indicators: object           # pandas DataFrame of national.indicators rows (exact) of the years
    coverage: dict[tuple[str, str], Coverage]  # (dataset, period) → Coverage (thb_reporting.coverage)
    teams: reference.TeamRegistry
    threshold: int               # disclosure's threshold: cells it would suppress are flagged confidential
    produced_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    public: object = None        # the public indicator rows as published (suppressed flags); None: public_rows computes them


def public_rows(inputs: TransmissionInputs):
    """The public indicator rows (disclosure.public_outputs over the exact indicators, as publish runs it):
    a transmission flags every nation figure the public tables hide, or the receiver's publication would
    give the public suppression away. Publish passes its own; a caller without them gets them computed
    the same way."""
    if inputs.public is not None:
        return inputs.public
    from thb_reporting import disclosure, exports, indicator_catalogue

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


def _builders():
    from thb_reporting.transmissions import eurostat, greta, sdg

    return [eurostat.build, sdg.build, greta.build]  # each transmission module adds itself here, in the order its files are listed


class TransmissionsFailed(RuntimeError):
    """Some transmission files of a year could not be built; the others were written."""


def write_year(data_root: str, year: str, inputs: TransmissionInputs) -> list:
    """Write every transmission file of the year and its sidecar, each whole then renamed into place.
    One kind that cannot be built (e.g. a code added to a contract without its mapping to the receiver's
    code list) does not keep the others from being written; TransmissionsFailed names it afterwards, so
    the run fails where an engineer sees it. Returns the paths written."""
    from thb_reporting.storage import storage_path, write_atomically

    folder = storage_path(data_root) / "transmissions" / year
    written, failed = [], []
    for build in _builders():
        kind = build.__module__.rsplit(".", 1)[-1]
        try:
            files = build(inputs, year)
        except Exception:  # the error's class and message name codes of the reference data, never a file's values
            log.exception("transmission %s of %s could not be built", kind, year)
            failed.append(kind)
            continue
        for f in files:
            write_atomically(folder / f.name, f.content)
            sidecar = folder / f"{f.name}.metadata.json"
            write_atomically(sidecar, json.dumps(f.metadata, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8"))
            written += [folder / f.name, sidecar]
    if failed:
        raise TransmissionsFailed(f"transmissions of {year} not written: {', '.join(failed)} (see the log above)")
    return written
