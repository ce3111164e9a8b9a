"""The Run panel: run the shown plan here with links emulated, and set measured beside predicted.

*Run locally* exports the plan the Optimizer panel shows (to a temporary folder)
and runs it the way ``edgeplan run --local`` does: one agent process per planned
device on 127.0.0.1 and a relay in front of each stage that imposes the route's
latency and bandwidth. Progress shows here and in the status bar; Cancel stops at
the next request and the runner ends the agent processes. The result is a table
(end to end median and p90, each stage's compute, each hop there and back:
predicted, measured, error %) and a chart of the same figures as bar pairs.
"""

from __future__ import annotations

__all__ = ["RunPanel"]

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from planner_app.ui.deferred import Deferred, wrapped_label
from planner_app.ui.dialogs import Dialogs
from planner_app.ui.jobs import Job
from planner_app.ui.panels.charts import RunChart
from planner_app.ui.panels.job_controls import JobControls
from planner_app.ui.planning_model import PlanningModel
from planner_app.ui.run_compare import RunComparison

_COLUMNS = ["figure", "predicted ms", "measured ms", "error %"]


def _ms(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


class RunPanel(QWidget):
    """Run the shown plan with local emulation; measured against predicted (see the module docstring)."""

    def __init__(self, model: PlanningModel, dialogs: Dialogs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model, self.dialogs = model, dialogs
        self.requests = QSpinBox()
        self.requests.setRange(1, 10_000)
        self.requests.setValue(20)
        self.requests.setToolTip("Measured requests, sent one after another (after the warm-up)")
        self.warmup = QSpinBox()
        self.warmup.setRange(0, 100)
        self.warmup.setValue(3)
        self.warmup.setToolTip("Unmeasured requests first (sessions and connections warm up)")
        self.run_button = QPushButton("Run locally")
        self.run_button.setToolTip("Export the shown plan to a temporary folder and run it here: one agent process "
                                   "per planned device, each route's latency and bandwidth emulated")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setToolTip("Stop after the request in flight; the agent processes are ended")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFormat("idle")
        self.status = wrapped_label("Optimize, then run the shown plan to see measured against predicted.", 12)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form = QFormLayout()
        form.addRow("Requests", self.requests)
        form.addRow("Warm-up", self.warmup)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        left = QVBoxLayout()
        left.addLayout(form)
        left.addLayout(buttons)
        left.addWidget(self.progress)
        left.addWidget(self.status)
        left.addStretch(1)
        left_inner = QWidget()
        left_inner.setLayout(left)
        left_w = QScrollArea()
        left_w.setWidgetResizable(True)
        left_w.setFrameShape(QScrollArea.Shape.NoFrame)
        left_w.setWidget(left_inner)
        left_w.setMinimumWidth(240)
        left_w.setMaximumWidth(340)

        self.table = QTableWidget(0, len(_COLUMNS))
        self.table.setHorizontalHeaderLabels(_COLUMNS)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setMinimumSize(160, 80)
        self.chart = RunChart()
        split = QSplitter(Qt.Orientation.Horizontal)
        for w in (left_w, self.table, self.chart):
            split.addWidget(w)
        split.setChildrenCollapsible(False)
        split.setSizes([260, 460, 520])
        layout = QVBoxLayout(self)
        layout.addWidget(split)

        self.controls = JobControls(self.run_button, self.cancel_button, self.progress, self.status)
        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.refresh_later = Deferred(self._refresh, self, self)
        for sig in (model.runDone, model.planChosen, model.workloadChanged, model.cleared):
            sig.connect(self.refresh_later)
        self._refresh()

    @property
    def job(self) -> Job | None:
        """The run in progress, if any."""
        return self.controls.job

    # -- running ----------------------------------------------------------------------------
    def start(self) -> Job | None:
        """Run the shown plan (a job); the table and chart follow when it ends."""
        try:
            job = self.model.run_local(self.requests.value(), self.warmup.value())
        except Exception as exc:  # noqa: BLE001 - a planner error, shown
            self.dialogs.error(self, "Cannot run the plan", str(exc))
            return None
        return self.controls.begin(job, self._on_ended, "Exporting the plan…")

    def cancel(self) -> None:
        self.controls.cancel("Cancelling after the request in flight; stopping the agents…")

    def _on_ended(self, job: Job) -> None:
        if job.state == "cancelled":
            self.status.setText("Run cancelled; the agent processes were stopped.")
        elif job.state == "failed":
            self.status.setText(f"Run failed: {job.error}")
        self._refresh()

    # -- showing ----------------------------------------------------------------------------
    def _refresh(self, *_args: object) -> None:
        cur = self.model.current
        self.run_button.setEnabled(cur is not None and cur.shown is not None and self.job is None)
        if cur is None or cur.run is None:
            self.table.setRowCount(0)
            self.chart.clear_chart("press Run locally" if cur is not None and cur.shown is not None
                                   else "optimize first, then run the plan")
            return
        run = cur.run
        self._show(run)
        same = cur.shown is not None and cur.run_placement == cur.shown.placement
        head = (f"Measured {run.requests} requests of {run.plan_label} (local emulation)."
                if same else f"These figures are for {run.plan_label}, not the plan shown now: run again.")
        if self.job is None:
            self.status.setText(head + (f"\n• {run.notes[0]}" if run.notes else "") + "\n(hover: every note)")
            self.status.setToolTip("\n".join(run.notes))

    def _show(self, run: RunComparison) -> None:
        self.table.setRowCount(len(run.rows))
        for r, row in enumerate(run.rows):
            err = row.error_pct
            cells = [row.name, _ms(row.predicted_ms), _ms(row.measured_ms), "—" if err is None else f"{err:+.1f}"]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(row.note)
                if c and c < 4:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if c == 3 and err is not None and abs(err) > 25:
                    item.setForeground(QColor("#C62828"))
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        self.chart.show_run([row.short or row.name for row in run.rows],
                            [row.predicted_ms for row in run.rows], [row.measured_ms for row in run.rows],
                            [row.error_pct for row in run.rows])
