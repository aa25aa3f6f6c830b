"""A transmission file read the way its receiver reads it: with the receiver's published structure (tests/support/
structures, SDMX-ML) through both SDMX libraries a receiver may use, pysdmx and sdmx1. Each reading gives the
observations as {key: (value or None, attributes)}, keeping only what the library keeps: a column the
structure does not have is dropped by sdmx1, silently, and must not be what protects a value."""
from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import cache
from pathlib import Path

STRUCTURES = Path(__file__).parent / "structures"
SDG = "IAEG-SDGs_SDG_1.14.xml.gz"


@cache
def structure_file(name: str = SDG) -> Path:
    """The structure message, uncompressed once per test session into a temporary folder (the libraries read
    a file)."""
    import tempfile

    out = Path(tempfile.mkdtemp(prefix="sdmx-structure-")) / name.removesuffix(".gz")
    out.write_bytes(gzip.decompress((STRUCTURES / name).read_bytes()))
    return out


@dataclass(frozen=True)
class Reading:
    library: str
    dimensions: tuple[str, ...]                     # the structure's, time last
    observations: dict[tuple, tuple[float | None, dict[str, str]]]  # key → (value, attributes as read)
    repeated: list[tuple]                           # keys read more than once
    columns: set[str]                               # components the library kept


@cache
def pysdmx_schema(name: str = SDG):
    """The pysdmx Schema of the structure (read from the SDMX-ML message by pysdmx itself)."""
    from pysdmx.io import read_sdmx

    (structure,) = read_sdmx(structure_file(name)).get_data_structure_definitions()
    return structure.to_schema()


@cache
def sdmx1_structure(name: str = SDG, dsd_id: str = "SDG"):
    import sdmx

    return sdmx.read_sdmx(structure_file(name)).structure[dsd_id]


def read_with_pysdmx(path: Path, name: str = SDG) -> Reading:
    from pysdmx.io import get_datasets

    (dataset,) = get_datasets(path, structure_file(name))
    schema = dataset.structure
    assert hasattr(schema, "components"), f"pysdmx found no structure for {path.name}: {schema}"
    dims = tuple(c.id for c in schema.components if c.role.name == "DIMENSION")
    kept = {c.id for c in schema.components}
    frame = dataset.data
    observations, repeated = {}, []
    for r in frame.to_dict("records"):
        key = tuple(str(r[d]) for d in dims)
        value = r.get("OBS_VALUE")
        value = None if value is None or value == "" or value != value else float(value)  # NaN: no value
        attributes = {c: str(r[c]) for c in frame.columns if c in kept and c not in dims and c != "OBS_VALUE"}
        repeated += [key] if key in observations else []
        observations[key] = (value, attributes)
    return Reading("pysdmx", dims, observations, repeated, {c for c in frame.columns if c in kept})


def read_with_sdmx1(path: Path, name: str = SDG, dsd_id: str = "SDG") -> Reading:
    import sdmx

    dsd = sdmx1_structure(name, dsd_id)
    message = sdmx.read_sdmx(path, structure=dsd)
    dims = tuple(d.id for d in dsd.dimensions.components)
    observations, repeated, columns = {}, [], set()
    for dataset in message.data:
        for obs in dataset.obs:
            key = tuple(str(obs.dimension.values[d].value) for d in dims)
            value = obs.value
            value = None if value is None or value == "" or value != value else float(value)
            attributes = {a: str(v.value) for a, v in obs.attached_attribute.items() if v.value not in (None, "")}
            columns |= set(attributes)
            repeated += [key] if key in observations else []
            observations[key] = (value, attributes)
    return Reading("sdmx1", dims, observations, repeated, columns)


def codes_of(name: str = SDG) -> dict[str, set[str]]:
    """component → the codes of its code list in the structure (coded components only)."""
    return {c.id: {code.id for code in c.local_codes} for c in pysdmx_schema(name).components if c.local_codes is not None}
