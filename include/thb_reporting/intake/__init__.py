"""Taking files in: the inbox folders and the reporting mailbox, archiving every file byte for byte, validating
and writing each accepted submission's snapshot, and the watch that starts a run on arrival.
May import: core, figures, store, reading, validation, reports. Never publishing or messaging: intake and
publishing meet only through the store (the ledger and the snapshots)."""
