"""A bar chart as server-rendered SVG (no script, no library): first connections per day.

Numbers and dates only reach the markup through Markup.format (escaped); the chart has a
title and each bar its own <title>, and the page also shows the figures as a table.
"""

from __future__ import annotations

from datetime import date

from markupsafe import Markup

WIDTH, HEIGHT, PAD = 640, 200, 28


def bars(series: list[tuple[date, int]], title: str) -> Markup:
    top = max([n for _, n in series] + [1])
    step = (WIDTH - 2 * PAD) / max(len(series), 1)
    parts = [Markup('<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
                    'viewBox="0 0 {w} {h}" aria-labelledby="chart-title">'
                    '<title id="chart-title">{t}</title>').format(w=WIDTH, h=HEIGHT, t=title)]
    parts.append(Markup('<line x1="{p}" y1="{y}" x2="{x}" y2="{y}" class="axis"/>').format(
        p=PAD, x=WIDTH - PAD, y=HEIGHT - PAD))
    parts.append(Markup('<text x="2" y="{y}" class="label">{n}</text>').format(y=PAD, n=top))
    for i, (day, n) in enumerate(series):
        h = (HEIGHT - 2 * PAD) * n / top
        x = PAD + i * step + 1
        parts.append(Markup(
            '<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}">'
            '<title>{d} : {n}</title></rect>').format(
            x=x, y=HEIGHT - PAD - h, w=max(step - 2, 1), h=h, d=day.isoformat(), n=n))
        if i % 7 == 0 or i == len(series) - 1:
            parts.append(Markup('<text x="{x:.1f}" y="{y}" class="label">{d}</text>').format(
                x=x, y=HEIGHT - 8, d=day.strftime("%d/%m")))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
