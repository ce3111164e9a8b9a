"""Rename in place: double-click a device's name or a note on the canvas to edit it there.

:class:`LabelEditor` watches the view's viewport for double-clicks and
opens a small editor over the label: a line edit over a device's name, a
text box over a note. Enter commits through an undo command
(:class:`~planner_app.ui.commands.EditDevicesCommand` on the device's
``name``, :class:`~planner_app.ui.commands.EditNoteCommand` on the note's
text), Esc cancels, and leaving the editor (a click elsewhere, a zoom)
commits. A name the record refuses keeps the editor open with the reason
in its tooltip.
"""

from __future__ import annotations

__all__ = ["LabelEditor", "DeviceNameEdit", "NoteTextEdit"]

from pydantic import ValidationError
from PySide6.QtCore import QEvent, QObject, QRectF, Qt, Signal
from PySide6.QtGui import QFocusEvent, QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QGraphicsView, QLineEdit, QPlainTextEdit, QWidget

from planner_app.ui.canvas.items import TEXT_W, TILE, DeviceItem, NoteItem
from planner_app.ui.commands import EditDevicesCommand, EditNoteCommand
from planner_app.ui.document import TopologyDocument

_MIN_WIDTH_PX = 140


class DeviceNameEdit(QLineEdit):
    """The in-place editor of a device name: Enter commits, Esc cancels, focus loss commits."""

    committed = Signal()
    cancelled = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.cancelled.emit()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.committed.emit()
            return
        super().keyPressEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        if event.reason() != Qt.FocusReason.PopupFocusReason:  # the context menu keeps it open
            self.committed.emit()

    def commit(self) -> None:
        """Commit now (Ctrl+Z typed in the editor undoes the committed rename)."""
        self.committed.emit()

    def value(self) -> str:
        return self.text()


class NoteTextEdit(QPlainTextEdit):
    """The in-place editor of a note: Enter commits, Shift+Enter breaks the line, Esc cancels."""

    committed = Signal()
    cancelled = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.cancelled.emit()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
                event.modifiers() & Qt.KeyboardModifier.ShiftModifier):
            self.committed.emit()
            return
        super().keyPressEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        if event.reason() != Qt.FocusReason.PopupFocusReason:
            self.committed.emit()

    def commit(self) -> None:
        """Commit now."""
        self.committed.emit()

    def value(self) -> str:
        return self.toPlainText()


class LabelEditor(QObject):
    """Opens, commits and cancels the in-place editors of one view."""

    #: an editor opened (the window routes its undo keys)
    editorOpened = Signal(QWidget)

    def __init__(self, view: QGraphicsView, doc: TopologyDocument, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.view, self.doc = view, doc
        self.editor: DeviceNameEdit | NoteTextEdit | None = None
        self.target: tuple[str, str] | None = None  # ("device" | "note", id)
        view.viewport().installEventFilter(self)
        doc.topologyReset.connect(self.cancel)
        zoom = getattr(view, "zoomChanged", None)
        if zoom is not None:
            zoom.connect(lambda _z: self.commit())

    # -- opening ----------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.MouseButtonDblClick and isinstance(event, QMouseEvent) \
                and event.button() == Qt.MouseButton.LeftButton:
            scene_pos = self.view.mapToScene(event.position().toPoint())
            for it in self.view.scene().items(scene_pos):
                if isinstance(it, DeviceItem):
                    return self.edit_device(it.device_id)
                if isinstance(it, NoteItem):
                    return self.edit_note(it.note_id)
        return False

    def edit_device(self, device_id: str) -> bool:
        """Open the name editor over device ``device_id``'s label."""
        item = self.view.scene().devices.get(device_id)  # type: ignore[attr-defined]
        if item is None:
            return False
        editor = DeviceNameEdit(self.view.viewport())
        editor.setText(self.doc.topology.device(device_id).label)
        editor.selectAll()
        editor.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._open(editor, ("device", device_id), item.mapRectToScene(QRectF(-TEXT_W / 2, TILE / 2 + 1, TEXT_W, 18)))
        return True

    def edit_note(self, note_id: str) -> bool:
        """Open the text editor over note ``note_id``."""
        item = self.view.scene().notes.get(note_id)  # type: ignore[attr-defined]
        if item is None:
            return False
        editor = NoteTextEdit(self.view.viewport())
        editor.setPlainText(self.doc.note(note_id).text)
        editor.selectAll()
        self._open(editor, ("note", note_id), item.sceneBoundingRect())
        return True

    def _open(self, editor: DeviceNameEdit | NoteTextEdit, target: tuple[str, str], scene_rect: QRectF) -> None:
        self.commit()  # one editor at a time
        rect = self.view.mapFromScene(scene_rect).boundingRect()
        height = max(rect.height(), editor.fontMetrics().height() + 8)
        width = max(rect.width(), _MIN_WIDTH_PX)
        editor.setGeometry(rect.center().x() - width // 2, rect.top(), width, height)
        self.editor, self.target = editor, target
        editor.committed.connect(self.commit)
        editor.cancelled.connect(self.cancel)
        editor.show()
        editor.setFocus(Qt.FocusReason.OtherFocusReason)
        self.editorOpened.emit(editor)

    # -- closing ------------------------------------------------------------------------------
    def commit(self) -> bool:
        """Apply the editor's text as one undo command and close it; False if none or refused."""
        editor, target = self.editor, self.target
        if editor is None or target is None:
            return False
        kind, item_id = target
        text = editor.value()
        if kind == "device":
            if not self.doc.topology.has_device(item_id):
                self.cancel()
                return False
            dev = self.doc.topology.device(item_id)
            if text == dev.label:
                self.cancel()
                return False
            try:
                new = type(dev).model_validate({**dev.model_dump(), "name": text})
            except ValidationError as exc:
                editor.setToolTip(str(exc.errors()[0].get("msg", "invalid name")))
                editor.setStyleSheet("QLineEdit { border: 1px solid #C62828; }")
                return False
            self._close()
            self.doc.push(EditDevicesCommand(self.doc, [new], f"Rename {dev.label} to {text or item_id}"))
            return True
        try:
            note = self.doc.note(item_id)
        except KeyError:
            self.cancel()
            return False
        if text == note.text:
            self.cancel()
            return False
        self._close()
        self.doc.push(EditNoteCommand(self.doc, [note.model_copy(update={"text": text})], "Edit note"))
        return True

    def cancel(self) -> None:
        """Close the editor without changing anything."""
        self._close()

    def _close(self) -> None:
        editor, self.editor, self.target = self.editor, None, None
        if editor is None:
            return
        editor.committed.disconnect(self.commit)
        editor.cancelled.disconnect(self.cancel)
        editor.hide()  # may move the focus: nothing is connected any more
        editor.deleteLater()
        self.view.setFocus()
