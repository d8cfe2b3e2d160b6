"""The report page: one self-contained HTML file (styles inline, figures as base64 PNG).

A small inline script marks `<body data-images-loaded="N" data-images-total="M" data-tables-overflowing="K">`
once the page has loaded, so a headless browser test can check that every figure decoded and that
no table needs horizontal scrolling (K = 0 at the window width it was opened with). Tables stay
narrow by wrapping: headers break after "." and "_", text cells anywhere, numbers never.
"""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass, field
from typing import Any

from hyperprune.report.figures import ReportFigure
from hyperprune.report.tables import Table

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1320px;
       padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
.meta { color: #555; }
.banner { background: #fff3cd; border: 1px solid #e0c36a; padding: 0.7em 1em; margin: 1em 0; font-weight: 600; }
.note { color: #7a4b00; background: #fdf6e3; padding: 0.3em 0.6em; margin: 0.3em 0; }
figure { display: inline-block; margin: 0.5em 1em 1em 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; max-width: 640px; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.82em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.45em; text-align: right; white-space: nowrap; }
th { background: #f4f4f4; white-space: normal; vertical-align: bottom; }
td.text { text-align: left; white-space: normal; overflow-wrap: anywhere; min-width: 4em; }
td.text.word { white-space: nowrap; }
tr.winner td { background: #fde2e2; } tr.finalist td { background: #fff0dc; }
tr.failed td { background: #efe6f7; } tr.eliminated td { color: #666; }
td.kept { background: #e3f4e3; } td.eliminated { background: #f6e0e0; }
.files { font-size: 0.85em; }
dl.context { display: grid; grid-template-columns: max-content 1fr; gap: 0.2em 1.2em; margin: 1em 0;
             padding: 0.7em 1em; background: #f7f9fc; border: 1px solid #dde3ec; font-size: 0.9em; }
dl.context dt { font-weight: 600; color: #333; } dl.context dd { margin: 0; }
"""

IMAGES_LOADED_SCRIPT = """
<script>
function hyperpruneCountImages() {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (img) { return img.complete && img.naturalWidth > 0; });
  document.body.dataset.imagesTotal = String(images.length);
  document.body.dataset.imagesLoaded = String(loaded.length);
  var wraps = Array.prototype.slice.call(document.querySelectorAll(".table-wrap"));
  document.body.dataset.tablesOverflowing = String(wraps.filter(function (w) {
    return w.scrollWidth > w.clientWidth + 1; }).length);
}
window.addEventListener("load", hyperpruneCountImages);
</script>
"""


@dataclass
class Section:
    title: str
    figures: list[ReportFigure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    text: str = ""                    # already-escaped HTML paragraph(s)


def format_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k}={format_value(v)}" for k, v in value.items())
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.2f}"
    return str(value)


def header_cell(name: str) -> str:
    """A column name that may break after "." and "_" (param.sparse.death_rate), so headers wrap
    instead of widening the table."""
    escaped = html.escape(name)
    for mark in (".", "_"):
        escaped = escaped.replace(mark, mark + "<wbr>")
    return f"<th>{escaped}</th>"


def shared_settings(table: Table) -> dict[str, Any]:
    """param.* columns with one value in every row (of two or more): said once above the table on the
    page instead of repeated in a column (the CSV and JSON keep every column)."""
    if len(table.rows) < 2:
        return {}
    out = {}
    for c in table.columns:
        values = {format_value(row.get(c)) for row in table.rows}
        if c.startswith("param.") and len(values) == 1:
            out[c] = table.rows[0].get(c)
    return out


def render_table(table: Table) -> str:
    shared = shared_settings(table)
    # A column empty in every row (no duplicate, no failure) says nothing on the page and costs
    # width; the CSV and JSON keep every column.
    columns = [c for c in table.columns
               if c not in shared and any(row.get(c) is not None for row in table.rows)]
    head = "".join(header_cell(c) for c in columns)
    body = []
    for row in table.rows:
        status = row.get("status")
        cls = f' class="{html.escape(str(status))}"' if status else ""
        cells = []
        for c in columns:
            value = row.get(c)
            classes = []
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                classes.append("text")
                if len(format_value(value)) <= 16:
                    classes.append("word")        # a status or a choice: never broken mid-word
            if value in ("kept", "eliminated"):
                classes.append(value)
            attr = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{attr}>{html.escape(format_value(value))}</td>")
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in table.notes)
    if shared:
        notes += ("<p>Same for every row: " + html.escape(", ".join(f"{c} = {format_value(v)}"
                                                                   for c, v in shared.items())) + ".</p>")
    files = (f'<p class="files">Also as <a href="{table.name}.csv">{table.name}.csv</a> and '
             f'<a href="{table.name}.json">{table.name}.json</a>.</p>')
    if not table.rows:
        return f"<h3>{html.escape(table.title)}</h3>{notes}<p>No rows yet.</p>"
    return (f"<h3>{html.escape(table.title)}</h3>{notes}<div class=\"table-wrap\"><table><thead><tr>{head}</tr>"
            f"</thead><tbody>{''.join(body)}</tbody></table></div>{files}")


def render_figure(figure: ReportFigure) -> str:
    data = base64.b64encode(figure.png).decode("ascii")
    caption = html.escape(figure.caption)
    return (f'<figure id="fig-{html.escape(figure.name)}"><img alt="{html.escape(figure.title)}" '
            f'src="data:image/png;base64,{data}"><figcaption><b>{html.escape(figure.title)}</b>. '
            f"{caption} (<a href=\"{html.escape(figure.name)}.png\">PNG</a>)</figcaption></figure>")


def render_page(title: str, meta: str, banner: str | None, summary: str, sections: list[Section],
                notes: list[str]) -> str:
    head = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>")
    parts = [head, f"<h1>{html.escape(title)}</h1><p class=\"meta\">{meta}</p>"]
    if banner:
        parts.append(f'<div class="banner" id="partial">{html.escape(banner)}</div>')
    parts += [f'<p class="note">{html.escape(n)}</p>' for n in notes]
    parts.append(summary)
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        if section.text:
            parts.append(section.text)
        parts += [f'<p class="note">{html.escape(n)}</p>' for n in section.notes]
        parts += [render_figure(f) for f in section.figures]
        parts += [render_table(t) for t in section.tables]
    parts.append(IMAGES_LOADED_SCRIPT)
    parts.append("</body></html>\n")
    return "\n".join(parts)
