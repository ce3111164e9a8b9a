"""Deleting what workloads need is warned about, and invalid workloads are shown."""

from __future__ import annotations

from PySide6.QtGui import QColor

from planner_app.core.topology import Workload
from planner_app.ui.validation import WarningBadge
from planner_app.ui.workload_checks import broken_by_removal, workload_problems
from tests.ui._helpers import small_topology


def _topology():
    t = small_topology()
    t.workloads.append(Workload(name="report", source="phone", consumer="cloud", rate_rps=1))
    return t


def test_broken_by_removal_names_what_breaks():
    t = _topology()
    assert broken_by_removal(t, [], ["l1"]) == ["workload 'detect': cam is linked to nothing: add a link to an "
                                               "edge or cloud device"]
    assert broken_by_removal(t, ["edge"]) == [
        "workload 'detect': cam is linked to nothing: add a link to an edge or cloud device",
        "workload 'report': phone cannot reach cloud: no chain of links joins them",
    ]
    assert broken_by_removal(t, ["cloud"]) == ["workload 'report' is deleted with its consumer cloud"]
    assert broken_by_removal(t, ["cam"]) == ["workload 'detect' is deleted with its source cam"]
    assert broken_by_removal(t, [], ["l3"]) == ["workload 'report': phone cannot reach cloud: no chain of links "
                                               "joins them"]
    assert broken_by_removal(t, [], ["l2", "l1"])[1].startswith("workload 'report'")
    assert workload_problems(t) == []


def test_deleting_a_device_warns_listing_broken_workloads_and_cancel_keeps_it(make_window, dialogs):
    w = make_window(_topology())
    w.scene.select_ids(["edge"])
    dialogs.confirm_delete_answer = False
    w.acts["delete"].trigger()
    assert dialogs.kinds() == ["confirm_delete"]
    listed = dialogs.calls[-1][1]
    assert "'detect'" in listed and "phone cannot reach cloud" in listed
    assert w.doc.topology.has_device("edge") and w.doc.undo_stack.count() == 0
    # a delete that breaks nothing asks nothing
    w.editor.add_note(0, 0)
    w.scene.select_ids([w.doc.topology.notes[0].id])
    w.acts["delete"].trigger()
    assert dialogs.kinds() == ["confirm_delete"] and not w.doc.topology.notes


def test_broken_workloads_are_flagged_on_the_canvas_and_in_the_panel(make_window, dialogs, qtbot):
    w = make_window(_topology())
    panel = w.workloads
    assert not w.validator.badges
    w.scene.select_ids(["edge"])
    dialogs.confirm_delete_answer = True
    w.acts["delete"].trigger()
    assert not w.doc.topology.has_device("edge")
    qtbot.waitUntil(lambda: set(w.validator.badges) == {"cam", "phone", "cloud"}, timeout=2_000)
    badge = w.validator.badges["phone"]
    assert isinstance(badge, WarningBadge) and badge.parentItem() is w.scene.devices["phone"]
    assert "report: phone cannot reach cloud" in badge.toolTip()
    row = panel.list.item(1)
    assert row.foreground().color() == QColor("#C62828")
    assert "phone cannot reach cloud" in row.toolTip()
    # undo repairs the workloads: the flags go
    w.acts["undo"].trigger()
    qtbot.waitUntil(lambda: not w.validator.badges, timeout=2_000)
    assert panel.list.item(1).toolTip() == ""
    assert not [it for it in w.scene.items() if isinstance(it, WarningBadge)]


def test_cut_warns_too(make_window, dialogs):
    w = make_window(_topology())
    w.scene.select_ids(["cloud"])
    dialogs.confirm_delete_answer = False
    w.acts["cut"].trigger()
    assert dialogs.kinds() == ["confirm_delete"] and w.doc.topology.has_device("cloud")


def test_a_model_path_that_does_not_exist_is_flagged(window, qtbot, tmp_path):
    field = window.workloads.form.editors["model"]  # an editable combo: loaded models, samples, Browse…
    error = window.workloads.form.errors["model"]
    field.setEditText("models/missing.onnx")  # typed
    assert window.doc.topology.workloads[0].model == "models/missing.onnx"  # kept: the file may come later
    qtbot.waitUntil(lambda: "does not exist" in error.text() and error.isVisibleTo(window), timeout=2_000)
    assert "missing.onnx" in window.workloads.list.item(0).toolTip()
    real = tmp_path / "m.onnx"
    real.write_bytes(b"onnx")
    field.setEditText(str(real))
    qtbot.waitUntil(lambda: not error.isVisibleTo(window), timeout=2_000)
    assert window.workloads.list.item(0).toolTip() == ""


def test_the_model_field_offers_loaded_models_samples_and_browse(window, qtbot, tmp_path):
    from planner_app.ui.workloads_panel import BROWSE_MODEL

    panel = window.workloads
    combo = panel.model_combo
    items = [combo.itemText(i) for i in range(combo.count())]
    assert "sample:lstm_kws" in items and items[-1] == BROWSE_MODEL
    # a model loaded in the Model panel comes first
    panel.set_model_choices([str(tmp_path / "mine.onnx")])
    assert combo.itemText(0) == str(tmp_path / "mine.onnx")
    combo.setCurrentIndex(combo.findText("sample:lstm_kws"))
    combo.activated.emit(combo.currentIndex())
    assert window.doc.topology.workloads[0].model == "sample:lstm_kws"
    # Browse…: the chosen file becomes the model; a cancelled choice changes nothing
    chosen = tmp_path / "picked.onnx"
    answers = iter([str(chosen), None])
    panel.model_browser = lambda: next(answers)
    for expected in (str(chosen), str(chosen)):
        combo.setCurrentIndex(combo.count() - 1)
        combo.activated.emit(combo.count() - 1)
        assert window.doc.topology.workloads[0].model == expected
        assert combo.currentText() == expected
    # picked.onnx does not exist: flagged
    qtbot.waitUntil(lambda: "does not exist" in panel.form.errors["model"].text(), timeout=2_000)
    window.doc.undo_stack.undo()  # Browse… was one undoable edit
    assert window.doc.topology.workloads[0].model == "sample:lstm_kws"
