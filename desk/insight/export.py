"""A chart's data as CSV (UTF-8 with BOM, so that Excel opens the Chinese text)."""

from __future__ import annotations

import csv
import io

from desk.insight.queries import Chart
from knowledge_base.text import spreadsheet_safe


def chart_csv(chart: Chart) -> bytes:
    """The chart's columns and rows as CSV; the satisfaction chart's comments follow its table."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(chart.columns)
    writer.writerows([spreadsheet_safe(v) for v in row] for row in chart.rows)
    comments = chart.extra.get("comments")
    if comments:
        writer.writerow([])
        writer.writerow(["rated_at", "department", "staff", "rating", "comment"])
        writer.writerows([spreadsheet_safe(v) for v in row] for row in comments)  # students' own words
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
