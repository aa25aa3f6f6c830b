"""The indicator catalogue (indicators.yaml): what each indicator is and what every output needs to know
about it: the code list behind each breakdown, which breakdowns add up to a total, the parts of a share,
the headlines, the charts, the receipt's figures and the summary's tables; and the one way a category key
(388/indictment/male) is built, parsed and labelled. Light: the standard library and YAML only."""
from __future__ import annotations

from functools import cache, reduce
from pathlib import Path

from thb_reporting.core import yaml_files

KEY_SEPARATOR = "/"  # between the codes of a composite category: 388/indictment/male
TOTAL = "total"


@cache
def _document() -> dict:
    return yaml_files.safe_load((Path(__file__).parent / "indicators.yaml").read_text(encoding="utf-8"))


def catalogue() -> dict:
    """indicator → its entry (dataset, unit, sr, en, breakdowns, ...), in the catalogue's order."""
    return _document()["indicators"]


def breakdown_spec(indicator: str, breakdown: str) -> dict:
    """How the breakdown's categories are made (code_list | composite | categories, sums_to, shown_in, ...)."""
    return catalogue()[indicator]["breakdowns"][breakdown] or {}


def _ordered(field: str) -> tuple:
    return tuple(sorted((item[field], name) for name, item in catalogue().items() if field in item))


def headlines() -> tuple[str, ...]:
    """The national summary's headline figures (their totals), in the order a report quotes them."""
    return tuple(name for _, name in _ordered("headline"))


def charted(page: str) -> tuple[str, ...]:
    """The indicators whose national total `page` (status_page | summary) charts over the quarters."""
    return tuple(name for name, item in catalogue().items() if page in item.get("charted", ()))


def shown_in(output: str) -> tuple[tuple[str, str], ...]:
    """(indicator, breakdown) of every breakdown that `output` (receipt | sdg_16_2_2) shows."""
    return tuple((name, b) for name, item in catalogue().items() for b, spec in item["breakdowns"].items()
                 if output in (spec or {}).get("shown_in", ()))


def shown_rows(frame, output: str):
    """Boolean mask of the rows of an indicator frame (columns indicator, breakdown) that `output` shows."""
    return frame.set_index(["indicator", "breakdown"]).index.isin(list(shown_in(output)))


def receipt_breakdowns() -> tuple[tuple[str, str], ...]:
    """(indicator, breakdown) of the figures a team's e-mail shows after an accepted file."""
    return shown_in("receipt")


def summary_tables() -> tuple[tuple[str, str], ...]:
    """(indicator, breakdown) of the national summary's tables, in their order."""
    tables = [(spec["summary_table"], name, b) for name, item in catalogue().items()
              for b, spec in item["breakdowns"].items() if "summary_table" in (spec or {})]
    return tuple((name, b) for _, name, b in sorted(tables))


def additive_breakdowns() -> frozenset[tuple[str, str]]:
    """(indicator, breakdown) whose categories partition the indicator's own total."""
    return frozenset((name, b) for name, item in catalogue().items() for b, spec in item["breakdowns"].items()
                     if (spec or {}).get("sums_to") == TOTAL)


def sums_into_other_totals() -> tuple[tuple[str, str, tuple[str, ...], str], ...]:
    """(indicator, breakdown, categories, total indicator): those categories add up to the total of another
    indicator (possible + identified persons = victims)."""
    return tuple((name, b, tuple(spec["sums_to"]["categories"]), spec["sums_to"]["indicator"])
                 for name, item in catalogue().items() for b, spec in item["breakdowns"].items()
                 if isinstance((spec or {}).get("sums_to"), dict) and "indicator" in spec["sums_to"])


def sums_into_coarser_breakdowns() -> tuple[tuple[str, str, str], ...]:
    """(indicator, breakdown, coarser breakdown): a composite breakdown whose categories, grouped by all
    their codes but the last, add up to the category of the coarser breakdown of the same indicator made
    of those codes (prosecution persons by article, stage and sex → by article and stage)."""
    return tuple((name, b, spec["sums_to"]["breakdown"])
                 for name, item in catalogue().items() for b, spec in item["breakdowns"].items()
                 if isinstance((spec or {}).get("sums_to"), dict) and "breakdown" in spec["sums_to"])


def share_parts(indicator: str) -> dict | None:
    """{numerator, denominator} of a share, each {indicator, breakdown, category} where breakdown and
    category are None for the share cell's own (numerator) or total/total (denominator); {count: ...} for a
    count outside the catalogue. None when the indicator is not a share."""
    share = catalogue()[indicator].get("share")
    if share is None:
        return None
    parts = {}
    for side, default in (("numerator", None), ("denominator", TOTAL)):
        part = dict(share[side])
        if "indicator" in part:
            part.setdefault("breakdown", default)
            part.setdefault("category", default)
        parts[side] = part
    return parts


def code_list_of(indicator: str, breakdown: str) -> str | tuple[str, ...] | None:
    """The code list behind the breakdown's categories, a tuple of code lists for a composite one, None
    when its categories are made in the catalogue (total, derived groups)."""
    spec = breakdown_spec(indicator, breakdown)
    if "composite" in spec:
        return tuple(spec["composite"])
    return spec.get("code_list")


def category_key(*codes):
    """The category of a composite breakdown: its codes joined by KEY_SEPARATOR. Works on strings and,
    element-wise, on pandas Series (indicators.py builds whole columns at once)."""
    return reduce(lambda key, code: key + KEY_SEPARATOR + code, codes)


def category_parts(key: str) -> list[str]:
    """The codes of a category key (category_key's inverse)."""
    return key.split(KEY_SEPARATOR)


@cache
def _code_labels() -> dict[tuple[str, str], tuple[str, str]]:
    """(code list, code) → (sr, en): reference/code_lists.csv, the countries, and the datasets' titles."""
    from thb_reporting.core import contracts, reference

    labels = {(name, c.code): (c.label_sr, c.label_en) for name, codes in reference.code_lists().items() for c in codes}
    for dataset in contracts.datasets():
        title = contracts.load(dataset).title
        labels[("dataset", dataset)] = (title["sr"], title["en"])
    return labels


def category_label(indicator: str, breakdown: str, category: str) -> tuple[str, str]:
    """(sr, en) label of a category as a person reads it; the category itself when nothing names it (the
    catalogue test makes sure every category the demo produces has a label)."""
    spec = breakdown_spec(indicator, breakdown)
    shared = _document().get("categories", {})
    made = {**shared, **spec.get("categories", {})}
    if category in made:
        return made[category]["sr"], made[category]["en"]
    labels = _code_labels()
    lists = code_list_of(indicator, breakdown)
    if isinstance(lists, tuple):
        parts = [labels.get((name, code), (code, code)) for name, code in zip(lists, category_parts(category))]
        if len(parts) != len(lists):
            return category, category
        # "Trgovina ljudima (čl. 388 KZ): Optužnica, Muški"
        return tuple(f"{parts[0][lang]}: " + ", ".join(p[lang] for p in parts[1:]) for lang in (0, 1))
    return labels.get((lists, category), (category, category))


def category_labels() -> list[tuple[str, str, str, str, str]]:
    """(indicator, breakdown, category, sr, en) for every category the catalogue can name: each code of a
    breakdown's code list, each combination of a composite's, the categories made in the catalogue and the
    shared ones (total, not stated); for outputs that label categories in a table (the analysts' views)."""
    from itertools import product

    from thb_reporting.core import reference

    lists = {name: [c.code for c in codes] for name, codes in reference.code_lists().items()}
    lists["dataset"] = [code for (name, code) in _code_labels() if name == "dataset"]
    shared = list(_document().get("categories", {}))
    out = []
    for indicator, item in catalogue().items():
        for breakdown, spec in item["breakdowns"].items():
            code_lists = code_list_of(indicator, breakdown)
            if isinstance(code_lists, tuple):
                categories = [category_key(*codes) for codes in product(*(lists[name] for name in code_lists))]
            else:
                categories = list(lists.get(code_lists, ())) if code_lists else []
            categories += [c for c in [*(spec or {}).get("categories", {}), *shared] if c not in categories]
            out += [(indicator, breakdown, c, *category_label(indicator, breakdown, c)) for c in categories]
    return out
