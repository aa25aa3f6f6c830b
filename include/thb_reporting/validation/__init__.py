"""Validating a submission against its contract: the checks in code, the Great Expectations suites generated
from the contracts (suites) and run on the rows (suite_runner), and the soft rules on a team's own history.
May import: core, figures, store, reading."""
