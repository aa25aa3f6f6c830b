"""Reading a team's file whatever its format, encoding and layout: the bytes to named columns of text, with the
findings met on the way (submission_files).
May import: core, figures, store."""
