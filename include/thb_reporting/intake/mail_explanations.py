"""A team's reply to its validation e-mail, without a file: its words above what it quotes become the
explanation of that submission's warnings (store.explanations: screened for identifiers, refused whole when it
holds one). thb_reporting.intake.mailbox calls this for a reply in a validation e-mail's thread."""
from __future__ import annotations

import logging
import re
from email.message import EmailMessage

from thb_reporting.store import ledger, mail_ledger
from thb_reporting.store.explanations import ExplanationRefused, record_explanation

log = logging.getLogger(__name__)

# A reply quotes the message it answers below its own words: the first line of a quote ends the reply.
_QUOTE_START = re.compile(r"^(>|on\b.{0,200}\bwrote:?$|.{0,200}\bje napisa(o|la)\b|-{2,}\s*(original message|"
                          r"izvorna poruka|originalna poruka)|(from|od|sent|poslato):\s|_{5,}|-{20,}$)", re.IGNORECASE)


def reply_text(message: EmailMessage) -> str:
    """The words of a reply above what it quotes (plain text, or the HTML part's text)."""
    import html

    body = message.get_body(preferencelist=("plain", "html"))
    try:
        text = body.get_content() if body is not None else ""
    except (LookupError, ValueError):  # an unknown charset: nothing can be read of it
        return ""
    if body is not None and body.get_content_type() == "text/html":
        text = html.unescape(re.sub(r"(?is)<(script|style|blockquote).*?</\1>|<[^>]+>", "\n", text))
    words = []
    for line in text.splitlines():
        if _QUOTE_START.match(line.strip()):
            break
        words.append(line)
    return "\n".join(words).strip()


def record_reply_explanation(engine, explains: tuple[int, str], teams: list[str], message: EmailMessage, key: str,
                             now) -> tuple[str, str | None]:
    """Keep a team's reply as the explanation of the submission whose validation e-mail it answers (explains:
    its id and the start of its file's hash; teams: the sender's); returns the mailbox outcome and the team. A
    reply about a submission of another team, or one that says nothing, is a mail without a file; one holding a
    personal identifier is refused (not kept: its words go nowhere)."""
    submission_id, sha = explains
    with engine.begin() as conn:
        sub = ledger.submission(conn, submission_id)
        if sub is None or not sub.content_sha256.startswith(sha) or sub.team_code not in teams:
            return "no_attachment", None
        try:
            record_explanation(conn, submission_id, reply_text(message), "mail", mail_ledger.mail_ref(key), now)
        except ExplanationRefused as refused:
            return ("no_attachment" if refused.reason == "empty" else "explanation_refused"), sub.team_code
    log.info("e-mail %s: the explanation of submission %d", mail_ledger.mail_ref(key), submission_id)
    return "explanation", sub.team_code
