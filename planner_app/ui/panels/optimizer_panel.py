"""The Optimizer panel: pose the problem, solve it, and look at the plan from every side.

Inputs, with defaults from the workload: objective, latency SLO, max cost,
min fidelity, allowed levels (those profiled), pinned units, solver (from the
solver registry), Pareto front on or off. Results: the verdict in words (for an
infeasible problem: the failing constraint and the closest plan), the plan
table, a stacked latency breakdown beside each baseline, bandwidth per link
against capacity, cost and fidelity, and the Pareto front where a click shows
that plan everywhere (this panel, the canvas overlay, the export).
"""

from __future__ import annotations

__all__ = ["OptimizerPanel"]

import math
import time
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from planner_app.core.optimizer import AUTO_MILP_TIME_LIMIT_S
from planner_app.core.optimizer.problem import OBJECTIVE_METRICS
from planner_app.core.optimizer.registry import solver_choices, solvers_help
from planner_app.core.planning import PoseOptions, SolveOptions
from planner_app.core.planning.options import OptionsError
from planner_app.core.planning.sweep import split_changes
from planner_app.ui.deferred import Deferred, wrapped_label
from planner_app.ui.dialogs import Dialogs
from planner_app.ui.jobs import Job
from planner_app.ui.panels.charts import BandwidthChart, BreakdownChart, ParetoChart, SweepChart
from planner_app.ui.planning_model import PlanningModel


def _none_spin(maximum: float, decimals: int, step: float, suffix: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(0.0, maximum)
    spin.setDecimals(decimals)
    spin.setSingleStep(step)
    spin.setSuffix(suffix)
    spin.setSpecialValueText("none")  # 0 means no limit
    return spin


def parse_pins(text: str) -> dict[int, str]:
    """``'0=hub, 12=cloud'`` -> ``{0: 'hub', 12: 'cloud'}``; a bad entry raises OptionsError naming it."""
    out: dict[int, str] = {}
    for entry in filter(None, (e.strip() for e in text.split(","))):
        unit, _, device = entry.partition("=")
        if not unit.strip().isdigit() or not device.strip():
            raise OptionsError(f"pinned unit {entry!r}: write UNIT=DEVICE, e.g. 0=hub (units are numbered "
                               "as in the Model panel's table).")
        out[int(unit)] = device.strip()
    return out


#: shorter tick labels for the baselines' names (the chart's tooltip-free axis has little room)
_SHORT = {"all-on-source": "source", "all-in-cloud": "cloud", "best-single-split": "1 split",
          "dads-min-cut": "DADS"}


def _short(name: str) -> str:
    return _SHORT.get(name, name)


class OptimizerPanel(QWidget):
    """Objective, constraints, solve, and the plan's charts (see the module docstring)."""

    #: the last chart of a result is drawn (after the steps of :attr:`refresh_later`)
    resultDrawn = Signal()

    def __init__(self, model: PlanningModel, dialogs: Dialogs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model, self.dialogs = model, dialogs
        self.job: Job | None = None
        self.clicked_at: float | None = None
        #: seconds from the Optimize click to the charts drawn, and from the solve's end to drawn
        self.click_to_drawn_s: float | None = None
        self.solved_to_drawn_s: float | None = None
        self._drawing_since: float | None = None

        self.workload_combo = QComboBox()
        self.objective = QComboBox()
        self.objective.addItems(list(OBJECTIVE_METRICS))
        self.slo = _none_spin(1e6, 1, 10.0, " ms")
        self.max_cost = _none_spin(1e6, 4, 0.01, " $/1k")
        self.min_fidelity = _none_spin(1.0, 4, 0.001, "")
        self.levels = QListWidget()
        self.levels.setMaximumHeight(90)
        self.levels.setToolTip("Compression levels the plan may use (those profiled)")
        self.pins = QLineEdit()
        self.pins.setPlaceholderText("e.g. 0=hub, 12=cloud")
        self.pins.setToolTip("Pin units to devices: UNIT=DEVICE, comma separated")
        self.solver = QComboBox()
        self.solver.addItems(list(solver_choices()))
        self.solver.setToolTip(solvers_help().replace("; ", "\n"))
        self.time_limit = QDoubleSpinBox()
        self.time_limit.setRange(0.1, 86_400.0)
        self.time_limit.setDecimals(1)
        self.time_limit.setSingleStep(1.0)
        self.time_limit.setSuffix(" s")
        self.time_limit.setValue(AUTO_MILP_TIME_LIMIT_S)
        self.time_limit.setToolTip(
            "Seconds the solver may take for one solve. The MILP (HiGHS) stops there with the best plan found "
            "so far and states its proven gap to the optimum; the DP solvers are exact and fast and do not need "
            f"it. Default {AUTO_MILP_TIME_LIMIT_S:g} s, as the command line's --time-limit.")
        self.pareto = QCheckBox("Pareto front")
        self.pareto.setChecked(True)
        self.run_button = QPushButton("Optimize")
        self.best_button = QPushButton("Show best plan")
        form = QFormLayout()
        form.addRow("Workload", self.workload_combo)
        form.addRow("Objective", self.objective)
        form.addRow("Latency SLO", self.slo)
        form.addRow("Max cost", self.max_cost)
        form.addRow("Min fidelity", self.min_fidelity)
        form.addRow("Levels", self.levels)
        form.addRow("Pinned units", self.pins)
        form.addRow("Solver", self.solver)
        form.addRow("Time limit", self.time_limit)
        form.addRow("", self.pareto)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.best_button)
        form.addRow(buttons)
        self.sweep_link = QComboBox()
        self.sweep_link.setToolTip("The link whose bandwidth the sweep varies (1/32x to 32x)")
        self.sweep_button = QPushButton("Sweep")
        self.sweep_button.setToolTip("Best plan's latency against this link's bandwidth, and where the split moves "
                                     "(chain DP per point)")
        sweep_row = QHBoxLayout()
        sweep_row.addWidget(self.sweep_link, 1)
        sweep_row.addWidget(self.sweep_button)
        form.addRow("Bandwidth", sweep_row)
        form_inner = QWidget()
        form_inner.setLayout(form)
        # scrolled: a short dock still shows the charts, the form scrolls
        form_w = QScrollArea()
        form_w.setWidgetResizable(True)
        form_w.setFrameShape(QScrollArea.Shape.NoFrame)
        form_w.setWidget(form_inner)
        form_w.setMaximumWidth(350)
        form_w.setMinimumWidth(260)

        self.verdict = wrapped_label("Load a model and profile it, then press Optimize.", 4)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, 7)
        self.table.setHorizontalHeaderLabels(["stage", "device", "units", "level", "compute ms", "memory MB",
                                              "provenance"])
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setMinimumSize(160, 80)
        self.breakdown = BreakdownChart()
        self.bandwidth = BandwidthChart()
        self.front = ParetoChart()
        self.sweep_chart = SweepChart()
        # one row: a bottom dock is wide and short
        charts = QSplitter(Qt.Orientation.Horizontal)
        # link load and the bandwidth sweep share a slot: both are about the links
        self.link_tabs = QTabWidget()
        self.link_tabs.setDocumentMode(True)
        self.link_tabs.addTab(self.bandwidth, "Load")
        self.link_tabs.addTab(self.sweep_chart, "Sweep")
        self.link_tabs.setTabToolTip(1, "Run a sweep (Bandwidth ▸ Sweep) to fill this chart")
        for w, stretch in ((self.table, 3), (self.breakdown, 4), (self.link_tabs, 3), (self.front, 3)):
            charts.addWidget(w)
            charts.setStretchFactor(charts.count() - 1, stretch)
        charts.setChildrenCollapsible(False)
        charts.setSizes([280, 420, 260, 260])
        self.verdict.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        results = QVBoxLayout()
        results.addWidget(self.verdict)
        results.addWidget(charts, 1)
        results_inner = QWidget()
        results_inner.setLayout(results)
        results_inner.setMinimumHeight(260)  # below this the charts scroll rather than squash
        results_w = QScrollArea()
        results_w.setWidgetResizable(True)
        results_w.setFrameShape(QScrollArea.Shape.NoFrame)
        results_w.setWidget(results_inner)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(form_w)
        split.addWidget(results_w)
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(split)

        self.run_button.clicked.connect(self.optimize)
        self.best_button.clicked.connect(lambda: self.model.choose_pareto(-1))
        self.front.pointClicked.connect(self.model.choose_pareto)
        self.sweep_button.clicked.connect(self.sweep)
        model.sweepDone.connect(self._show_sweep)
        self.workload_combo.activated.connect(lambda _i: self.model.set_workload(self.workload_combo.currentText()))
        self.inputs_later = Deferred(self._on_workload_changed, self, self)
        self.refresh_later = Deferred(self._result_steps(), self, self)
        for sig in (model.workloadChanged, model.cleared, model.modelLoaded, model.doc.workloadsChanged):
            sig.connect(self.inputs_later)
        model.profileUpdated.connect(self._fill_levels)
        # a new result is always followed by planChosen: one redraw
        model.planChosen.connect(self.refresh_later)
        self._on_workload_changed()

    # -- inputs -----------------------------------------------------------------------------
    def _on_workload_changed(self, *_args: object) -> None:
        self.workload_combo.blockSignals(True)
        self.workload_combo.clear()
        self.workload_combo.addItems(self.model.workload_names())
        if self.model.workload:
            self.workload_combo.setCurrentText(self.model.workload)
        self.workload_combo.blockSignals(False)
        name = self.model.workload
        if name and name in self.model.workload_names():
            w = self.model.doc.topology.workload(name)
            self.slo.setValue(w.slo_ms or 0.0)
            self.min_fidelity.setValue(1.0 - w.accuracy_budget_pct / 100.0 if w.accuracy_budget_pct is not None else 0.0)
        self._fill_levels()
        self._fill_sweep_links()
        self._show_sweep()
        self.refresh_later()

    def _fill_levels(self, *_args: object) -> None:
        profile = self.model.profile
        before = {self.levels.item(i).text(): self.levels.item(i).checkState() for i in range(self.levels.count())}
        self.levels.clear()
        for lv, lp in (profile.levels.items() if profile else []):
            if not lp.applicable:
                continue
            item = QListWidgetItem(lv)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(before.get(lv, Qt.CheckState.Checked))
            self.levels.addItem(item)
        self.run_button.setEnabled(self.model.current is not None and profile is not None and self.job is None)
        self.sweep_button.setEnabled(self.model.current is not None and self.model.current.result is not None)

    def options(self) -> tuple[PoseOptions, SolveOptions]:
        """The form as step options (a bad value raises OptionsError naming the field)."""
        levels = tuple(self.levels.item(i).text() for i in range(self.levels.count())
                       if self.levels.item(i).checkState() == Qt.CheckState.Checked)
        pose = PoseOptions(objective=self.objective.currentText(), slo_ms=self.slo.value() or None,
                           min_fidelity=self.min_fidelity.value() or None,
                           max_cost_usd_per_1k=self.max_cost.value() or None,
                           levels=levels or None, pinned_units=parse_pins(self.pins.text()))
        return pose, SolveOptions(solver=self.solver.currentText(), pareto=self.pareto.isChecked(),
                                  time_limit_s=self.time_limit.value())

    def optimize(self) -> Job | None:
        """Solve with the form's options (a job); charts follow when it ends."""
        self.clicked_at = time.perf_counter()
        try:
            job = self.model.optimize(*self.options())
        except Exception as exc:  # noqa: BLE001 - a planner error, shown
            self.dialogs.error(self, "Cannot optimize", str(exc))
            return None
        self.job = job
        self.run_button.setEnabled(False)
        self.verdict.setText("Optimizing…")
        job.progressed.connect(lambda f, m: self.verdict.setText(f"Optimizing… {m}"))
        job.ended.connect(lambda: self._on_ended(job))
        return job

    def sweep(self) -> Job | None:
        """Run a bandwidth sweep of the chosen link (a job); its chart appears when it ends."""
        link = self.sweep_link.currentText()
        try:
            job = self.model.sweep(link)
        except Exception as exc:  # noqa: BLE001 - a planner error, shown
            self.dialogs.error(self, "Cannot sweep", str(exc))
            return None
        self.sweep_button.setEnabled(False)
        job.ended.connect(lambda: self.sweep_button.setEnabled(True))
        return job

    def _show_sweep(self, *_args: object) -> None:
        cur = self.model.current
        if cur is None or cur.sweep is None:
            self.sweep_chart.clear_chart("press Sweep")
            self.link_tabs.setCurrentIndex(0)
            return
        link, points = cur.sweep
        topo = self.model.doc.topology
        now = None
        if link in {lk.id for lk in topo.links}:
            lk = topo.link(link)
            now = min(lk.bandwidth_ab_mbps, lk.bandwidth_ba_mbps)
        self.sweep_chart.show_sweep(link, [p.bandwidth_mbps for p in points], [p.latency_ms for p in points],
                                    [p.feasible for p in points],
                                    [(p.bandwidth_mbps, p.summary) for p in split_changes(points)], now)
        self.link_tabs.setCurrentWidget(self.sweep_chart)

    def _fill_sweep_links(self) -> None:
        links = [lk.id for lk in self.model.doc.topology.links]
        if links == [self.sweep_link.itemText(i) for i in range(self.sweep_link.count())]:
            return
        self.sweep_link.clear()
        self.sweep_link.addItems(links)

    def _on_ended(self, job: Job) -> None:
        if self.job is job:
            self.job = None
        self._fill_levels()
        if job.state != "finished":
            self.verdict.setText(f"Optimize {job.state}: {job.error}" if job.error else f"Optimize {job.state}.")

    # -- results ----------------------------------------------------------------------------
    def _show_result(self, *_args: object) -> None:
        """Draw the result at once (the steps :attr:`refresh_later` runs one event-loop turn each)."""
        for step in self._result_steps():
            step()

    def _result_steps(self) -> list[Callable[[], None]]:
        # three turns: the words and table, the breakdown (its legend is the slowest item), then the
        # link load and the front; the GUI gets input and paints in between (no stall over 100 ms)
        return [self._show_verdict_and_table, self._show_breakdown, self._show_links_and_front]

    def _has_result(self) -> bool:
        cur = self.model.current
        return cur is not None and cur.result is not None and cur.shown is not None

    def _show_verdict_and_table(self) -> None:
        self._drawing_since = time.perf_counter()
        cur = self.model.current
        if cur is None or cur.result is None or cur.shown is None:
            self.table.setRowCount(0)
            for chart in (self.breakdown, self.bandwidth, self.front):
                chart.clear_chart("no plan yet")
            if cur is not None and self.job is None:
                self.verdict.setText("Press Optimize to find a plan." if self.model.profile else
                                     "Profile the model first (Profiling panel).")
            return
        result, shown = cur.result, cur.shown
        p = shown.prediction
        self.verdict.setText(self._words(cur.workload, result, shown))
        self.table.setRowCount(len(p.parts))
        for r, part in enumerate(p.parts):
            units = f"{part.unit_ids[0]}–{part.unit_ids[-1]}" if len(part.unit_ids) > 1 else str(part.unit_ids[0])
            cells = [str(part.index), part.device, units, part.level, f"{part.compute_ms:.3f}",
                     f"{(part.weights_bytes + part.peak_activation_bytes) / 1e6:.2f}", part.provenance]
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()

    def _show_breakdown(self) -> None:
        if not self._has_result():
            return
        cur = self.model.current
        assert cur is not None and cur.result is not None and cur.shown is not None
        shown = cur.shown
        rows = [("plan" if shown.pareto_index < 0 else f"point {shown.pareto_index + 1}", shown.prediction)]
        rows += [(_short(b.name), b.prediction) for b in cur.result.baselines]
        self.breakdown.show_plans(rows)

    def _show_links_and_front(self) -> None:
        if not self._has_result():
            return
        cur = self.model.current
        assert cur is not None and cur.result is not None and cur.shown is not None
        result, shown = cur.result, cur.shown
        p = shown.prediction
        topo = self.model.doc.topology
        known = {lk.id for lk in topo.links}
        links = [lid for lid in p.link_mbps if lid in known]
        caps = [max(topo.link(lid).bandwidth_ab_mbps, topo.link(lid).bandwidth_ba_mbps) for lid in links]
        self.bandwidth.show_links(links, [p.link_mbps[lid] for lid in links], caps)
        self.front.show_front([e.prediction for e in result.pareto_front], shown.pareto_index, result.prediction,
                              [e.placement.summary() for e in result.pareto_front])
        self._fill_sweep_links()
        default = self.model.default_sweep_link()
        if default and cur.sweep is None:
            self.sweep_link.setCurrentText(default)
        done = time.perf_counter()
        # from the first step: the turns between (input, painting) count too
        self.solved_to_drawn_s = done - (self._drawing_since or done)
        if self.clicked_at is not None:
            self.click_to_drawn_s = done - self.clicked_at
            self.clicked_at = None
        self.resultDrawn.emit()

    def _words(self, workload: str, result: object, shown: object) -> str:
        from planner_app.core.optimizer import OptimizationResult
        from planner_app.ui.planning_model import ShownPlan

        assert isinstance(result, OptimizationResult) and isinstance(shown, ShownPlan)
        p = shown.prediction
        figures = (f"latency <b>{p.latency_ms:.2f} ms</b> ({p.compute_ms:.2f} compute + {p.transfer_ms:.2f} "
                   f"transfer) · throughput {p.throughput_rps:.0f} req/s · <b>${p.cost_usd_per_1k:.4f}</b> per 1k "
                   f"requests, ${p.cost_usd_per_month:.2f} per month · fidelity {p.fidelity:.4f} · "
                   f"{p.link_bytes_per_request / 1e3:.1f} KB on links per request")
        head = f"<b>{workload}</b>: {shown.label} — {shown.placement.summary()}"
        if not result.feasible:
            why = result.failing_constraint or "a constraint"
            return (f"<span style='color:#C62828'><b>No plan meets every constraint</b>: {why} fails. "
                    f"{result.message}</span><br>Closest plan: {shown.placement.summary()} — {figures}<br>"
                    f"violations: {'; '.join(p.violations[:3])}")
        if result.exact:
            exact = "exact"
        elif result.gap is not None and math.isfinite(result.gap):
            exact = f"<b>not proven optimal: proven gap {result.gap:.2%}</b> (raise the time limit to close it)"
        elif result.gap is not None:
            exact = "<b>not proven optimal: no bound on the gap yet</b> (raise the time limit)"
        else:
            exact = "not proven optimal"
        solver = f"<br><small>solver {result.solver} ({exact}; {result.exact_scope}), {result.solve_ms:.0f} ms"
        if p.violations:
            solver += f" · <span style='color:#C62828'>this point breaks: {'; '.join(p.violations[:2])}</span>"
        return f"{head}<br>{figures}{solver}</small>"
