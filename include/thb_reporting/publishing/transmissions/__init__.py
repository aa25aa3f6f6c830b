"""Transmission files: exact figures for the international collections (Eurostat, UNODC / SDG 16.2.2,
GRETA), per year, under <data_root>/transmissions/<year>/, beside the public exports (which stay
suppressed, thb_reporting.publishing.exports).

A transmission carries exact counts and a confidentiality flag for the receiver to protect, never a
blank for a suppressed cell (where the receiver's structure has no confidentiality flag, as SDG's, a confidential
cell is withheld instead: transmissions.sdg). Every file has a metadata sidecar <file>.metadata.json: source, coverage,
definitions, contact, date, and where each code list came from. Each kind of transmission is one module
of this package with a `build(inputs, year) -> list[TransmissionFile]`; BUILDERS lists them, publish
calls write_year after the tables are committed. A file whose structure check (structure_check) fails is not
written: its <file>.validation.json says why.
"""
from __future__ import annotations

import json
import logging

from thb_reporting.publishing.transmissions.model import (  # noqa: F401 (what publish and the tests name)
    ReleaseMark, TransmissionFile, TransmissionInputs, metadata, public_rows,
)

log = logging.getLogger(__name__)


def _builders():
    from thb_reporting.publishing.transmissions import eurostat, greta, sdg

    return [eurostat.build, sdg.build, greta.build]  # each transmission module adds itself here, in the order its files are listed


class TransmissionsFailed(RuntimeError):
    """Some transmission files of a year could not be built; the others were written."""


def _json(content: dict) -> bytes:
    return json.dumps(content, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")


def write_year(data_root: str, year: str, inputs: TransmissionInputs, folder=None) -> list:
    """Write every transmission file of the year and its sidecar, each whole then renamed into place.
    One kind that cannot be built (e.g. a code added to a contract without its mapping to the receiver's
    code list) does not keep the others from being written; TransmissionsFailed names it afterwards, so
    the run fails where an engineer sees it. folder: a release's (release_files), else the working
    <data_root>/transmissions/<year>/. Returns the paths written."""
    from thb_reporting.store.storage import storage_path, write_atomically

    if folder is None:
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
            if inputs.release is not None:  # every file of a release names it and its status
                f.metadata["release"] = {"release_id": inputs.release.release_id,
                                         "status": "provisional" if inputs.release.provisional else "final"}
            if f.withheld:  # nothing confirmed to send: what is pending, and why
                pending = folder / f"{f.name}.pending.json"
                write_atomically(pending, _json(f.metadata))
                written.append(pending)
                continue
            if f.validation is not None:  # beside the file, passed or not: it says why a file was kept back
                report = folder / f"{f.name}.validation.json"
                write_atomically(report, _json(f.validation))
                written.append(report)
                if not f.validation["passed"]:
                    from thb_reporting.publishing.transmissions.structure_check import failures

                    for stale in (folder / f.name, folder / f"{f.name}.metadata.json"):  # an earlier run's file is not sent instead
                        stale.unlink(missing_ok=True)
                    failed.append(f"{f.name} (failed its structure check, {report.name}: {failures(f.validation)})")
                    log.error("transmission %s", failed[-1])
                    continue
            write_atomically(folder / f.name, f.content)
            sidecar = folder / f"{f.name}.metadata.json"
            write_atomically(sidecar, _json(f.metadata))
            written += [folder / f.name, sidecar]
    if failed:
        raise TransmissionsFailed(f"transmissions of {year} not written: {', '.join(failed)} (see the log above)")
    return written
