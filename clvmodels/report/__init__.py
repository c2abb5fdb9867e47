"""The self-contained HTML reports: a forecast run's (``clv forecast ... --report OUT.html``) and a
model comparison's (``clv compare ... --report OUT.html``).

:func:`write_report` / :func:`write_comparison_report` write them atomically; :func:`render_report` /
:func:`render_comparison_report` return the HTML. Figures are embedded as PNG data URIs and the styles
inline, so the single file opens offline with nothing to fetch.
"""
from .compare import render_comparison_report, write_comparison_report
from .render import SECTIONS, render_report, segment_table, top_customers_table, write_report

__all__ = ["write_report", "render_report", "SECTIONS", "segment_table", "top_customers_table",
           "write_comparison_report", "render_comparison_report"]
