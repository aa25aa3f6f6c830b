"""The HTML pages of page_templates/: the status page's, the national summary's, and a submission's
validation report (attached to the team's e-mail and shown on the status page). Light on purpose (Jinja2 and
the standard library): the UI plugin imports it in the api-server."""
from __future__ import annotations

from functools import cache
from pathlib import Path

from thb_reporting.core import contracts, reference
from thb_reporting.core.quarters import Quarter

TEMPLATES = Path(__file__).parent / "page_templates"


@cache
def _environment():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))


def render(template: str, **values) -> str:
    """A page of page_templates/ (the status page's and the national summary's), values escaped."""
    return _environment().get_template(template).render(**values)


def submission_report(sub, findings: list, teams: reference.TeamRegistry, standalone: bool = False,
                      explanation: str | None = None) -> str:
    """One submission's validation report (page_templates/submission.html.j2): what failed, by rule, row and
    column, and how to fix it, in Serbian and English. `sub` is its ledger row, `findings` its
    findings.Finding list. The status page shows it with links to the other pages; `standalone` (attached to
    the team's e-mail, or served as a file) has no link and loads nothing from elsewhere. `explanation`: the
    team's explanation of its warnings (store.explanations, screened), if it gave one."""
    from thb_reporting.core.privacy import shown, shown_file_name
    from thb_reporting.core.findings import column_as_seen, explain, is_note

    contract = contracts.of_submission(sub.dataset, sub.quarter)  # the version it was validated under
    quarter = Quarter.parse(sub.quarter) if sub.quarter else None
    rows = []
    for f in findings:
        texts = {lang: explain(f, lang, contract, quarter) for lang in ("sr", "en")}
        rows.append({"severity": "note" if is_note(f.rule) else f.severity, "rule": f.rule, "row": f.row,
                     "column": column_as_seen(f, contract), "value": f.value,
                     "what_sr": texts["sr"][0], "fix_sr": texts["sr"][1], "what_en": texts["en"][0], "fix_en": texts["en"][1]})
    return render("submission.html.j2", sub=sub, team=teams.get(sub.team_code), contract=contract,
                  findings=rows, standalone=standalone, summary=shown(sub.summary, kind="text"), explanation=explanation,
                  file_name=shown_file_name(sub.file_name, sub.dataset, sub.quarter, sub.content_sha256))
