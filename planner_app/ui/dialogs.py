"""Every modal question the window asks, behind one replaceable object.

The main window never calls ``QMessageBox``/``QFileDialog`` directly: it asks
its :class:`Dialogs`. Tests give the window a subclass with scripted answers,
so no modal dialog ever blocks a test run.
"""

from __future__ import annotations

__all__ = ["Dialogs", "SaveAnswer", "RecoverAnswer"]

from typing import Literal

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QMessageBox, QWidget

from planner_app.core.topology.catalog import LinkPreset
from planner_app.ui.style import format_mbps

SaveAnswer = Literal["save", "discard", "cancel"]
RecoverAnswer = Literal["recover", "later", "discard"]

_TOPOLOGY_FILTER = "Topology files (*.json);;All files (*)"


class Dialogs:
    """Real Qt dialogs. Subclass and override to script answers in tests."""

    def error(self, parent: QWidget | None, title: str, text: str) -> None:
        """Show an error (the message names the problem; no traceback)."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text.splitlines()[0] if text else title,
                          QMessageBox.StandardButton.Ok, parent)
        if "\n" in text:
            box.setInformativeText("\n".join(text.splitlines()[1:]))
        box.exec()

    def info(self, parent: QWidget | None, title: str, text: str) -> None:
        """Show an informative message."""
        QMessageBox.information(parent, title, text)

    def ask_save_changes(self, parent: QWidget | None, name: str) -> SaveAnswer:
        """Ask whether to save unsaved changes to ``name``."""
        answer = QMessageBox.question(
            parent, "Unsaved changes", f"Save the changes to {name} before closing it?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            return "save"
        if answer == QMessageBox.StandardButton.Discard:
            return "discard"
        return "cancel"

    def ask_recover(self, parent: QWidget | None, description: str) -> RecoverAnswer:
        """Offer to recover unsaved work found after a crash.

        ``"later"`` keeps the recovery file for the next start; only
        ``"discard"`` deletes it.
        """
        box = QMessageBox(QMessageBox.Icon.Question, "Recover unsaved work",
                          "The planner did not close cleanly last time. Recover the unsaved work?",
                          QMessageBox.StandardButton.NoButton, parent)
        box.setInformativeText(description)
        recover = box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Not Now", QMessageBox.ButtonRole.RejectRole)
        discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(recover)
        box.exec()
        clicked = box.clickedButton()
        if clicked is recover:
            return "recover"
        return "discard" if clicked is discard else "later"

    def confirm_delete(self, parent: QWidget | None, what: str, consequences: list[str]) -> bool:
        """Ask before a delete that breaks workloads; ``consequences`` lists what breaks."""
        box = QMessageBox(QMessageBox.Icon.Warning, "Delete breaks workloads",
                          f"Deleting {what} breaks {len(consequences)} workload"
                          f"{'s' if len(consequences) != 1 else ''}:", QMessageBox.StandardButton.Cancel, parent)
        box.setInformativeText("\n".join(f"• {c}" for c in consequences) + "\n\nUndo (Ctrl+Z) brings everything back.")
        delete = box.addButton("Delete Anyway", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is delete

    def open_path(self, parent: QWidget | None, directory: str) -> str | None:
        """Ask for a topology file to open."""
        path, _ = QFileDialog.getOpenFileName(parent, "Open topology", directory, _TOPOLOGY_FILTER)
        return path or None

    def save_path(self, parent: QWidget | None, directory: str, title: str = "Save topology",
                  filters: str = _TOPOLOGY_FILTER) -> str | None:
        """Ask where to save."""
        path, _ = QFileDialog.getSaveFileName(parent, title, directory, filters)
        return path or None

    def ask_text(self, parent: QWidget | None, title: str, label: str, text: str = "") -> str | None:
        """Ask for one line of text (None when cancelled)."""
        value, ok = QInputDialog.getText(parent, title, label, text=text)
        return value if ok else None

    def choose_link_preset(
        self, parent: QWidget | None, presets: list[LinkPreset], default: LinkPreset, at: QPoint
    ) -> LinkPreset | None:
        """Pick a link preset from a menu at screen point ``at``; the default is first and bold."""
        menu = QMenu(parent)
        menu.setToolTipsVisible(True)
        ordered = [default] + [p for p in presets if p.id != default.id]
        chosen: dict[object, LinkPreset] = {}
        for p in ordered:
            act = menu.addAction(f"{p.name} — {format_mbps(p.bandwidth_ab_mbps)}, {p.latency_ms:g} ms")
            act.setToolTip(p.description or p.source)
            chosen[act] = p
            if p is default:
                f = act.font()
                f.setBold(True)
                act.setFont(f)
                menu.setActiveAction(act)
                menu.addSeparator()
        picked = menu.exec(at)
        return chosen.get(picked)

    def ask_input_shapes(self, parent: QWidget | None, model: str, inputs: dict[str, str],
                         prefill: dict[str, list[int]]) -> dict[str, list[int]] | None:
        """Ask a value for each dynamic dimension of ``model``'s ``inputs`` (name -> dims like
        ``batchx3x224x224``), prefilled from the workload; None when cancelled."""
        from planner_app.ui.panels.shapes_dialog import ShapesDialog

        dialog = ShapesDialog(model, inputs, prefill, parent)
        return dialog.shapes() if dialog.exec() else None

    def choose_model(self, parent: QWidget | None, directory: str) -> str | None:
        """Ask for an ONNX model file to load."""
        path, _ = QFileDialog.getOpenFileName(parent, "Load model", directory, "ONNX models (*.onnx);;All files (*)")
        return path or None
