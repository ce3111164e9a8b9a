"""The Profiling panel: measure the current model on this host at chosen levels, live.

Levels come from the compression registry (their descriptions are the
tooltips); fp32 is always measured (the reference every other level is
compared with). Each level arrives as it finishes: the chart grows and the
table gains a row (latency, size, fidelity). Cancel keeps the finished levels
and the time table is built from them. Results are saved with the project.
Live profiles on edge agents come with the agent (that section is not shown
until then).
"""

from __future__ import annotations

__all__ = ["ProfilingPanel"]

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
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

from planner_app.core.compression.registry import get_level, level_names
from planner_app.core.profiling import ModelProfile
from planner_app.ui.deferred import Deferred, wrapped_label
from planner_app.ui.dialogs import Dialogs
from planner_app.ui.jobs import Job
from planner_app.ui.panels.charts import LevelChart
from planner_app.ui.panels.job_controls import JobControls
from planner_app.ui.planning_model import PlanningModel

DEFAULT_CHECKED = ("fp32", "fp16", "int8-dynamic")


class ProfilingPanel(QWidget):
    """Local profiling with live results (see the module docstring)."""

    def __init__(self, model: PlanningModel, dialogs: Dialogs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model, self.dialogs = model, dialogs
        box = QGroupBox("This host")
        grid = QGridLayout(box)
        self.level_boxes: dict[str, QCheckBox] = {}
        for i, name in enumerate(level_names()):
            cb = QCheckBox(name)
            cb.setChecked(name in DEFAULT_CHECKED)
            cb.setToolTip(get_level(name).description)
            if name == "fp32":
                cb.setEnabled(False)  # the reference: always measured
                cb.setToolTip("fp32 is always measured: every other level is compared with it")
            grid.addWidget(cb, i // 3, i % 3)
            self.level_boxes[name] = cb
        row = len(self.level_boxes) // 3 + 1
        self.runs = QSpinBox()
        self.runs.setRange(1, 1000)
        self.runs.setValue(8)
        self.runs.setToolTip("Timed runs per level (after one warm-up)")
        self.threads = QSpinBox()
        self.threads.setRange(1, 64)
        self.threads.setValue(1)
        self.threads.setToolTip("onnxruntime threads (1: reproducible, like a single-core edge device)")
        grid.addWidget(QLabel("Runs"), row, 0)
        grid.addWidget(self.runs, row, 1)
        grid.addWidget(QLabel("Threads"), row + 1, 0)
        grid.addWidget(self.threads, row + 1, 1)
        self.profile_button = QPushButton("Profile")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setFormat("idle")
        self.status = wrapped_label("", 2)
        buttons = QHBoxLayout()
        buttons.addWidget(self.profile_button)
        buttons.addWidget(self.cancel_button)
        left = QVBoxLayout()
        left.addWidget(box)
        left.addLayout(buttons)
        left.addWidget(self.progress)
        left.addWidget(self.status)
        left.addStretch(1)
        left_inner = QWidget()
        left_inner.setLayout(left)
        left_w = QScrollArea()  # a short dock scrolls the settings, the chart keeps its room
        left_w.setWidgetResizable(True)
        left_w.setFrameShape(QScrollArea.Shape.NoFrame)
        left_w.setWidget(left_inner)
        left_w.setMinimumWidth(240)

        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["level", "latency ms (median)", "size", "fidelity (cosine)", "note"])
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.chart = LevelChart()
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left_w)
        split.addWidget(self.table)
        split.addWidget(self.chart)
        split.setSizes([260, 380, 380])
        layout = QVBoxLayout(self)
        layout.addWidget(split)
        # agents: live profiles on edge devices arrive with the agent; no dead button until then

        self.profile_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.controls = JobControls(self.profile_button, self.cancel_button, self.progress, self.status)
        self.refresh_later = Deferred(self._refresh, self, self)
        for sig in (model.profileUpdated, model.modelLoaded, model.workloadChanged, model.cleared):
            sig.connect(self.refresh_later)
        self._refresh()

    def chosen_levels(self) -> list[str]:
        return [n for n, cb in self.level_boxes.items() if cb.isChecked()]

    def set_levels(self, levels: list[str]) -> None:
        for n, cb in self.level_boxes.items():
            cb.setChecked(n == "fp32" or n in levels)

    @property
    def job(self) -> Job | None:
        """The profiling in progress, if any."""
        return self.controls.job

    def start(self) -> Job | None:
        """Profile the current model at the chosen levels (a job)."""
        try:
            job = self.model.profile_levels(self.chosen_levels(), runs=self.runs.value(), threads=self.threads.value())
        except Exception as exc:  # noqa: BLE001 - a planner error, shown
            self.dialogs.error(self, "Cannot profile", str(exc))
            return None
        return self.controls.begin(job, self._on_ended)

    def cancel(self) -> None:
        self.controls.cancel("Cancelling after the level being measured…")

    def _on_ended(self, job: Job) -> None:
        self.profile_button.setEnabled(True)
        if job.state == "finished":
            self.status.setText(f"Profiled in {job.elapsed_s:.1f} s; the optimizer uses these times.")
        elif job.state == "cancelled":
            kept = ", ".join(self.model.profile.levels) if self.model.profile else "none"
            self.status.setText(f"Cancelled: finished levels kept ({kept}).")

    def _refresh(self, *_args: object) -> None:
        cur = self.model.current
        self.profile_button.setEnabled(cur is not None and self.job is None)
        profile = self.model.profile
        if cur is None or profile is None or not profile.levels:
            self.table.setRowCount(0)
            self.chart.clear_chart("load a model, then Profile" if cur is None else "press Profile to measure")
            return
        self._show(profile)

    def _show(self, profile: ModelProfile) -> None:
        rows = list(profile.levels.values())
        self.table.setRowCount(len(rows))
        for r, lp in enumerate(rows):
            fid = lp.fidelity.cosine if lp.fidelity is not None else None
            cells = [lp.level, f"{lp.latency_ms_median:.3f}" if lp.applicable else "—",
                     (f"{lp.size_bytes / 1e6:.2f} MB" if lp.size_bytes >= 1e6 else f"{lp.size_bytes / 1e3:.1f} KB")
                     if lp.applicable else "—",
                     f"{fid:.5f}" if fid is not None else "—", "" if lp.applicable else lp.reason]
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        shown = [lp for lp in rows if lp.applicable]
        self.chart.show_levels([lp.level for lp in shown],
                               [lp.latency_ms_median if math.isfinite(lp.latency_ms_median) else 0.0 for lp in shown],
                               [lp.fidelity.cosine if lp.fidelity else None for lp in shown])
