"""The HTML report: self-contained, with the expected sections, tables and figures, written atomically,
reachable from ``clv forecast --report``, and rendered by a real headless browser."""
from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
import warnings
from html.parser import HTMLParser

import numpy as np
import pytest

from clvmodels.pipeline import ForecastResult
from clvmodels.report import SECTIONS, render_report, write_report

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOP_N = 15
# figures: 2 trace plots, period transactions, P(alive) matrix; validation: conditional expectations,
# PIT, tracking; value: CLV distribution, historical vs predicted; top customers
N_FIGURES_WITH_HOLDOUT = 10
N_FIGURES_WITHOUT_HOLDOUT = 7


class _Doc(HTMLParser):
    """What a browser would load from the document: headings, images, tables, external references."""

    def __init__(self):
        super().__init__()
        self.h2, self.imgs, self.external, self.scripts, self.tables = [], [], [], 0, []
        self._in_h2 = False
        self._table = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "h2":
            self._in_h2 = True
            self.h2.append("")
        if tag == "img":
            self.imgs.append(a)
        if tag in ("script", "link", "iframe", "object", "embed"):
            self.scripts += 1
        for k in ("src", "href"):
            v = a.get(k)
            if v and not (v.startswith("data:") or v.startswith("#")):
                self.external.append(v)
        if tag == "table":
            self._table = []
        if tag == "tr" and self._table is not None:
            self._table.append([])
        if tag in ("td", "th") and self._table is not None:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False
        if tag in ("td", "th") and self._cell is not None:
            self._table[-1].append(self._cell)
            self._cell = None
        if tag == "table" and self._table is not None:
            self.tables.append(self._table)
            self._table = None

    def handle_data(self, data):
        if self._in_h2:
            self.h2[-1] += data
        if self._cell is not None:
            self._cell += data


def parse(html: str) -> _Doc:
    d = _Doc()
    d.feed(html)
    return d


def decode_png(src: str):
    from PIL import Image

    assert src.startswith("data:image/png;base64,")
    im = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1], validate=True)))
    im.load()
    return im


@pytest.fixture(scope="module")
def result(cdnow_split, cdnow_bgnbd, cdnow_gamma_gamma):
    from clvmodels.scoring import score

    table = score(cdnow_split, cdnow_bgnbd, cdnow_gamma_gamma, "52W", discount_rate=0.1, max_draws=200)
    meta = {"interval": 0.9, "settings": {"horizon": "52W", "discount_rate": 0.1, "interval": 0.9, "method": "nuts"},
            "clv": table.attrs.get("clvmodels_clv", {}), "versions": {"clvmodels": "test"}}
    return ForecastResult(table=table, summary=cdnow_split, bgnbd=cdnow_bgnbd, gamma_gamma=cdnow_gamma_gamma,
                          metadata=meta)


@pytest.fixture(scope="module")
def html(result, cdnow_transactions):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = render_report(result, transactions=cdnow_transactions, top_n=TOP_N, max_draws=100)
    failed = [str(w.message) for w in caught if "report figure not drawn" in str(w.message)]
    assert not failed, failed
    return text


def test_report_sections_tables_and_embedded_figures(html, result):
    doc = parse(html)
    assert doc.h2 == list(SECTIONS)
    assert doc.scripts == 0 and doc.external == [], doc.external      # self-contained: nothing to fetch
    assert "Figure not drawn" not in html and "could not be produced" not in html
    assert len(doc.imgs) == N_FIGURES_WITH_HOLDOUT
    for img in doc.imgs:
        im = decode_png(img["src"])
        assert im.width > 300 and im.height > 200 and img["alt"]
        arr = np.asarray(im.convert("RGB"))
        assert arr.std() > 10                                           # not a blank image
    # data summary: customers and repeat purchases of the calibration period
    data = dict(row for row in doc.tables[0] if len(row) == 2)
    assert data["customers"] == "2,357" and data["customers with repeat purchases"] == "946"
    assert data["repeat purchases (frequency total)"] == "2,457"
    # model fit: parameter tables with R-hat and ESS for both models
    params = [t for t in doc.tables if t and t[0][:2] == ["parameter", "mean"]]
    assert [row[0] for row in params[0][1:]] == ["r", "alpha", "a", "b"]
    assert [row[0] for row in params[1][1:]] == ["p", "q", "v"]
    assert "r_hat" in params[0][0] and "ess_bulk" in params[0][0]
    r_row = params[0][1]
    assert float(r_row[1]) == pytest.approx(result.bgnbd.summary().loc["r", "mean"], rel=1e-3)
    # the verdict once per model (BG/NBD, Gamma-Gamma), not twice on the same line
    assert html.count("diagnostics ok") == 2
    for line in re.findall(r'<p class="meta">([^<]*(?:<span[^>]*>[^<]*</span>)?)</p>', html):
        assert line.count("diagnostics ok") <= 1, line
    # validation: the holdout totals
    val = next(dict(r for r in t if len(r) == 2) for t in doc.tables if any(r and r[0] == "actual holdout purchases" for r in t))
    assert val["actual holdout purchases"] == "1,882" and val["holdout length"] == "39 weeks"
    # value segments: every customer in one segment
    seg = next(t for t in doc.tables if t and t[0][0] == "segment")
    assert sum(int(r[1].replace(",", "")) for r in seg[1:]) == 2357
    assert {r[0] for r in seg[1:]} <= {"at risk", "high value", "medium value", "low value"}
    # top customers: the highest predicted CLV first, TOP_N rows
    top = next(t for t in doc.tables if t and t[0][:2] == ["customer_id", "frequency"])
    expected = result.table.sort_values("clv", ascending=False).head(TOP_N)["customer_id"].astype(str).tolist()
    assert [r[0] for r in top[1:]] == expected
    assert "clv_lower" in top[0] and "clv_upper" in top[0]


def test_report_without_holdout_has_no_validation(result):
    from dataclasses import replace

    summary = result.summary.drop(columns=["frequency_holdout", "monetary_value_holdout", "spend_holdout",
                                           "duration_holdout"])
    html = render_report(replace(result, summary=summary), max_draws=50, top_n=5, figures=False)
    doc = parse(html)
    assert doc.h2 == [s for s in SECTIONS if s != "Validation"]   # (figure count: see the CLI test)
    assert doc.imgs == [] and "actual holdout purchases" not in html
    # holdout given separately: the validation section comes back
    html = render_report(replace(result, summary=summary), holdout=result.summary, max_draws=50, top_n=5,
                         figures=False)
    doc = parse(html)
    assert doc.h2 == list(SECTIONS) and "actual holdout purchases" in html


def test_report_flags_failed_diagnostics(result):
    import copy
    from dataclasses import replace

    bad = copy.copy(result.bgnbd)
    bad.diagnostics_ = copy.copy(result.bgnbd.diagnostics_)
    bad.diagnostics_.problems = ["3 divergent transitions after tuning"]
    html = render_report(replace(result, bgnbd=bad), max_draws=50, top_n=3, figures=False)
    assert "diagnostics report problems" in html and "3 divergent transitions after tuning" in html
    assert "What to do" in html


def test_write_report_is_atomic(result, tmp_path, monkeypatch):
    out = tmp_path / "r" / "report.html"
    path = write_report(result, out, max_draws=50, top_n=3, figures=False)
    assert path == out and out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)            # readable like any file the user writes
    before = out.read_bytes()

    import clvmodels.report.render as render

    def boom(*a, **k):
        raise RuntimeError("figure backend exploded")

    monkeypatch.setattr(render, "render_report", boom)
    with pytest.raises(RuntimeError):
        render.write_report(result, out)
    assert out.read_bytes() == before                               # the last good report is intact
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.html"]   # no temporary file left


def test_cli_forecast_writes_report(tmp_path, cdnow_transactions, cdnow_bgnbd, cdnow_gamma_gamma):
    """``clv forecast ... --report OUT.html`` on the calibration period's log, with the models fitted on
    it loaded from --model-dir (no refit)."""
    from clvmodels.cli import main
    from clvmodels.pipeline import BGNBD_FILE, GAMMA_GAMMA_FILE

    log = tmp_path / "calibration.csv"
    cal = cdnow_transactions[cdnow_transactions["date"] <= "1997-09-30"]
    cal[["customer_id", "date", "amount"]].to_csv(log, index=False)

    models = tmp_path / "models"
    models.mkdir()
    cdnow_bgnbd.save(models / BGNBD_FILE)
    cdnow_gamma_gamma.save(models / GAMMA_GAMMA_FILE)
    out, report = tmp_path / "forecast.parquet", tmp_path / "report.html"
    rc = main(["forecast", str(log), "--observation-end", "1997-09-30", "--horizon", "52",
               "-o", str(out), "--model-dir", str(models), "--no-fit", "--max-draws", "100",
               "--report", str(report), "--quiet"])
    assert rc == 0 and out.exists()
    doc = parse(report.read_text(encoding="utf-8"))
    assert doc.h2 == [s for s in SECTIONS if s != "Validation"]
    assert len(doc.imgs) == N_FIGURES_WITHOUT_HOLDOUT


# -- a real browser ---------------------------------------------------------------------------------------
def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        p = shutil.which(name)
        if p:
            return p
    return None


CHROMIUM = _chromium()

_PROBE = """<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  var shown = ok.filter(function (i) { var r = i.getBoundingClientRect(); return r.width > 100 && r.height > 50; });
  var h2 = Array.prototype.map.call(document.querySelectorAll('h2'), function (h) { return h.textContent; });
  var out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify({images: imgs.length, decoded: ok.length, displayed: shown.length,
                                    widths: ok.map(function (i) { return i.naturalWidth; }), h2: h2,
                                    rows: document.querySelectorAll('tr').length});
  document.body.appendChild(out);
});
</script>"""


def _run_chromium(args, tmp_path, timeout=180):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run", "--disable-extensions", "--hide-scrollbars",
           f"--user-data-dir={tmp_path / 'chromium-profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=tmp_path)


@pytest.mark.skipif(CHROMIUM is None, reason="no headless browser: chromium is not installed "
                    "(.ci/run installs the Debian package with apt-get where it can)")
def test_report_renders_in_headless_chromium(html, tmp_path):
    import json

    from PIL import Image

    report = tmp_path / "report.html"
    report.write_text(html, encoding="utf-8")
    # 1. what the browser decodes and lays out: a copy of the report with a probe script appended,
    #    whose result is read back from the DOM the browser dumps after the load event
    probed = tmp_path / "probed.html"
    probed.write_text(html.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    res = _run_chromium(["--virtual-time-budget=20000", "--dump-dom", probed.as_uri()], tmp_path)
    m = re.search(r'<pre id="probe">(.*?)</pre>', res.stdout, re.S)
    assert m, f"no probe output from chromium (rc {res.returncode}): {res.stderr[-2000:]}"
    probe = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert probe["h2"] == list(SECTIONS)
    assert probe["images"] == N_FIGURES_WITH_HOLDOUT
    assert probe["decoded"] == N_FIGURES_WITH_HOLDOUT and probe["displayed"] == N_FIGURES_WITH_HOLDOUT
    assert min(probe["widths"]) > 300
    assert probe["rows"] > TOP_N + 20
    # 2. what it paints: a screenshot of the unmodified report is not blank and shows figure colours
    shot = tmp_path / "shot.png"
    res = _run_chromium([f"--screenshot={shot}", "--window-size=1200,3000", report.as_uri()], tmp_path)
    assert shot.exists(), f"no screenshot (rc {res.returncode}): {res.stderr[-2000:]}"
    im = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert im.shape[:2] == (3000, 1200)
    non_white = (im.sum(axis=2) < 720).mean()
    assert non_white > 0.05, f"only {non_white:.1%} of the page is painted"
    # matplotlib's default blue (31, 119, 180), drawn in the figures, is on the page
    blue = (np.abs(im - np.array([31, 119, 180])).sum(axis=2) < 40).mean()
    assert blue > 0.001, "no figure colours in the screenshot"
    # headings are dark text on white: the top of the page has dark pixels
    assert (im[:200].sum(axis=2) < 200).mean() > 0.002


def test_headline_new_customer_and_segment_intervals(result, cdnow_split):
    """The headline states the new customer's value from the metadata; the segment table shows the
    totals' intervals from the joint draws when the metadata has them."""
    import dataclasses

    from clvmodels.scoring import score
    from clvmodels.value import new_customer_value

    nc = new_customer_value(result.purchase_model, result.spend_model, "52W", discount_rate=0.1, margin=0.3,
                            acquisition_cost=5.0, max_draws=200)
    table = score(cdnow_split, result.purchase_model, result.spend_model, "52W", discount_rate=0.1, max_draws=200,
                  segment_summary=True)
    segs = table.attrs["clvmodels_segments"]
    res = dataclasses.replace(result, table=table, metadata={**result.metadata, "new_customer": nc, "segments": segs})
    text = render_report(res, figures=False)
    doc = parse(text)
    head = re.search(r'<p class="headline"[^>]*>(.*?)</p>', text, re.S).group(1)
    plain = re.sub(r"<[^>]+>", "", head)
    assert f"worth {nc['clv']:,.2f} over 52W" in plain
    assert f"90% credible interval {nc['clv_lower']:,.2f} to {nc['clv_upper']:,.2f}" in plain
    assert f"pays back up to {nc['max_acquisition_cost']:,.2f}" in plain
    assert f"CLV/CAC = {nc['clv_cac_ratio']:,.2f}" in plain
    seg = next(t for t in doc.tables if t and t[0][0] == "segment")
    rows = {r[0]: dict(zip(seg[0], r)) for r in seg[1:]}
    assert rows["all"]["customers"] == "2,357"
    assert rows["all"]["total, interval"] == (f"{segs['all']['clv_total_lower']:,.0f} to "
                                              f"{segs['all']['clv_total_upper']:,.0f}")
    assert "P(alive) = 1" in text                     # BG/NBD's one-time buyers, said in the report
    # without the metadata there is no headline (a result built by hand)
    assert 'class="headline"' not in render_report(result, figures=False)


# -- layout at a laptop's width -----------------------------------------------------------------------------
#: records, after the load event, the page's scroll width and every element that reaches past the right
#: edge of the 1280 px window (an element inside a scroll container that itself fits is not off-screen:
#: the container scrolls it into view)
_LAYOUT_PROBE = """<script>
window.addEventListener('load', function () {
  var vw = document.documentElement.clientWidth;
  function inScroller(el) {
    for (var p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      var ox = getComputedStyle(p).overflowX;
      if ((ox === 'auto' || ox === 'scroll' || ox === 'hidden') && p.getBoundingClientRect().right <= vw + 0.5) {
        return true;
      }
    }
    return false;
  }
  var off = [], scrolled = 0;
  var all = document.body.getElementsByTagName('*');
  for (var i = 0; i < all.length; i++) {
    var el = all[i];
    if (el.id === 'layout') { continue; }
    var r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > vw + 0.5 || r.left < -0.5)) {
      if (inScroller(el)) { scrolled += 1; continue; }
      off.push({tag: el.tagName, right: Math.round(r.right), text: (el.textContent || '').slice(0, 40)});
    }
  }
  var out = document.createElement('pre');
  out.id = 'layout';
  out.style.display = 'none';
  out.textContent = JSON.stringify({viewport: vw, scroll_width: document.documentElement.scrollWidth,
                                    offscreen: off.slice(0, 20), n_offscreen: off.length, n_scrolled: scrolled,
                                    tables: document.querySelectorAll('table').length,
                                    img_scales: Array.prototype.map.call(document.images, function (i) {
                                      return i.getBoundingClientRect().width / i.naturalWidth; })});
  document.body.appendChild(out);
});
</script>"""


def layout_at(html: str, tmp_path, width: int = 1280) -> dict:
    """What a browser window ``width`` px wide lays out: the page's scroll width and the elements that
    reach past its right edge (see :data:`_LAYOUT_PROBE`)."""
    import json

    probed = tmp_path / "layout.html"
    probed.write_text(html.replace("</body>", _LAYOUT_PROBE + "</body>"), encoding="utf-8")
    res = _run_chromium([f"--window-size={width},900", "--virtual-time-budget=20000", "--dump-dom", probed.as_uri()],
                        tmp_path)
    m = re.search(r'<pre id="layout"[^>]*>(.*?)</pre>', res.stdout, re.S)
    assert m, f"no layout probe output from chromium (rc {res.returncode}): {res.stderr[-2000:]}"
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))


@pytest.mark.skipif(CHROMIUM is None, reason="no headless browser: chromium is not installed "
                    "(.ci/run installs the Debian package with apt-get where it can)")
def test_report_fits_a_1280px_window(html, tmp_path):
    """Nothing runs off the page at 1280 px: the page does not scroll sideways and no element (the
    top-customers table was one) reaches past the window's right edge."""
    lay = layout_at(html, tmp_path, 1280)
    assert lay["viewport"] == 1280 and lay["tables"] >= 5
    assert lay["n_offscreen"] == 0, lay["offscreen"]
    assert lay["scroll_width"] <= lay["viewport"], lay
    assert lay["n_scrolled"] == 0, lay      # at 1280 px the tables fit whole, without scrolling sideways
    # the figures' smallest text (8-point legends and ticks) shows at least 10 CSS pixels high: each
    # image is displayed at (nearly) its natural size, drawn at the report's dpi
    from clvmodels.report.render import REPORT_DPI

    assert len(lay["img_scales"]) == N_FIGURES_WITH_HOLDOUT
    smallest_text_px = min(lay["img_scales"]) * REPORT_DPI * 8 / 72
    assert smallest_text_px >= 10, (smallest_text_px, lay["img_scales"])
    # the probe does see overflow: the same report squeezed into a 700 px window does not fit
    narrow = layout_at(html.replace("max-width:1100px", "max-width:1100px;min-width:1000px"), tmp_path, 700)
    assert narrow["n_offscreen"] > 0 and narrow["scroll_width"] > 700
