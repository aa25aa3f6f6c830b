"""What the approver reads about a release candidate: the headline figures against the last release, the
figures revised and the submissions behind them, the teams missing or late, the soft-rule warnings and
the teams' explanations, and what disclosure control suppresses. Short in the approval prompt
(`prompt_markdown`), whole in the candidate report (<data_root>/releases/<period>/release-<id>/candidate.md, also
on the Reporting status page). Only public figures: a suppressed count is never written here."""
from __future__ import annotations

from sqlalchemy import select

from thb_reporting.core.findings import is_note, rule_texts
from thb_reporting.figures import indicator_catalogue
from thb_reporting.reports.charts import format_value
from thb_reporting.store import ledger
from thb_reporting.store.release_tables import frozen_name
from thb_reporting.store.reporting_calendar import ReportingStatus
from thb_reporting.store.storage import release_folder, write_atomically
from thb_reporting.store.warehouse import table

PROMPT_REVISIONS = 12  # revised figures listed in the approval prompt; the report lists them all
STATUS_PAGE_ROUTE = "/reporting-status/releases/{release_id}"  # the plugin's page of a candidate report


def _shown(value, unit: str, suppressed: bool) -> str:
    return "x (suppressed)" if suppressed else "–" if value is None else format_value(value, unit)


def _headlines(conn, release_id: int, previous_id: int | None, period: str) -> list[dict]:
    frozen = table(frozen_name("public_indicators"))
    catalogue = indicator_catalogue.catalogue()

    def nation(rid):
        if rid is None:
            return {}
        q = select(frozen).where(frozen.c.release_id == rid, frozen.c.level == "nation", frozen.c.period == period,
                                 frozen.c.breakdown == "total", frozen.c.category == "total")
        return {r.indicator: r for r in conn.execute(q)}

    now, before = nation(release_id), nation(previous_id)
    out = []
    for name in indicator_catalogue.headlines():
        if name not in now:
            continue
        unit, r, b = catalogue[name]["unit"], now[name], before.get(name)
        out.append({"indicator": name, "en": catalogue[name]["en"], "sr": catalogue[name]["sr"],
                    "value": _shown(r.value, unit, r.suppressed),
                    "previous": "–" if b is None else _shown(b.value, unit, b.suppressed)})
    return out


def _warnings(conn, basis: dict, quarters: list[str]) -> list[dict]:
    """The soft-rule warnings of the submissions the candidate counts (notes left out), a line per team,
    dataset and rule, with the team's explanation where it gave one."""
    from thb_reporting.store.explanations import explanations_of

    ids = sorted(r.submission_id for k, r in basis.items() if k[2] in quarters)
    explained = explanations_of(conn, ids)
    lines: dict[tuple, dict] = {}
    for (dataset, team, quarter), r in sorted(basis.items()):
        if quarter not in quarters:
            continue
        for f in ledger.findings_of(conn, r.submission_id, severity="warning"):
            if is_note(f.rule):
                continue
            line = lines.setdefault((team, dataset, quarter, f.rule), {
                "team": team, "dataset": dataset, "quarter": quarter, "rule": f.rule, "rows": 0,
                "what": rule_texts().get(f.rule, {}).get("en", f.rule).split(":")[0].split("{")[0].strip(),
                "explanation": explained.get(r.submission_id)})
            line["rows"] += 1
    return list(lines.values())


def candidate_summary(conn, release_id: int, period, status, previous, changes: list[dict], revised: list[dict],
                      statuses: list[dict], basis: dict) -> dict:
    frozen = table(frozen_name("public_indicators"))
    cells = conn.execute(select(frozen.c.suppressed, frozen.c.level, frozen.c.indicator)
                         .where(frozen.c.release_id == release_id)).all()
    suppressed = [c for c in cells if c.suppressed]
    gaps = [s for s in statuses if s["status"] != ReportingStatus.ACCEPTED]
    return {
        "release_id": release_id, "period": period.code, "status": status.value,
        "previous_release_id": previous.release_id if previous else None,
        "figures": len(cells), "suppressed": len(suppressed),
        "suppressed_nation": sum(c.level == "nation" for c in suppressed),
        "headlines": _headlines(conn, release_id, previous.release_id if previous else None, period.code),
        "changes": changes, "revisions": revised,
        "gaps": [{"team": s["team_code"], "dataset": s["dataset"], "quarter": s["quarter"], "status": str(s["status"])}
                 for s in gaps],
        "warnings": _warnings(conn, basis, period.quarters),
        "report_link": STATUS_PAGE_ROUTE.format(release_id=release_id),
    }


def _revision_line(r: dict) -> str:
    unit = indicator_catalogue.catalogue().get(r["indicator"], {}).get("unit", "")
    where = r["area_code"] if r["level"] != "nation" else "nation"
    what = r["indicator"] + ("" if r["breakdown"] == "total" else f" {r['breakdown']}={r['category']}")
    return (f"- {what}, {where}: {_shown(r['previous_value'], unit, bool(r['previous_suppressed']))} → "
            f"{_shown(r['value'], unit, bool(r['suppressed']))} ({r['reason']})")


def _gap_lines(gaps: list[dict]) -> list[str]:
    """One line per team: its datasets by status (missing, rejected, accepted late), each with its quarter."""
    by_team: dict[str, dict[str, list[str]]] = {}
    for g in gaps:
        by_team.setdefault(g["team"], {}).setdefault(g["status"], []).append(f"{g['dataset']} {g['quarter']}")
    return [f"- {team}: " + "; ".join(f"{status.replace('_', ' ')}: {', '.join(items)}"
                                      for status, items in sorted(kinds.items()))
            for team, kinds in sorted(by_team.items())]


def prompt_markdown(summary: dict, whole: bool = False) -> str:
    """The candidate in Markdown: for the approval prompt (short), or whole for the report."""
    s = summary
    lines = [f"**Release candidate {s['release_id']}: {s['period']}, {s['status']}** "
             f"(Kandidat za objavljivanje; {'privremeni' if s['status'] == 'provisional' else 'konačni'} podaci)", ""]
    lines.append(f"Full report: [{s['report_link']}]({s['report_link']})" + ("" if whole else ""))
    lines += ["", "### Headline figures (nation) / Glavni pokazatelji",
              "| Figure | This candidate | Last release |", "|---|---:|---:|"]
    lines += [f"| {h['en']} | {h['value']} | {h['previous']} |" for h in s["headlines"]]
    previous = s["previous_release_id"]
    lines += ["", "### What changes against the last release / Izmene"]
    if previous is None:
        lines.append("First release of this period: nothing to compare.")
    else:
        n = len(s["changes"])
        lines.append(f"Against release {previous}: {len(s['revisions'])} public figures revised, "
                     f"{n} submission{'' if n == 1 else 's'} added, replaced or withdrawn.")
        lines += [f"- {c['team_code']} {c['dataset']} {c['quarter']}: {c['change']}" for c in s["changes"]]
        shown = s["revisions"] if whole else s["revisions"][:PROMPT_REVISIONS]
        lines += [_revision_line(r) for r in shown]
        if len(shown) < len(s["revisions"]):
            lines.append(f"- … and {len(s['revisions']) - len(shown)} more in the full report")
    lines += ["", "### Teams missing or late / Timovi koji kasne ili nisu dostavili"]
    lines += _gap_lines(s["gaps"]) or ["None: every team delivered on time."]
    lines += ["", "### Warnings and the teams' explanations / Upozorenja i objašnjenja timova"]
    lines += ([f"- {w['team']} {w['dataset']} {w['quarter']}: {w['what']} ({w['rows']} rows)"
               + (f". Explanation: \u201c{w['explanation']}\u201d" if w["explanation"] else ". No explanation yet.")
               for w in s["warnings"]] or ["No warnings."])
    lines += ["", "### Disclosure control / Zaštita podataka",
              f"{s['suppressed']} of {s['figures']} public figures are suppressed ({s['suppressed_nation']} at the "
              f"nation level): counts from 1 to the threshold and those that would reveal one."]
    return "\n".join(lines) + "\n"


def write_candidate_report(data_root: str, summary: dict):
    target = release_folder(data_root, summary["period"], summary["release_id"]) / "candidate.md"
    write_atomically(target, prompt_markdown(summary, whole=True).encode("utf-8"))
    return target
