"""An evaluation report as its self-contained HTML page (inline CSS and PNG plots, no script)."""

from __future__ import annotations

from typing import Any

from synthpatient.exporters.base import Exporter


class HTMLReportExporter(Exporter):
    """The offline HTML page of an :class:`~synthpatient.evaluation.EvaluationReport`.

    Drawing the plots needs the ``report`` extra (matplotlib); without it the export is one
    line naming the pip command.

    Examples:
        >>> HTMLReportExporter().export(evaluate(real, synthetic), "report.html")
    """

    key = "html_report"
    suffixes = (".html", ".htm")
    media_type = "text/html"
    description = "An evaluation report as one offline HTML page."
    accepts = frozenset({"report"})

    def _text(self, data: Any, **options: Any) -> str:
        return str(data.to_html())
