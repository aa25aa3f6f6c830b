"""What the benchmark scripts share: a fresh PostgreSQL database, stage timers, running one side of a
comparison in its own process (so that its peak memory is its own), the table of results, and a bare
contract-driven validator for the baselines (pandas masks, no Great Expectations)."""
from __future__ import annotations

import json
import os
import resource
import secrets
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PG_ADMIN = os.environ.get("THB_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
# A key of the benchmark's own (a published one is refused), the same in the processes it starts (run_side)
KEY = os.environ.setdefault("THB_BENCH_PSEUDONYMISATION_KEY", secrets.token_hex(32)).encode()


def database_name(name: str) -> str:
    """A benchmark's database name, with THB_BENCH_DB_SUFFIX appended (benchmarks of several checkouts on one
    PostgreSQL server then do not drop each other's databases)."""
    return name + os.environ.get("THB_BENCH_DB_SUFFIX", "")


def fresh_database(name: str) -> str:
    """An empty PostgreSQL database (dropped first if it exists; THB_BENCH_DB_SUFFIX appended to its name); its
    SQLAlchemy URL."""
    from sqlalchemy import create_engine, text

    name = database_name(name)
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


class Stages:
    """Each stage's time, its CPU time (user and system, all threads: less disturbed than wall time when
    other work shares the cores), and the process's peak memory when the stage ended (peaks: a stage whose
    figure is above the previous stage's raised the peak)."""

    def __init__(self):
        self.times: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.peaks: dict[str, float] = {}
        self._last, self._last_cpu = time.perf_counter(), time.process_time()

    def done(self, stage: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        self.times[stage] = self.times.get(stage, 0.0) + now - self._last
        self.cpu[stage] = self.cpu.get(stage, 0.0) + cpu - self._last_cpu
        self.peaks[stage] = peak_rss_mb()
        self._last, self._last_cpu = time.perf_counter(), time.process_time()

    def skip(self) -> None:
        """Leave the time since the last stage out of every stage (setup that is no part of the work)."""
        self._last, self._last_cpu = time.perf_counter(), time.process_time()


def peak_rss_mb() -> float:
    """This process's peak resident set since it started (VmHWM). Not getrusage's ru_maxrss: Linux carries
    that over fork and exec, so a side started after the parent generated the input file reported the
    parent's peak (both sides showed the same 1,622 MB)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_side(script: str, side: str, *args: str) -> dict:
    """Run `script --side <side> args…` in its own process; it prints one JSON line last."""
    out = subprocess.run([sys.executable, script, "--side", side, *args], capture_output=True, text=True)
    if out.returncode:
        sys.stderr.write(out.stderr[-4000:])
        raise SystemExit(f"{Path(script).name} --side {side} failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_table(base: dict, proj: dict, title: str, base_name: str = "baseline") -> dict:
    """Stage by stage, total and peak RSS with ratios; returns the summary."""
    more = "peaks" in base and "peaks" in proj and "cpu" in base and "cpu" in proj
    print(f"\n{title}\n{'stage':<22}{base_name + ' s':>14}{'project s':>12}{'ratio':>8}"
          + (f"{'CPU s: ' + base_name:>22}{'project':>9}{'ratio':>7}{'peak MB after: ' + base_name:>26}{'project':>9}"
             if more else ""))

    def ratio(b, p, width):
        return f"{p / b:>{width}.2f}" if b > 0.001 else f"{'-':>{width}}"

    for stage in dict.fromkeys([*base["stages"], *proj["stages"]]):
        b, p = base["stages"].get(stage, 0.0), proj["stages"].get(stage, 0.0)
        line = f"{stage:<22}{b:>14.2f}{p:>12.2f}{ratio(b, p, 8)}"
        if more:
            bc, pc = base["cpu"].get(stage, 0.0), proj["cpu"].get(stage, 0.0)
            line += f"{bc:>22.2f}{pc:>9.2f}{ratio(bc, pc, 7)}{base['peaks'].get(stage, 0):>26.0f}{proj['peaks'].get(stage, 0):>9.0f}"
        print(line)
    bt, pt = sum(base["stages"].values()), sum(proj["stages"].values())
    line = f"{'total':<22}{bt:>14.2f}{pt:>12.2f}{pt / bt:>8.2f}"
    if more:
        bc, pc = sum(base["cpu"].values()), sum(proj["cpu"].values())
        line += f"{bc:>22.2f}{pc:>9.2f}{ratio(bc, pc, 7)}"
    print(line)
    print(f"{'peak RSS MB':<22}{base['peak_rss_mb']:>14.0f}{proj['peak_rss_mb']:>12.0f}"
          f"{proj['peak_rss_mb'] / base['peak_rss_mb']:>8.2f}")
    return {"baseline_s": bt, "project_s": pt, "ratio": pt / bt,
            "baseline_peak_rss_mb": base["peak_rss_mb"], "project_peak_rss_mb": proj["peak_rss_mb"],
            "rss_ratio": proj["peak_rss_mb"] / base["peak_rss_mb"]}


def write_results(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / f"{name}.json"
    target.write_text(json.dumps(payload, indent=2, default=str))
    return target


# --- the bare baseline: reading and the contract's rules with nothing but pyarrow and pandas ------------
def bare_read(data: bytes, xlsx: bool, sheet: str | None = None):
    """Rows of text of a CSV (UTF-8 ± BOM, UTF-16, cp1250; ',' or ';') or an XLSX, by pyarrow or openpyxl."""
    import io

    import pandas as pd

    if xlsx:
        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        data = book[sheet] if sheet in book.sheetnames else book.worksheets[0]
        rows = [[None if v is None else str(v) for v in r] if any(v is not None for v in r) else None
                for r in data.iter_rows(values_only=True)]
        book.close()
        rows = [r for r in rows if r]
        return pd.DataFrame(rows[1:], columns=rows[0], dtype="str")
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        text = data.decode("utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1250")
    header = text.split("\n", 1)[0]
    sep = ";" if header.count(";") > header.count(",") else ","
    names = [c.strip() for c in header.strip().split(sep)]
    table = pacsv.read_csv(io.BytesIO(text.encode()), parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=True),
                           convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in names},
                                                                strings_can_be_null=True))
    return table.to_pandas()


def bare_validate(df, contract, quarter) -> tuple[int, dict]:
    """The contract's rules as pandas masks: required, conditionally required, code lists, ranges, dates
    in the quarter. Returns the number of bad rows and the parsed integer and date columns (by name)."""
    import pandas as pd

    bad = pd.Series(False, index=df.index)
    parsed = {}
    for col in contract.columns:
        s = df[col.name]
        if col.required:
            bad |= s.isna()
        if col.required_when:
            bad |= df[col.required_when["column"]].isin(col.required_when["in"]) & s.isna()
        if col.type in ("code", "country"):
            bad |= s.notna() & ~s.isin(col.allowed_codes)
        elif col.type == "codes":
            one = "(?:" + "|".join(col.allowed_codes) + ")"
            bad |= s.notna() & ~s.str.fullmatch(f"{one}(?:;{one})*").fillna(False).astype(bool)
        elif col.type == "integer":
            n = parsed[col.name] = pd.to_numeric(s.str.replace(",00", ""), errors="coerce")
            bad |= s.notna() & n.isna()
            if col.min is not None:
                bad |= n < col.min
            if col.max is not None:
                bad |= n > col.max
        elif col.type == "date":
            d = pd.to_datetime(s, format="%Y-%m-%d", errors="coerce")
            other = d.isna() & s.notna()  # day.month.year, as Serbian Excel writes it
            if other.any():
                d[other] = pd.to_datetime(s[other], format="%d.%m.%Y", errors="coerce")
            parsed[col.name] = d
            if col.within_quarter:
                bad |= (d < pd.Timestamp(quarter.start)) | (d > pd.Timestamp(quarter.end))
    return int(bad.sum()), parsed
