"""The self-contained HTML report of a forecast run (``clv forecast ... --report OUT.html``).

:func:`write_report` writes it atomically; :func:`render_report` returns the HTML. Figures are embedded
as PNG data URIs and the styles inline, so the single file opens offline with nothing to fetch.
"""
from .render import SECTIONS, render_report, segment_table, top_customers_table, write_report

__all__ = ["write_report", "render_report", "SECTIONS", "segment_table", "top_customers_table"]
