"""A one-page HTML report of the shown plan: scenario, topology picture, plan, charts, baselines, front.

Self-contained (pictures embedded as data URIs), plain HTML and CSS that opens
in any browser and prints on A4/Letter (``@media print``). Every figure carries
the provenance the cost model gave it. Charts and the topology picture are
rendered by the window (pyqtgraph exporters, the canvas); the numbers come from
the core prediction, never recomputed here.
"""

from __future__ import annotations

__all__ = ["write_report", "export_charts"]

import base64
import html
import tempfile
from collections.abc import Mapping
from pathlib import Path

from PySide6.QtWidgets import QGraphicsScene

from planner_app.core.errors import PlannerError
from planner_app.core.fileio import atomic_write_text
from planner_app.ui.panels.charts import export_chart
from planner_app.ui.planning_model import WorkloadPlanning

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px;margin:0 0 4px} h2{font-size:15px;margin:18px 0 6px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:12px;margin:4px 0} td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}
th{background:#f3f5f7} .num{text-align:right} .bad{color:#C62828} .grid{display:flex;flex-wrap:wrap;gap:10px}
.grid img{width:48%;min-width:320px;border:1px solid #eee} .topo{max-width:100%;border:1px solid #eee}
small{color:#666} @media print{body{margin:8mm} .grid img{width:48%} h2{page-break-after:avoid}}
"""


def _img(path: Path) -> str:
    mime = "image/svg+xml" if path.suffix == ".svg" else "image/png"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def export_charts(charts: Mapping[str, object], folder: Path, formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Write every chart (name -> chart) into ``folder`` in each format; returns the files."""
    folder.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    for name, chart in charts.items():
        for fmt in formats:
            out.append(export_chart(chart, folder / f"{name}.{fmt}"))  # type: ignore[arg-type]
    return out


def _rows(rows: list[list[str]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def write_report(entry: WorkloadPlanning, scene: QGraphicsScene, charts: Mapping[str, object], path: Path,
                 title: str = "") -> Path:
    """Write the report of ``entry``'s shown plan to ``path`` (atomically)."""
    from planner_app.ui.files import ExportOptions, export_scene_image

    if entry.result is None or entry.shown is None:
        raise PlannerError(f"optimize workload {entry.workload!r} first: there is no plan to report.")
    result, shown = entry.result, entry.shown
    p = shown.prediction
    topo = entry.session.topology
    w = entry.session.workload
    with tempfile.TemporaryDirectory(prefix="planner-report-") as tmp:
        pics = export_charts(charts, Path(tmp), ("png",))
        chart_html = "".join(f"<img alt='{html.escape(x.stem)}' src='{_img(x)}'>" for x in pics)
        try:
            topo_html = f"<img class='topo' alt='topology' src='{_img(export_scene_image(scene, Path(tmp) / 'topology.png', ExportOptions(scale=1.0)))}'>"
        except PlannerError:
            topo_html = "<p><small>(the canvas is empty)</small></p>"
    plan_rows = [[str(part.index), html.escape(part.device),
                  f"{part.unit_ids[0]}–{part.unit_ids[-1]}", html.escape(part.level), f"<span class=num>{part.compute_ms:.3f}</span>",
                  f"{(part.weights_bytes + part.peak_activation_bytes) / 1e6:.2f}", html.escape(part.provenance)]
                 for part in p.parts]
    transfers = [[html.escape(f"{t.from_device} → {t.to_device}"), html.escape(" + ".join(t.route_links)),
                  f"{t.bytes / 1e3:.1f}", html.escape(t.codec), f"{t.transfer_ms:.3f}"] for t in p.transfers]
    baselines = [[html.escape(b.name), html.escape(b.description), f"{b.prediction.latency_ms:.2f}",
                  f"{b.prediction.cost_usd_per_1k:.5f}", "yes" if b.prediction.feasible else "<span class=bad>no</span>"]
                 for b in result.baselines]
    front = [[str(i + 1), html.escape(e.placement.summary()), f"{e.prediction.latency_ms:.2f}",
              f"{e.prediction.cost_usd_per_1k:.5f}", f"{e.prediction.link_bytes_per_request / 1e3:.1f}",
              f"{e.prediction.fidelity:.4f}"] for i, e in enumerate(result.pareto_front)]
    prov = [[html.escape(k), html.escape(v)] for k, v in p.provenance.items()]
    verdict = "meets every constraint" if p.feasible else \
        f"<span class=bad>breaks: {html.escape('; '.join(p.violations))}</span>"
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title or topo.name)} — plan</title>
<style>{_CSS}</style></head><body>
<h1>{html.escape(topo.name)}: {html.escape(w.name)}</h1>
<p>Model <b>{html.escape(entry.source.name)}</b> ({html.escape(entry.model_ref.model)}, sha256 {entry.source.sha256[:12]}…) ·
requests from <b>{html.escape(w.source)}</b> at {w.rate_rps:g}/s · SLO {w.slo_ms if w.slo_ms is not None else 'none'} ms ·
objective {html.escape(str(entry.options.get('objective', 'latency')))} · solver {html.escape(result.solver)}
({'exact' if result.exact else 'not proven optimal'}: {html.escape(result.exact_scope)})</p>
<p><b>{html.escape(shown.label)}</b>: {html.escape(shown.placement.summary())} — latency <b>{p.latency_ms:.2f} ms</b>,
throughput {p.throughput_rps:.0f} req/s, <b>${p.cost_usd_per_1k:.5f}</b> per 1k requests (${p.cost_usd_per_month:.2f}/month),
fidelity {p.fidelity:.4f}, {p.link_bytes_per_request / 1e3:.1f} KB on links per request; {verdict}.</p>
<h2>Topology</h2>{topo_html}
<h2>Plan</h2>{_rows(plan_rows, ['stage', 'device', 'units', 'level', 'compute ms', 'memory MB', 'provenance'])}
{_rows(transfers, ['transfer', 'route', 'KB', 'codec', 'ms']) if transfers else '<p><small>no transfers: one device runs every unit</small></p>'}
<h2>Charts</h2><div class="grid">{chart_html}</div>
<h2>Baselines</h2>{_rows(baselines, ['baseline', 'what', 'latency ms', '$ per 1k', 'feasible'])}
<h2>Pareto front</h2>{_rows(front, ['#', 'plan', 'latency ms', '$ per 1k', 'KB on links', 'fidelity']) if front else '<p><small>not computed</small></p>'}
<h2>Provenance</h2>{_rows(prov, ['figure', 'where it comes from'])}
<p><small>Notes: {html.escape(' · '.join(entry.session.notes))}</small></p>
</body></html>"""
    try:
        return atomic_write_text(path, doc)
    except OSError as exc:
        raise PlannerError(f"cannot write the report {str(path)!r}: {exc.strerror or exc}; choose a writable folder.") from None
