"""The dialog that asks a value for each dynamic dimension of a model's inputs.

Also :func:`dynamic_inputs`: which inputs of an ONNX file have dynamic
dimensions, read from the file's header without loading its weights.
"""

from __future__ import annotations

__all__ = ["ShapesDialog", "dynamic_inputs", "parse_dims"]

from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)


def dynamic_inputs(path: str | Path) -> dict[str, str]:
    """Input name -> dims text (``batchx3x224x224``) for each input with a dynamic dimension; {} when
    none, or when the file cannot be read (loading it then names the problem)."""
    try:
        import onnx

        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - the load step reports a bad file with its own message
        return {}
    inits = {i.name for i in model.graph.initializer}
    out: dict[str, str] = {}
    for vi in model.graph.input:
        if vi.name in inits or not vi.type.HasField("tensor_type"):
            continue
        dims = vi.type.tensor_type.shape.dim
        texts = [str(d.dim_value) if d.HasField("dim_value") and d.dim_value > 0 else (d.dim_param or "N")
                 for d in dims]
        if any(not t.isdigit() for t in texts):
            out[vi.name] = "x".join(texts)
    return out


def parse_dims(text: str) -> list[int] | None:
    """``'1x3x224x224'`` -> ``[1, 3, 224, 224]``; None unless every dimension is a positive number."""
    parts = [p.strip() for p in text.lower().replace(",", "x").split("x")]
    if not parts or not all(p.isdigit() and int(p) > 0 for p in parts):
        return None
    return [int(p) for p in parts]


class ShapesDialog(QDialog):
    """One line per dynamic input: its dims with a number for each name."""

    def __init__(self, model: str, inputs: dict[str, str], prefill: dict[str, list[int]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Input shapes")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"{model} has dynamic dimensions: give a number for each "
                                "(the workload's input_shapes are filled in)."))
        form = QFormLayout()
        self.edits: dict[str, QLineEdit] = {}
        for name, dims in inputs.items():
            edit = QLineEdit("x".join(map(str, prefill[name])) if name in prefill else dims.replace("N", "1"))
            edit.setPlaceholderText(dims)
            edit.setToolTip(f"{name}: {dims}")
            form.addRow(name, edit)
            self.edits[name] = edit
        layout.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def shapes(self) -> dict[str, list[int]] | None:
        out: dict[str, list[int]] = {}
        for name, edit in self.edits.items():
            dims = parse_dims(edit.text())
            if dims is None:
                return None
            out[name] = dims
        return out
