"""What disclosure control hides, as a figure of every publish (the publish log, the publish run's note,
docs/disclosure.md): per output and level, the count cells suppressed (primary: 1 to the threshold;
secondary: the others), the persons and the cases they hold, and how many of them are cells of a headline
indicator (the catalogue's `headline`, any breakdown). Pure: no database, no files."""
from __future__ import annotations

from thb_reporting.figures import indicator_catalogue

LEVELS = ("nation", "district", "team")
FIELDS = ("primary", "secondary", "persons", "cases", "headline")


def information_loss(exact, public, exact_cube, cube, catalogue: dict, threshold: int) -> list[dict]:
    """One row per output and level: {output, level, primary, secondary, persons, cases, headline}.
    exact/public: the exact and the public indicator rows (same order, disclosure.public_outputs);
    exact_cube/cube: the crim_thb cube before and after (its cells are persons, at the nation level)."""
    headline = set(indicator_catalogue.headlines())
    rows = {(output, level): dict.fromkeys(FIELDS, 0) for output, levels in
            (("indicators", LEVELS), ("crim_thb", ("nation",))) for level in levels}

    def count(row: dict, value, unit: str, is_headline: bool) -> None:
        row["primary" if 0 < value <= threshold else "secondary"] += 1
        row["persons" if unit == "persons" else "cases"] += int(value)
        row["headline"] += is_headline

    units = exact["indicator"].map(lambda name: catalogue[name]["unit"])
    for name, level, value, unit, hidden in zip(exact["indicator"], exact["level"], exact["value"], units,
                                                public["suppressed"]):
        if hidden and unit in ("persons", "cases") and (row := rows.get(("indicators", level))) is not None:
            count(row, value, unit, name in headline)
    for value, hidden in zip(exact_cube["value"], cube["suppressed"]):
        if hidden:
            count(rows[("crim_thb", "nation")], value, "persons", False)
    return [{"output": output, "level": level, **figures} for (output, level), figures in rows.items()]


def loss_lines(loss: list[dict]) -> list[str]:
    """The rows as sentences, for the log and the run's note."""
    return [f"{r['output']} {r['level']}: {r['primary'] + r['secondary']} cells suppressed ({r['primary']} primary, "
            f"{r['secondary']} secondary) holding {r['persons']} persons and {r['cases']} cases; "
            f"{r['headline']} headline cells hidden" for r in loss]
