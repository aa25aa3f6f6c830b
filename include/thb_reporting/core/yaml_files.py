"""Reading the project's YAML (data contracts, rules, the indicator catalogue): yaml.safe_load's documents,
parsed by libyaml where PyYAML was built with it (about nine times faster; every task reads the contracts)."""
from __future__ import annotations

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str):
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 (a safe loader: libyaml's, or PyYAML's own)
