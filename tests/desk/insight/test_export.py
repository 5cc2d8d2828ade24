"""A chart's CSV: what a student typed cannot become a spreadsheet formula."""

from __future__ import annotations

import csv
import io

from desk.insight.export import chart_csv
from desk.insight.queries import Chart


def test_comments_that_look_like_formulas_are_quoted_in_the_csv() -> None:
    chart = Chart(
        name="satisfaction",
        title="满意度",
        columns=["department", "rating"],
        rows=[["心理中心", 4.5]],
        extra={
            "comments": [
                ["2026-12-01", "心理中心", "王老师", 1, '=HYPERLINK("http://x","点我")'],
                ["2026-12-01", "心理中心", "王老师", 5, "-很好"],
            ]
        },
    )
    data = chart_csv(chart)
    assert data.startswith("\ufeff".encode())  # Excel reads the Chinese
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[1] == ["心理中心", "4.5"]
    assert rows[-2][-1] == '\'=HYPERLINK("http://x","点我")' and rows[-1][-1] == "'-很好"
