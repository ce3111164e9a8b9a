"""One job at a time behind a panel's start button, Cancel, progress bar and status line.

The Profiling and Run panels start long work the same way: the start button is
disabled and Cancel enabled while the job runs, its progress fills the bar and its
messages the status line, and when it ends the bar shows its state. What each panel
says when the job ends is its own (``on_ended``).
"""

from __future__ import annotations

__all__ = ["JobControls"]

from collections.abc import Callable

from PySide6.QtWidgets import QAbstractButton, QLabel, QProgressBar

from planner_app.ui.jobs import Job


class JobControls:
    """Tracks the panel's job (``job``: None when none runs) and keeps its controls in step."""

    def __init__(self, start: QAbstractButton, cancel: QAbstractButton, progress: QProgressBar, status: QLabel) -> None:
        self.start_button, self.cancel_button, self.progress, self.status = start, cancel, progress, status
        self.job: Job | None = None

    def begin(self, job: Job, on_ended: Callable[[Job], None], message: str | None = None) -> Job:
        """Follow ``job`` until it ends; then ``on_ended(job)`` (``job`` is None again by then)."""
        self.job = job
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.progress.setFormat("%p %")
        if message is not None:
            self.status.setText(message)
        job.progressed.connect(self._on_progress)
        job.ended.connect(lambda: self._on_ended(job, on_ended))
        return job

    def cancel(self, message: str) -> None:
        """Ask the running job to stop, saying what that means."""
        if self.job is not None:
            self.job.cancel()
            self.status.setText(message)

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.status.setText(message)

    def _on_ended(self, job: Job, on_ended: Callable[[Job], None]) -> None:
        if self.job is job:
            self.job = None
        self.cancel_button.setEnabled(False)
        self.progress.setFormat(job.state)
        if job.state == "finished":
            self.progress.setValue(1000)
        on_ended(job)
