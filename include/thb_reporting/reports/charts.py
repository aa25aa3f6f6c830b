"""Figures as people read them: numbers in the Serbian way, a confidential cell marked as statistical
offices print it, and line charts as plain SVG (no script, no library, readable offline), for the status page
and the national summary. Pure: the standard library only."""
from __future__ import annotations

from html import escape

SUPPRESSED_MARK = "x"  # as statistical offices print a confidential cell


def format_value(value, unit: str = "persons") -> str:
    if value is None:
        return SUPPRESSED_MARK
    if unit == "share":
        return f"{value * 100:.0f} %"
    return f"{value:,.0f}".replace(",", ".")  # Serbian thousands separator


def line_chart_svg(points: list[tuple[str, float | None]], title: str, unit: str = "persons",
                   width: int = 560, height: int = 230) -> str:
    """A line chart of (label, value) points as inline SVG; a None value is a gap in the line, marked x."""
    left, right, top, bottom = 56, 30, 34, 40
    known = [v for _, v in points if v is not None]
    top_value = max(known, default=0) or 1
    if unit == "share":
        top_value = max(top_value, 1.0)
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(points) - 1, 1)

    def xy(i, v):
        return left + i * step, top + plot_h - (v / top_value) * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" class="chart"><title>{escape(title)}</title>',
             f'<text x="{left}" y="18" font-size="11" font-weight="bold">{escape(title)}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#888"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#888"/>']
    for fraction in (0, 0.5, 1):
        y = top + plot_h - fraction * plot_h
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end">'
                     f'{escape(format_value(fraction * top_value, unit))}</text>')
    segment: list[str] = []
    segments = [segment]
    for i, (label, value) in enumerate(points):
        x = left + i * step
        parts.append(f'<text x="{x:.1f}" y="{height - 22}" font-size="10" text-anchor="middle">{escape(label)}</text>')
        if value is None:
            segment = []
            segments.append(segment)
            parts.append(f'<text x="{x:.1f}" y="{top + plot_h - 4}" font-size="11" text-anchor="middle" '
                         f'fill="#a00">{SUPPRESSED_MARK}</text>')
            continue
        px, py = xy(i, value)
        segment.append(f"{px:.1f},{py:.1f}")
        parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="#1f5fa8"><title>{escape(label)}: '
                     f'{escape(format_value(value, unit))}</title></circle>')
        parts.append(f'<text x="{px:.1f}" y="{py - 7:.1f}" font-size="10" text-anchor="middle">'
                     f'{escape(format_value(value, unit))}</text>')
    for seg in segments:
        if len(seg) > 1:
            parts.append(f'<polyline fill="none" stroke="#1f5fa8" stroke-width="2" points="{" ".join(seg)}"/>')
    parts.append("</svg>")
    return "".join(parts)
