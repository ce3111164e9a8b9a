"""A small form builder: one widget per record field, with units, ranges and inline errors.

:class:`RecordForm` shows values and reports edits as ``edited(field, value)``
while the user types; the owner validates against the core record and calls
:meth:`RecordForm.set_error` to show the message under the field. It knows
nothing about devices or links: the field list says what to build.
"""

from __future__ import annotations

__all__ = ["FieldSpec", "RecordForm"]

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)


@dataclass
class FieldSpec:
    """What to build for one field.

    ``kind`` is one of ``text``, ``multiline``, ``readonly``, ``int``, ``float``,
    ``optional_float`` (the minimum shows ``none`` and means None), ``bool``,
    ``choice`` (fixed ``choices``), ``edit_choice`` (choices plus free text),
    ``flags`` (a set of ``choices`` as check boxes, value is a list).
    """

    name: str
    label: str
    kind: str = "text"
    minimum: float = 0.0
    maximum: float = 1e9
    decimals: int = 2
    suffix: str = ""
    choices: list[str] = field(default_factory=list)
    tooltip: str = ""


class RecordForm(QWidget):
    """Editors for a list of :class:`FieldSpec`; emits ``edited`` as the user types."""

    edited = Signal(str, object)

    def __init__(self, specs: list[FieldSpec], parent: QWidget | None = None, columns: int = 1) -> None:
        super().__init__(parent)
        self.specs = {s.name: s for s in specs}
        self.editors: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}
        self._labels: dict[str, QLabel] = {}
        self._loading = False
        # one QFormLayout per column, side by side (wide docks read better in two)
        row_box = QHBoxLayout(self)
        row_box.setContentsMargins(6, 6, 6, 6)
        forms = []
        for _ in range(max(1, columns)):
            f = QFormLayout()
            f.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            f.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
            row_box.addLayout(f, 1)
            forms.append(f)
        per_column = -(-len(specs) // len(forms))
        for i, spec in enumerate(specs):
            form = forms[i // per_column]
            editor = self._build(spec)
            if spec.tooltip:
                editor.setToolTip(spec.tooltip)
            err = QLabel(self)
            err.setStyleSheet("color: #C62828; font-size: 11px;")
            err.setWordWrap(True)
            err.hide()
            box = QWidget(self)
            col = QVBoxLayout(box)
            col.setContentsMargins(0, 0, 0, 0)
            col.setSpacing(1)
            col.addWidget(editor)
            col.addWidget(err)
            label = QLabel(spec.label, self)
            form.addRow(label, box)
            self.editors[spec.name] = editor
            self.errors[spec.name] = err
            self._labels[spec.name] = label

    # -- building ---------------------------------------------------------------------------
    def _build(self, spec: FieldSpec) -> QWidget:
        name = spec.name
        if spec.kind == "int":
            w = QSpinBox(self)
            w.setRange(int(spec.minimum), int(min(spec.maximum, 2**31 - 1)))
            w.setSuffix(spec.suffix)
            w.valueChanged.connect(lambda v, n=name: self._emit(n, int(v)))
            return w
        if spec.kind in ("float", "optional_float"):
            w = QDoubleSpinBox(self)
            w.setDecimals(spec.decimals)
            w.setRange(spec.minimum, spec.maximum)
            w.setSuffix(spec.suffix)
            w.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
            if spec.kind == "optional_float":
                w.setSpecialValueText("none")
                w.valueChanged.connect(lambda v, n=name, lo=spec.minimum: self._emit(n, None if v == lo else float(v)))
            else:
                w.valueChanged.connect(lambda v, n=name: self._emit(n, float(v)))
            return w
        if spec.kind == "bool":
            w = QCheckBox(self)
            w.toggled.connect(lambda v, n=name: self._emit(n, bool(v)))
            return w
        if spec.kind in ("choice", "edit_choice"):
            w = QComboBox(self)
            w.addItems(spec.choices)
            if spec.kind == "edit_choice":
                w.setEditable(True)
                w.editTextChanged.connect(lambda v, n=name: self._emit(n, v))
            else:
                w.currentTextChanged.connect(lambda v, n=name: self._emit(n, v))
            return w
        if spec.kind == "flags":
            w = QWidget(self)
            row = QHBoxLayout(w)
            row.setContentsMargins(0, 0, 0, 0)
            for choice in spec.choices:
                cb = QCheckBox(choice, w)
                cb.setObjectName(choice)
                cb.toggled.connect(lambda _v, n=name, box=w: self._emit(n, self._flags(box)))
                row.addWidget(cb)
            row.addStretch(1)
            return w
        if spec.kind == "multiline":
            w = QPlainTextEdit(self)
            w.setMaximumHeight(120)
            w.textChanged.connect(lambda n=name, box=w: self._emit(n, box.toPlainText()))
            return w
        w = QLineEdit(self)
        if spec.kind == "readonly":
            w.setReadOnly(True)
            w.setStyleSheet("QLineEdit { background: transparent; border: none; }")
        else:
            w.textEdited.connect(lambda v, n=name: self._emit(n, v))
        return w

    @staticmethod
    def _flags(box: QWidget) -> list[str]:
        return [cb.objectName() for cb in box.findChildren(QCheckBox) if cb.isChecked()]

    def _emit(self, name: str, value: Any) -> None:
        if not self._loading:
            self.edited.emit(name, value)

    # -- showing values ---------------------------------------------------------------------------
    def set_values(self, values: dict[str, Any], mixed: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        """Show ``values`` without emitting edits; fields in ``mixed`` are marked as differing."""
        self._loading = True
        try:
            for name, value in values.items():
                if name in self.editors:
                    self._set(self.specs[name], self.editors[name], value)
            for name, label in self._labels.items():
                label.setText(self.specs[name].label + (" (mixed)" if name in mixed else ""))
                label.setToolTip("selected items differ; an edit sets them all" if name in mixed else "")
        finally:
            self._loading = False

    def _set(self, spec: FieldSpec, w: QWidget, value: Any) -> None:
        if isinstance(w, QSpinBox):
            if w.value() != int(value):
                w.setValue(int(value))
        elif isinstance(w, QDoubleSpinBox):
            v = spec.minimum if value is None else float(value)
            if abs(w.value() - v) > 10 ** -(spec.decimals + 1):
                w.setValue(v)
        elif isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, QComboBox):
            text = "" if value is None else str(value)
            if w.isEditable():
                if w.currentText() != text:
                    w.setEditText(text)
            else:
                w.setCurrentText(text)
        elif isinstance(w, QPlainTextEdit):
            if w.toPlainText() != (value or ""):
                w.setPlainText(value or "")
        elif isinstance(w, QLineEdit):
            text = "" if value is None else str(value)
            if w.text() != text:
                w.setText(text)
        elif spec.kind == "flags":
            chosen = {str(v) for v in (value or [])}
            for cb in w.findChildren(QCheckBox):
                cb.setChecked(cb.objectName() in chosen)

    def set_error(self, name: str, message: str) -> None:
        """Show ``message`` under field ``name`` ('' hides it)."""
        err = self.errors[name]
        err.setText(message)
        err.setVisible(bool(message))

    def clear_errors(self) -> None:
        """Hide every error."""
        for name in self.errors:
            self.set_error(name, "")

    def set_field_enabled(self, name: str, enabled: bool) -> None:
        """Enable or disable one field's editor."""
        self.editors[name].setEnabled(enabled)
