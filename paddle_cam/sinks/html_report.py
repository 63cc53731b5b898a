"""A self-contained QA report: one HTML file with inline thumbnails, plots, a sortable table and
relative links to each page's outputs; it opens from disk with no server."""
from __future__ import annotations

import base64
import html
import io
import os
from collections import Counter
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

_SORT_JS = """
document.querySelectorAll('table.sortable > thead > tr > th').forEach(function (th, col) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var asc = th.dataset.order !== 'asc';
    rows.sort(function (a, b) {
      var x = a.cells[col].dataset.v || a.cells[col].textContent, y = b.cells[col].dataset.v || b.cells[col].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      var r = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return asc ? r : -r;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    table.querySelectorAll('th').forEach(function (h) { delete h.dataset.order; });
    th.dataset.order = asc ? 'asc' : 'desc';
  });
});
document.getElementById('n-rows').textContent = document.querySelectorAll('#pages > tbody > tr').length;
"""

_CSS = """
body{font-family:'Noto Sans CJK SC','WenQuanYi Micro Hei','Microsoft YaHei',sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border:1px solid #ccc;padding:4px 6px;vertical-align:top}
th{background:#f2f2f2;cursor:pointer;user-select:none}th[data-order=asc]:after{content:' \\25B2'}
th[data-order=desc]:after{content:' \\25BC'}tr.flagged td:first-child{border-left:4px solid #d33}
.flag{display:inline-block;background:#fde2e2;border-radius:3px;padding:0 4px;margin:1px;font-size:12px}
.ok{color:#2a7}.plots img{max-width:32%;margin-right:1%}.err{color:#b00}
table.reading,table.acc{width:auto;font-size:12px}table.acc{margin-bottom:16px}.kind{font-size:12px;color:#555}
"""


def img_data_uri(rgb: np.ndarray, fmt: str = ".jpg", max_width: Optional[int] = None) -> str:
    """An RGB image as a base64 data URI (JPEG for thumbnails, PNG for plots)."""
    if max_width and rgb.shape[1] > max_width:
        h = int(round(rgb.shape[0] * max_width / rgb.shape[1]))
        rgb = cv2.resize(rgb, (max_width, max(1, h)), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(fmt, np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 80])
    mime = "image/jpeg" if fmt == ".jpg" else "image/png"
    return f"data:{mime};base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def figure_uri(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def plots(rows: List[Dict], aggregate: Optional[np.ndarray]) -> List[str]:
    """Flag counts, field-confidence histogram and the corpus heatmap, as data URIs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    counts = Counter(f["kind"] for r in rows for f in r.get("flags", []))
    fig, ax = plt.subplots(figsize=(4.5, 3))
    kinds = sorted(counts) or ["none"]
    ax.bar(kinds, [counts.get(k, 0) for k in kinds], color="#d66")
    ax.set_title("flags over the corpus")
    ax.tick_params(axis="x", rotation=30)
    out.append(figure_uri(fig))
    plt.close(fig)
    probs = [b["field_prob"] for r in rows for b in r.get("boxes", []) if b.get("field") not in (None, "other")]
    fig, ax = plt.subplots(figsize=(4.5, 3))
    ax.hist(probs or [0], bins=20, range=(0, 1), color="#69c")
    ax.set_title("field decision confidence")
    out.append(figure_uri(fig))
    plt.close(fig)
    if aggregate is not None:
        fig, ax = plt.subplots(figsize=(4.5, 3))
        ax.imshow(aggregate, cmap="jet")
        ax.set_title("where field decisions looked (page coords)")
        ax.axis("off")
        out.append(figure_uri(fig))
        plt.close(fig)
    return out


def write_index(path: str, title: str, rows: List[Dict], summary: Dict, aggregate: Optional[np.ndarray],
                thumbs: Dict[str, str], errors: List[Dict], page_details: Optional[Dict[str, str]] = None,
                sections: Sequence[str] = ()) -> str:
    """Write ``index.html``; ``rows`` are page reports, ``thumbs`` data URIs by page name,
    ``page_details`` HTML shown per page in place of the fields the classifier read (the page
    reading), ``sections`` HTML blocks placed between the plots and the page table."""
    from ..io import atomic_write_bytes

    root = os.path.dirname(os.path.abspath(path))
    e = html.escape
    head = (f"<!doctype html><html lang='zh'><head><meta charset='utf-8'><title>{e(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{e(title)}</h1>")
    s = summary
    facts = [f"pages: <b>{s.get('pages', 0)}</b>", f"documents: <b>{s.get('documents', 0)}</b>",
             f"failed files: <b class='{'err' if s.get('failed') else 'ok'}'>{s.get('failed', 0)}</b>",
             f"flagged pages: <b>{s.get('flagged_pages', 0)}</b>",
             f"seconds per page: <b>{s.get('seconds_per_page', 0):.1f}</b>"]
    if s.get("field_accuracy") is not None:
        facts.append(f"field accuracy: <b>{s['field_accuracy']:.3f}</b>")
    if s.get("pointing_game") is not None:
        facts.append(f"pointing game: <b>{s['pointing_game']:.3f}</b>")
    if s.get("reading_accuracy") is not None:
        facts.append(f"reading accuracy: <b>{s['reading_accuracy']:.3f}</b>")
    body = ["<p>" + " · ".join(facts) + " · rows: <span id='n-rows'></span></p>"]
    body.append("<div class='plots'>" + "".join(f"<img src='{u}'>" for u in plots(rows, aggregate)) + "</div>")
    body.extend(sections)
    body.append("<table id='pages' class='sortable'><thead><tr><th>page</th><th>thumbnail</th><th>flags</th>"
                "<th>boxes</th><th>explained</th><th>rotation</th><th>fields read</th><th>seconds</th></tr></thead><tbody>")
    for r in rows:
        name = r["page"]
        rel = os.path.relpath(os.path.dirname(r["report"]), root)
        flags = "".join(f"<span class='flag'>{e(f['kind'])}{(' ' + e(str(f.get('field', f.get('box_id', ''))))) if f.get('field') or f.get('box_id') is not None else ''}</span>"
                        for f in r.get("flags", []))
        if page_details and page_details.get(name):
            fields = page_details[name]
        else:
            fields = "<br>".join(f"{e(k)}: {e(str(v.get('text') or ''))}" for k, v in sorted(r.get("fields", {}).items()))
        cls = " class='flagged'" if r.get("flags") else ""
        body.append(
            f"<tr{cls}><td><a href='{e(rel)}/page.png'>{e(name)}</a><br><a href='{e(rel)}/report.json'>report.json</a></td>"
            f"<td><a href='{e(rel)}/page.png'><img src='{thumbs.get(name, '')}' width='180'></a></td>"
            f"<td data-v='{len(r.get('flags', []))}'>{flags or '<span class=ok>none</span>'}</td>"
            f"<td>{len(r.get('boxes', []))}</td><td>{len(r.get('decisions', []))}</td><td>{r.get('rotation', 0)}</td>"
            f"<td>{fields}</td><td>{r.get('seconds', 0):.1f}</td></tr>")
    body.append("</tbody></table>")
    if errors:
        body.append("<h2>files that could not be read</h2><ul>" +
                    "".join(f"<li class='err'>{e(x['file'])}: {e(x['error'])}</li>" for x in errors) + "</ul>")
    doc = head + "\n".join(body) + f"<script>{_SORT_JS}</script></body></html>"
    atomic_write_bytes(path, doc.encode("utf-8"))
    return path
