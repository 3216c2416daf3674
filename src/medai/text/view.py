"""A readable HTML view of annotated notes: concepts highlighted by label, negated ones struck
through, other ConText attributes as small tags, medication orders underlined, section headers
in bold. Text is HTML-escaped; the page has no scripts and loads nothing."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["notes_html"]

COLORS = {
    "diagnosis": "#fde2e1",
    "symptom": "#fff1c2",
    "finding": "#ffe7cc",
    "procedure": "#dcefff",
    "test": "#e4e0ff",
    "drug": "#d9f5dd",
    "anatomy": "#eeeeee",
}
TAGS = {"uncertain": "?", "historical": "hx", "hypothetical": "if", "family": "fam"}

_CSS = """
body{font-family:system-ui,sans-serif;max-width:980px;margin:24px auto;color:#222}
.note{border:1px solid #ddd;border-radius:6px;padding:12px 16px;margin:16px 0}
.note h2{font-size:15px;margin:0 0 8px;color:#555}
.text{white-space:pre-wrap;line-height:1.9;font-size:14px}
.c{border-radius:3px;padding:1px 2px}
.neg{text-decoration:line-through;text-decoration-color:#c00;text-decoration-thickness:2px}
.tag{font-size:10px;vertical-align:super;color:#555;margin-left:1px}
.negtag{color:#c00;font-weight:600}
.med{border-bottom:2px solid #2a7}
.hdr{font-weight:700}
.err{color:#b00}
.legend span{margin-right:10px;padding:1px 4px;border-radius:3px;font-size:12px}
"""


def _events(ann: Mapping[str, Any]) -> list[tuple[int, int, str]]:
    """(position, order, html) pieces to insert; order keeps closings before openings."""
    ev: list[tuple[int, int, str]] = []
    for s in ann.get("sections", []):
        ev.append((s["start"], 2, '<span class="hdr">'))
        ev.append((s["body_start"], 0, "</span>"))
    for m in ann.get("medications", []):
        title = html.escape(
            ", ".join(
                f"{k}={m[k]}"
                for k in (
                    "drug",
                    "strength",
                    "unit",
                    "dose",
                    "dose_unit",
                    "route",
                    "per_day",
                    "duration_days",
                    "as_needed",
                    "indication",
                )
                if m.get(k) not in (None, False)
            ),
            quote=True,
        )
        ev.append((m["start"], 1, f'<span class="med" title="{title}">'))
        ev.append((m["end"], 1, "</span>"))
    for c in ann.get("concepts", []):
        color = COLORS.get(c.get("label", ""), "#eef")
        cls = "c neg" if c.get("negated") else "c"
        title = html.escape(
            f"{c.get('label')} {c.get('code') or ''} "
            + " ".join(k for k in ("negated", *TAGS) if c.get(k)),
            quote=True,
        )
        tags = ""
        if c.get("negated"):
            tags += '<span class="tag negtag">neg</span>'
        tags += "".join(f'<span class="tag">{t}</span>' for k, t in TAGS.items() if c.get(k))
        ev.append(
            (c["start"], 3, f'<span class="{cls}" style="background:{color}" title="{title}">')
        )
        ev.append((c["end"], 0, f"</span>{tags}"))
    return ev


def note_html(text: str, ann: Mapping[str, Any]) -> str:
    """One note as HTML with its annotations."""
    events = sorted(_events(ann), key=lambda e: (e[0], e[1]))
    out: list[str] = []
    pos = 0
    for at, _, piece in events:
        if at > pos:
            out.append(html.escape(text[pos:at]))
            pos = at
        out.append(piece)
    out.append(html.escape(text[pos:]))
    return '<div class="text">' + "".join(out) + "</div>"


def notes_html(items: Iterable[tuple[str | None, Mapping[str, Any]]], title: str = "Notes") -> str:
    """A whole page: ``items`` are (note text or None for error records, annotation)."""
    legend = "".join(
        f'<span style="background:{c}">{html.escape(k)}</span>' for k, c in COLORS.items()
    )
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="legend">{legend} <span class="neg">negated</span> '
        '<span class="med">medication order</span> tags: ? uncertain, hx historical, '
        "if hypothetical, fam family</p>",
    ]
    for text, ann in items:
        head = html.escape(f"{ann.get('id')} ({ann.get('lang', '?')})")
        if "error" in ann or text is None:
            parts.append(
                f'<div class="note"><h2>{head}</h2>'
                f'<p class="err">{html.escape(str(ann.get("error")))}</p></div>'
            )
            continue
        parts.append(f'<div class="note"><h2>{head}</h2>{note_html(text, ann)}</div>')
    parts.append("</body></html>")
    return "".join(parts)
