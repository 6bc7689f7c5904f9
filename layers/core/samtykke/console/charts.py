"""Server-rendered SVG charts for the console. Pure: numbers in, markup out, no I/O.

Every chart is an `<svg role="img">` with a `<title>` and a `<desc>`, and every page that shows one also renders
the same numbers as a table, so a screen reader (or a printout) loses nothing. Colours meet WCAG AA against white
(4.5:1 for the labels, 3:1 for the bars). No inline style: the markup uses presentation attributes only, which a
strict Content-Security-Policy allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

# Contrast against #fff: #1d4ed8 6.7:1, #b91c1c 6.5:1, #047857 5.5:1, #6d28d9 7.1:1, #92400e 7.1:1, #374151 10:1.
PALETTE = ("#1d4ed8", "#b91c1c", "#047857", "#6d28d9", "#92400e", "#374151")
INK = "#1f2937"
GRID = "#6b7280"


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    colour: str = PALETTE[0]


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[int]
    colour: str


def _attr(text: str) -> str:
    return escape(text, {'"': "&quot;"})


def horizontal_bars(title: str, description: str, bars: Sequence[Bar], *, width: int = 640) -> str:
    """One labelled bar per row (a dry run's included against each exclusion reason)."""
    row, label_width, value_width = 30, 220, 80
    plot = width - label_width - value_width
    top = max((bar.value for bar in bars), default=0) or 1
    height = row * max(len(bars), 1) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" class="chart"><title>{escape(title)}</title><desc>{escape(description)}</desc>',
    ]
    for i, bar in enumerate(bars):
        y = 5 + i * row
        length = round(plot * bar.value / top)
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 19}" text-anchor="end" font-size="14" fill="{INK}">'
            f"{escape(bar.label)}</text>"
            f'<rect x="{label_width}" y="{y + 4}" width="{max(length, 1)}" height="20" fill="{_attr(bar.colour)}"/>'
            f'<text x="{label_width + max(length, 1) + 6}" y="{y + 19}" font-size="14" fill="{INK}">{bar.value}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def daily_lines(
    title: str, description: str, days: Sequence[str], series: Sequence[Series], *, width: int = 640, height: int = 220
) -> str:
    """Daily counts as polylines, one per series, with the first and last day and the maximum marked."""
    left, bottom, top_pad = 40, 24, 10
    plot_w, plot_h = width - left - 10, height - bottom - top_pad
    peak = max((v for s in series for v in s.values), default=0) or 1
    step = plot_w / max(len(days) - 1, 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'class="chart"><title>{escape(title)}</title><desc>{escape(description)}</desc>',
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{width - 10}" y2="{top_pad + plot_h}" stroke="{GRID}"/>',
        f'<text x="{left - 6}" y="{top_pad + 10}" text-anchor="end" font-size="12" fill="{INK}">{peak}</text>',
        f'<text x="{left - 6}" y="{top_pad + plot_h}" text-anchor="end" font-size="12" fill="{INK}">0</text>',
    ]
    if days:
        parts.append(
            f'<text x="{left}" y="{height - 6}" font-size="12" fill="{INK}">{escape(days[0])}</text>'
            f'<text x="{width - 10}" y="{height - 6}" text-anchor="end" font-size="12" fill="{INK}">'
            f"{escape(days[-1])}</text>"
        )
    for s in series:
        points = " ".join(
            f"{left + i * step:.1f},{top_pad + plot_h - plot_h * v / peak:.1f}" for i, v in enumerate(s.values)
        )
        parts.append(f'<polyline fill="none" stroke="{_attr(s.colour)}" stroke-width="2" points="{points}"/>')
    parts.append("</svg>")
    return "".join(parts)


def rate_bars(title: str, description: str, rows: Sequence[tuple[str, float]], thresholds: Sequence[float]) -> str:
    """Rates (0..1) per row against threshold lines (the mailbox providers' 0.1 % and 0.3 % complaint limits)."""
    width, row, label_width = 640, 30, 220
    plot = width - label_width - 90
    scale = max([*(rate for _, rate in rows), *thresholds, 0.0]) * 1.2 or 1.0
    height = row * max(len(rows), 1) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'class="chart"><title>{escape(title)}</title><desc>{escape(description)}</desc>'
    ]
    for i, (label, rate) in enumerate(rows):
        y = 5 + i * row
        colour = PALETTE[1] if any(rate >= t for t in thresholds[-1:]) else PALETTE[0]
        length = max(round(plot * rate / scale), 1)
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 19}" text-anchor="end" font-size="14" fill="{INK}">'
            f"{escape(label)}</text>"
            f'<rect x="{label_width}" y="{y + 4}" width="{length}" height="20" fill="{colour}"/>'
            f'<text x="{label_width + length + 6}" y="{y + 19}" font-size="14" fill="{INK}">{rate:.2%}</text>'
        )
    for threshold in thresholds:
        x = label_width + round(plot * threshold / scale)
        parts.append(
            f'<line x1="{x}" y1="0" x2="{x}" y2="{height - 18}" stroke="{INK}" stroke-dasharray="4 3"/>'
            f'<text x="{x}" y="{height - 4}" text-anchor="middle" font-size="12" fill="{INK}">{threshold:.1%}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
