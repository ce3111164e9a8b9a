"""Undo and redo from anywhere in the window, text fields included.

A focused ``QLineEdit``, spin box or text edit claims Ctrl+Z for its own
little text undo (through ``ShortcutOverride``), so the window's Undo action
never fires while the inspector or the workloads form has focus. That undo
is useless here: every keystroke is already an edit command on the
document's stack. :class:`UndoKeyRouter` watches the text inputs of a
window, commits what the field holds (a spin box's typed text), and sends
the key to the window's Undo or Redo action instead.

Example
-------
>>> router = UndoKeyRouter(undo_action, redo_action, window)   # doctest: +SKIP
>>> router.watch(window)                                       # doctest: +SKIP
"""

from __future__ import annotations

__all__ = ["UndoKeyRouter", "commit_field"]

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

# an editable combo (the workload's model) takes keys for its line edit: watched too
_TEXT_INPUTS = (QLineEdit, QAbstractSpinBox, QPlainTextEdit, QTextEdit, QComboBox)
_UNDO = (QKeySequence.StandardKey.Undo,)
_REDO = (QKeySequence.StandardKey.Redo,)
_REDO_EXTRA = QKeySequence("Ctrl+Y")


def commit_field(widget: QObject) -> None:
    """Make ``widget`` report what the user typed but has not confirmed yet.

    A spin box reports its value only once its text parses; ``interpretText``
    turns the text typed so far into a value (and so into an edit command).
    """
    spin = widget if isinstance(widget, QAbstractSpinBox) else widget.parent()
    if isinstance(spin, QAbstractSpinBox):
        spin.interpretText()
    commit = getattr(widget, "commit", None)  # in-place editors of the canvas
    if callable(commit):
        commit()


class UndoKeyRouter(QObject):
    """Routes undo/redo keys typed in text inputs to the window's actions."""

    def __init__(self, undo: QAction, redo: QAction, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo, self.redo = undo, redo

    def watch(self, root: QWidget) -> None:
        """Watch ``root`` (if it is a text input) and every text input under it."""
        widgets = [root, *root.findChildren(QWidget)]
        for w in widgets:
            if isinstance(w, _TEXT_INPUTS):
                w.installEventFilter(self)

    def _action_for(self, event: QKeyEvent) -> QAction | None:
        if any(event.matches(k) for k in _UNDO):
            return self.undo
        combo = event.keyCombination().toCombined()
        if any(event.matches(k) for k in _REDO) or QKeySequence(combo) == _REDO_EXTRA:
            return self.redo
        return None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            return False
        assert isinstance(event, QKeyEvent)
        action = self._action_for(event)
        if action is None:
            return False
        if kind == QEvent.Type.ShortcutOverride:
            # claim the key so it reaches us as a KeyPress: the field's own undo never runs
            event.accept()
            return True
        commit_field(watched)
        if action.isEnabled():
            action.trigger()
        return True
