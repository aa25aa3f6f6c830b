"""Publishing: the national tables and indicators from the current snapshots, atomically; the public exports
and summaries, the transmissions to Eurostat, UNODC and GRETA, and the research export.
May import: core, figures, store, reading, validation, reports. Never intake or messaging."""
