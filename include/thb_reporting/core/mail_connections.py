"""The mail connections (smtp_default, imap_default) are opened by the Airflow providers' own hooks (SmtpHook,
ImapHook), with the providers' defaults: TLS on unless the connection turns it off, the server's certificate
checked against the system's CA store (or the file SSL_CERT_FILE names; README, Mail connections). What is ours:
refusing a flag the hooks would read the other way round, and saying why a connection failed, naming it."""
from __future__ import annotations

import ssl

# The hooks read these flags with Python's truth (bool("false") is True): the text "false" would turn TLS
# off in SMTP (disable_*) and fail to turn it off in IMAP (use_ssl). Only JSON booleans, or the text "true".
TLS_FLAGS = {"smtp": ("disable_ssl", "disable_tls"), "imap": ("use_ssl",)}
_MISREAD = {"false", "0", "no", "off", ""}


IMAP_CONNECTION = "imap_default"  # the reporting mailbox (intake.mailbox)
SMTP_CONNECTION = "smtp_default"  # the mail server the outbox sends through (messaging.outbox)


def mail_connection(conn_id: str):
    """The Airflow connection conn_id, or None where none is set (one lookup; no provider imported)."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        return None


class MailConnectionRefused(ConnectionError):
    """A mail connection that could not be opened, or was refused; its words name the connection and the
    reason, and are made from the connection's settings and the TLS library alone (nothing of a message)."""
    SAID_IN_FULL = True  # core.privacy.error_class may log its words


def check_tls_flags(conn_id: str, kind: str, extra: dict) -> None:
    """Refuse a TLS flag written as a text the hook would read as its opposite."""
    for flag in TLS_FLAGS[kind]:
        value = extra.get(flag)
        if isinstance(value, str) and value.strip().lower() in _MISREAD:
            raise MailConnectionRefused(
                f"{conn_id}: the extra {flag} is the text {value!r}, which Airflow's {kind} provider reads as true; "
                f"write it as the JSON value false (or leave it out)")


def refusal(conn_id: str, error: BaseException) -> MailConnectionRefused:
    """The reason `error` gives for a failed connection, named by the connection."""
    if isinstance(error, MailConnectionRefused):
        return error
    if isinstance(error, ssl.SSLCertVerificationError):
        reason = f"the server's certificate was refused ({error.verify_message})"
    elif isinstance(error, ssl.SSLError):
        plain = ": the server does not start TLS at once on this port" if error.reason == "WRONG_VERSION_NUMBER" else ""
        reason = f"the TLS handshake failed ({error.reason or error}{plain})"
    elif type(error).__name__ == "SMTPNotSupportedError" and "STARTTLS" in str(error):
        reason = "the server offers no STARTTLS, and the connection requires TLS (disable_tls is not set)"
    else:  # imaplib's errors carry the server's bytes
        said = error.args[0] if len(error.args) == 1 and isinstance(error.args[0], bytes) else error
        reason = f"{type(error).__name__}: {said.decode(errors='replace') if isinstance(said, bytes) else said}"
    return MailConnectionRefused(f"{conn_id}: {reason}")
