"""Reading back what the pipeline published, as an outside reader would, for comparison with the truth."""
from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from thb_reporting.store.warehouse import reader_engine, table


def published_indicator(db_url: str) -> Counter:
    t = table("victims_by_team_quarter")
    with reader_engine(db_url).connect() as conn:
        rows = conn.execute(select(t.c.team_code, t.c.quarter, t.c.status, t.c.sex, t.c.age_group,
                                   t.c.exploitation, t.c.victims)).all()
    return Counter({tuple(r[:-1]): r[-1] for r in rows})


def dump(db_url: str, name: str, schema: str = "national") -> list[tuple]:
    """Every row of a table, sorted, with the time of publication left out (it is the only column
    allowed to differ between two runs)."""
    t = table(name, schema)
    columns = [c for c in t.columns if c.name not in ("published_at", "processed_at")]
    with reader_engine(db_url).connect() as conn:
        return sorted(tuple(map(repr, r)) for r in conn.execute(select(*columns)))


def ledger(db_url: str) -> list:
    t = table("submissions", "ledger")
    with reader_engine(db_url).connect() as conn:
        return conn.execute(select(t).order_by(t.c.submission_id)).all()


def findings(db_url: str) -> list:
    t = table("findings", "ledger")
    with reader_engine(db_url).connect() as conn:
        return conn.execute(select(t)).all()


def publications(db_url: str, dataset: str = "victims") -> dict[tuple[str, str], int]:
    t = table("publications")
    with reader_engine(db_url).connect() as conn:
        return {(r.team_code, r.quarter): r.submission_id
                for r in conn.execute(select(t).where(t.c.dataset == dataset))}


def persons(db_url: str, team: str, quarter: str) -> int:
    from sqlalchemy import func

    t = table("victims")
    with reader_engine(db_url).connect() as conn:
        return conn.execute(select(func.count()).where(t.c.team_code == team, t.c.quarter == quarter)).scalar_one()


def external_references(html: str) -> list[str]:
    """Everything in a page that a browser would fetch from elsewhere or run from a file: a src or href to
    a host that is not loopback, any <script src>, any <link href>, a style's @import or url() of another
    host (the pages must be self-contained)."""
    from html.parser import HTMLParser
    from urllib.parse import urlsplit

    found = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            for name, value in attrs:
                if name not in ("src", "href", "action", "srcset", "data") or not value:
                    continue
                host = urlsplit(value.strip()).hostname
                remote = value.strip().startswith("//") or (host is not None and host not in ("127.0.0.1", "localhost", "::1"))
                if remote or (tag == "script" and name == "src") or (tag == "link" and name == "href"):
                    found.append(f"<{tag} {name}={value}>")

    Parser().feed(html)
    import re

    found += re.findall(r"@import[^;]*|url\(\s*['\"]?(?:https?:)?//[^)]*\)", html)  # style sheets that fetch
    return found
