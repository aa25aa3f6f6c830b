"""Telling people: the e-mails to the teams and the coordinator (email_templates/), the replies to e-mails that
brought no file, the weekly digest and reminders, and the outbox that sends them with retries.
May import: core, figures, store, reading, validation, reports. Never intake or publishing."""
