"""Messages are composed from plain data (no database, no mail server): a ledger row, its findings, figures,
reporting statuses; subject lines come from email_templates/<name>.subject.j2; values from a file or a folder
name pass the identifier screen."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

from thb_reporting.messaging import messages
from thb_reporting.core import reference
from thb_reporting.tools.generator import VALID_JMBG
from thb_reporting.core.quarters import Quarter
from thb_reporting.core.findings import Finding

TEMPLATES = Path(messages.__file__).parent / "email_templates"


def _sub(**changes):
    row = dict(submission_id=7, team_code="subotica", dataset="victims", quarter="2026Q2", file_name="victims_2026Q2.csv",
               content_sha256="ab" * 32, received_at=dt.datetime(2026, 7, 1, 9, 30, tzinfo=dt.timezone.utc),
               status="rejected", rows_accepted=0, summary="", archive_path="", snapshot_path=None)
    return SimpleNamespace(**(row | changes))


TEAMS = reference.teams()  # the package's registry


def test_every_message_has_its_subject_text_and_html_in_the_templates():
    names = {p.name.split(".")[0] for p in TEMPLATES.glob("*.j2") if not p.name.startswith("_")}  # _: shared pieces
    assert names == {"submission", "failed", "unregistered_folder", "digest", "calendar", "mail_refused", "unknown_sender",
                     "release", "explanation"}
    for name in names:
        assert {f"{name}.{part}.j2" for part in ("subject", "txt", "html")} <= {p.name for p in TEMPLATES.iterdir()}


def test_submission_messages_from_plain_data():
    team = reference.teams()["subotica"]
    rejected = messages.submission_message(_sub(), TEAMS, [Finding("unknown_code", column="sex", row=3, value="x")], [])
    assert rejected["Subject"] == f"[THB] Odbijeno / Rejected: victims 2026Q2 – {team.name_lat}"
    assert rejected["To"] == ", ".join(team.contact_emails)
    assert [p.get_filename() for p in rejected.iter_attachments()] == ["nalazi_findings_7.csv",
                                                                       "validacija_validation_7.html"]
    figures = [{"label": {"sr": "Žrtve – ukupno", "en": "Victims – total"}, "value": "12"}]
    accepted = messages.submission_message(_sub(status="accepted", rows_accepted=12), TEAMS, [], figures)
    assert accepted["Subject"] == f"[THB] Prihvaćeno / Accepted: victims 2026Q2 – {team.name_lat}"
    assert "Victims – total" in accepted.get_body(("plain",)).get_content()
    assert list(accepted.iter_attachments()) == []
    unnamed = messages.submission_message(_sub(dataset=None, quarter=None, file_name="izvestaj.csv"), TEAMS, [], [])
    assert unnamed["Subject"] == f"[THB] Odbijeno / Rejected: izvestaj.csv – {team.name_lat}"  # no double space
    assert messages.submission_message(_sub(team_code="nowhere"), TEAMS, [], []) is None  # no registered contact


def test_a_batch_of_messages_is_written_as_the_standard_library_writes_each():
    """MAIL_POLICY shares the parsing and folding of a header between messages (notify's time at 145 teams):
    each message, written after others with the same and with different headers, is the text that
    policy.default writes for it, and so is a message parsed from it."""
    from email import message_from_string, policy

    findings = [Finding("unknown_code", column="sex", row=3, value="x")]
    batch = [messages.submission_message(_sub(submission_id=n, team_code=team, status=status), TEAMS, findings, [])
             for n, (team, status) in enumerate([("subotica", "rejected"), ("subotica", "rejected"),
                                                 ("novi_sad", "accepted"), ("subotica", "accepted")])]
    texts = [m.as_string() for m in batch]
    assert len(set(texts)) == len(texts)  # different messages stay different
    for message, text in zip(batch, texts):
        assert message.policy is messages.MAIL_POLICY
        assert text == message.as_string(policy=policy.default) == message.as_string()  # cached folds, same text
        assert message.as_string(policy=policy.SMTP) == text.replace("\n", "\r\n")  # a fold per policy
        parsed = message_from_string(text, policy=policy.default)
        assert parsed.as_string() == text
        assert (parsed["Subject"], parsed["To"], parsed["Message-ID"]) == (message["Subject"], message["To"],
                                                                           message["Message-ID"])


def test_coordinator_notices_screen_folder_and_file_names():
    hidden = _sub(team_code=f"tim_{VALID_JMBG}", dataset=None, quarter=None, file_name=f"victims {VALID_JMBG}.csv")
    for message in (messages.unregistered_folder_message(hidden, [Finding("unknown_team")]),
                    messages.failed_message(hidden, [Finding("processing_failed", detail="ValueError")], TEAMS)):
        assert VALID_JMBG not in message.as_string()
        assert message["To"].endswith(reference.national_contacts()["national_coordinator"]["email"])
    assert messages.unregistered_folder_message(_sub(team_code=""), [])["Subject"].endswith(
        "File from an unregistered folder: (inbox)/victims_2026Q2.csv")


def test_calendar_and_digest_messages():
    team = reference.teams()["subotica"]
    quarter = Quarter.parse("2026Q2")
    owed = [{"dataset": "victims", "status": "missing"}, {"dataset": "programmes", "status": "rejected"}]
    overdue = messages.calendar_message("overdue", team, quarter, owed)
    assert overdue["Subject"] == f"[THB] Rok je istekao / Overdue: 2026Q2 – {team.name_lat}"
    assert overdue["Message-ID"] == "<overdue-subotica-2026Q2@thb-national-reporting>"
    assert messages.calendar_message("reminder", team, quarter, owed)["Subject"].startswith("[THB] Podsetnik / Reminder")
    statuses = [{"team_code": "subotica", "dataset": "victims", "quarter": "2026Q2", "status": "rejected"}]
    digest = messages.digest_message(quarter, dt.date(2026, 7, 20), TEAMS, statuses,
                                     {("subotica", "victims"): Finding("unknown_code", column="sex", value="x")})
    assert digest["Subject"] == "[THB] Nedeljni pregled / Weekly digest: 2026Q2, 2026-07-20"
    assert digest["Message-ID"] == "<digest-2026-W30@thb-national-reporting>"
    assert team.name_lat in digest.get_body(("plain",)).get_content()


def test_a_failed_file_is_told_where_the_new_one_goes_by_the_way_it_came():
    """A file given up after unexpected errors: one that came by e-mail is answered in its thread, to its
    sender too, and told to reply with the new file; one dropped in the folder, to put it there; the
    coordinator alone (no team) is told neither."""
    sender = reference.teams()["subotica"].contact_emails[0]
    failure = [Finding("processing_failed", detail="ValueError")]
    mailed = messages.failed_message(_sub(mail_sender=sender, mail_message_id="<abc@example.org>"), failure, TEAMS)
    dropped = messages.failed_message(_sub(), failure, TEAMS)
    assert mailed["In-Reply-To"] == "<abc@example.org>" and sender in mailed["To"]
    assert dropped["In-Reply-To"] is None
    for message, by_mail in ((mailed, True), (dropped, False)):
        for body in (message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()):
            assert ("odgovorom na ovu poruku" in body and "by replying to this e-mail" in body) is by_mail
            assert ("u folder svog tima" in body and "in your team's folder" in body) is not by_mail
    nobody = messages.failed_message(_sub(team_code="nowhere"), failure, TEAMS).get_body(("plain",)).get_content()
    assert "Novi fajl" not in nobody and "new file" not in nobody


def test_a_stored_message_is_written_as_the_message_itself(tmp_path):
    """The outbox keeps a message as text (as_string); the folder sender writes that text under the name the
    message's Message-ID gives (as `send` names the message), read from the text without parsing it."""
    from email.message import EmailMessage
    from email.utils import make_msgid

    from thb_reporting.messaging.outbox import FolderSender

    direct, stored = tmp_path / "direct", tmp_path / "stored"
    for k in range(20):
        message = EmailMessage()
        message["To"] = "tim@example.org"
        message["Subject"] = "Izveštaj o podnesku " * (k + 1)  # long enough to be folded, over several lines
        message["Message-ID"] = make_msgid(domain="thb.example.org")
        message.set_content("Poštovani,\n\nvaš fajl je primljen.\n" * (k + 1))
        FolderSender(direct.as_uri()).send(message)
        FolderSender(stored.as_uri()).send_stored(message.as_string())
        name = message["Message-ID"].strip("<>").split("@")[0] + ".eml"
        assert (stored / name).read_bytes() == message.as_string().encode()
    written = sorted(p.name for p in direct.iterdir())
    assert len(written) == 20 and written == sorted(p.name for p in stored.iterdir())
