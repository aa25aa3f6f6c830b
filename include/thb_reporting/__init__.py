"""thb_reporting: local anti-trafficking teams' quarterly submissions → national reporting tables.

The Airflow DAGs in dags/ only schedule and wire; everything they do lives here, importable and
testable without a scheduler. Keep heavy imports (pandas, pyarrow, great_expectations) inside
functions or in modules the DAG files do not import at parse time.

The package is laid out by stage, each a sub-package whose __init__ says what it owns and may import.
STAGES is their order, declared once (tests/test_layers.py enforces it, docs/architecture.md explains it): a
module imports only from its own stage and those before it; intake, publishing and messaging are siblings
that never import each other (they meet through the store: the ledger and the snapshots).
"""

import os as _os

# Great Expectations 1.x reports usage to its vendor unless this is set before it is imported. The
# pipeline holds victims' data on a government network and must never reach outside it: forced, not a
# default, and set here so that every entry point (DAGs, CLI, tests, benchmarks) has it.
_os.environ["GX_ANALYTICS_ENABLED"] = "false"

STAGES = ("core", "figures", "store", "reading", "validation", "reports",
          ("intake", "publishing", "messaging"), "ui", "tools")
