"""The metadata sidecar of a crim_thb table's file: what it sends, what it withholds and why, what is pending
confirmation (codes and the dataflow), and where every code came from."""
from __future__ import annotations

from thb_reporting.core import reference


def code_list_sources() -> dict[str, str]:
    """Dimension or attribute → its codes, where each came from, and which are not confirmed (pending)."""
    out: dict[str, str] = {}
    rows = [(r["dimension"], r["code"], r["eurostat_code"], r["confirmed"], r["source"]) for r in reference.csv_rows("eurostat.csv")]
    rows += [(cl, code, r["eurostat_code"], r["confirmed"], r["source"])
             for (cl, code), r in reference.eurostat_transmission().items()]
    for code_list, code, eurostat, confirmed, source in rows:
        key = code_list.upper()
        state = "" if confirmed == "yes" else " [PENDING: not confirmed as Eurostat's, kept out of the file]"
        entry = f"{eurostat or '(not transmitted)'} ({code}): {source}{state}"
        out[key] = f"{out[key]} | {entry}" if key in out else entry
    return out


def sidecar(inputs, year: str, table: str, declared: tuple[str, str, bool], pending: dict[str, int], sent,
            structure) -> dict:
    """declared: the table's (dimension, title, whether its TOTAL is the sum of its codes), eurostat.TABLES."""
    from thb_reporting.publishing.transmissions.model import metadata, partial_year

    dimension, title, _ = declared
    datasets = ["criminal_justice", "victims"] if table == "persons_legal_status" else ["victims"]
    covered = [inputs.coverage[(d, year)] for d in datasets if (d, year) in inputs.coverage]
    notes = [
        f"Table '{title}': one of the separate crim_thb tables (Eurostat ESMS crim_thb 3.1), one file per table.",
        f"Structure: {structure.agency}:{structure.id}({structure.version}), the sender's own draft structure, NOT an "
        "Eurostat dataflow: Eurostat's transmission dataflow for crim_thb (id, version) is PENDING (no published one was "
        "found); ask Eurostat before sending.",
        "OBS_VALUE is exact; CONF_STATUS (SDMX CL_CONF_STATUS) C: a count of 1 to "
        f"{inputs.threshold} (primary), D: hidden so that no C can be recomputed from the year's crim_thb tables or "
        "because the public tables hide it (secondary), F: free. The receiver must not publish C or D.",
        "OBS_STATUS (SDMX CL_OBS_STATUS, one code each): L data exist but were not collected (stateless persons: an ISO "
        "country is recorded for everyone), P provisional (a provisional release, or a year not complete), D definition "
        "differs (a sum of some reporting units only, or final convictions only), A normal. COMMENT_OBS gives every reason.",
        "GEO=RS on every row; where a figure sums only some reporting units, OBS_STATUS D and COMMENT_OBS name them "
        "(no area code of our own).",
    ]
    if dimension == "EXPL":
        notes.append("Several forms of exploitation: a registered victim counts once under each group of its forms "
                     "(sexual, labour, other; UNK when none is stated), so the groups may add up to more than the "
                     "registered victims; there is no total of forms in this table and no sum within EXPL is claimed. "
                     "Eurostat's own rule for several forms was not found in its metadata: PENDING confirmation.")
    if table == "persons_legal_status":
        notes.append("Suspected = persons named in a criminal complaint, prosecuted = indicted, convicted = finally "
                     "convicted (OBS_STATUS D: UNODC counts first-instance convictions too). Investigations and "
                     "first-instance judgments are not transmitted. Teams' aggregates are summed: a person reported by "
                     "two teams counts twice.")
    for d in datasets:
        if (why := partial_year(inputs, d, year)) is not None:
            notes.append(f"{d}: {why}. Every value is flagged OBS_STATUS P with this in COMMENT_OBS.")
    if inputs.release is not None:
        mark = inputs.release
        notes.append(f"Release {mark.release_id} of {year}, " + ("provisional (OBS_STATUS P)." if mark.provisional else "final.")
                     + ("" if mark.previous is None else f" COMMENT_OBS 'revised since release {mark.previous[0]}' marks "
                        "each value that differs from that release's file."))
    flow = reference.eurostat_transmission()[("structure", "dataflow")]["eurostat_code"]
    meta = metadata(
        title=f"Trafficking in human beings, Serbia, {year}: {title} (for Eurostat crim_thb)",
        receiver="Eurostat",
        source="Local anti-trafficking teams' and national units' accepted quarterly submissions (victims, criminal_justice), "
               "thb-national-reporting",
        coverage=covered,
        definitions={
            "registered victims": "identified (IDENT) and presumed (PRESUM) victims, each person once nationally in the year",
            dimension: {"LEG_STAT": "IDENT identified, PRESUM presumed victims, TOTAL registered victims; PER_SUSP, "
                                    "PER_PRSC, PER_CNV suspected, prosecuted, convicted persons",
                        "CITIZEN": "NAT Serbian, EU27_2020_FOR other EU, NEU27_2020_FOR non-EU, STLS stateless (L), UNK",
                        "EXPL": "SEX sexual, LAB labour, OTH other forms, UNK none stated; a person in each group of its forms",
                        "AGE": "Y_LT18 children, Y_GE18 adults, UNK age not known, TOTAL"}[dimension],
            "OBS_VALUE": "number of persons, exact",
        },
        code_lists=code_list_sources() | {"STRUCTURE": f"{structure.agency}:{structure.id}({structure.version}): the "
                                          f"sender's draft; Eurostat dataflow PENDING ({flow or 'unknown'})"},
        produced_at=inputs.produced_at, file_format="SDMX-CSV 2.0 (pysdmx)", notes=notes)
    meta["sent_observations"] = len(sent)
    meta["pending"] = {"codes": pending, "why": "codes not confirmed as Eurostat's (reference/eurostat.csv, "
                       "eurostat_transmission.csv: confirmed=no); their observations are withheld until Eurostat "
                       "confirms them", "observations_withheld": sum(pending.values())} if pending else {}
    return meta
