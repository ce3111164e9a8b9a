"""Imported per-unit times: CSV and JSON forms, node-level rows, and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from planner_app.core.errors import InputFileError
from planner_app.core.models.graph import load_model
from planner_app.core.models.samples import build_sample_model
from planner_app.core.profiling.imported import ImportedTimesError, load_imported_times


@pytest.fixture(scope="module")
def mg():
    return load_model(build_sample_model("resnet18", image_size=32, width=8, num_classes=10).SerializeToString(),
                      name="resnet18")


def test_csv_rows_by_unit_name_id_and_node_name(mg, tmp_path):
    u0, u1, u2 = mg.units[:3]
    nodes = [n for n in u2.node_names if n != u2.name] or u2.node_names
    lines = ["device,level,unit,ms", f"phone,fp32,{u0.name},1.5", "phone,fp32,1,2.0  # by id"]
    lines += [f"phone,fp32,{n},0.25" for n in nodes]
    lines.append(f"phone,int8-static,{u0.name},0.4")
    (tmp_path / "t.csv").write_text("# measured on a Pixel 7\n" + "\n".join(lines) + "\n")
    imp = load_imported_times(tmp_path / "t.csv", mg)
    fp32 = imp.times_for("phone", "fp32")
    assert fp32[0] == 1.5 and fp32[1] == 2.0
    assert fp32[2] == pytest.approx(0.25 * len(nodes))  # node rows sum into their unit
    assert np.isnan(fp32[3:]).all()
    assert imp.coverage("phone", "fp32") == pytest.approx(3 / len(mg.units))
    assert imp.times_for("phone", "fp16") is None and imp.devices == ["phone"]


def test_json_rows_and_nested_forms(mg, tmp_path):
    name = mg.units[4].name
    (tmp_path / "rows.json").write_text(json.dumps({"rows": [{"device": "jetson", "level": "fp16", "unit": name, "ms": 0.7}]}))
    (tmp_path / "nested.json").write_text(json.dumps({"devices": {"jetson": {"fp16": {name: 0.7}}}}))
    a = load_imported_times(tmp_path / "rows.json", mg).times_for("jetson", "fp16")
    b = load_imported_times(tmp_path / "nested.json", mg).times_for("jetson", "fp16")
    assert a[4] == b[4] == 0.7


def test_rows_that_match_nothing_are_listed_with_suggestions(mg, tmp_path):
    real = mg.units[1].name
    typo = real[:-1] + ("x" if real[-1] != "x" else "y")
    (tmp_path / "bad.csv").write_text(
        "device,level,unit,ms\n"
        f"phone,fp32,{typo},1\n"
        "phone,fp32,no_such_layer_at_all,1\n"
        f"phone,fp32,{len(mg.units)},1\n"
        f"phone,int4,{real},1\n"
        f"phone,fp32,{real},-3\n"
        f"phone,fp32,{real},abc\n"
    )
    with pytest.raises(ImportedTimesError) as err:
        load_imported_times(tmp_path / "bad.csv", mg)
    text = str(err.value)
    assert "6 of 6 row(s) are bad (unknown unit: 3, unknown level: 1, bad ms: 2)" in text
    assert f"line 2: unit '{typo}'" in text and f"did you mean '{real}'" in text
    assert "line 3: unit 'no_such_layer_at_all'" in text
    assert f"line 4: unit '{len(mg.units)}'" in text
    assert "line 5: unknown level 'int4'" in text
    assert "line 6: ms -3 must be" in text and "line 7: ms 'abc' is not a number" in text


def test_every_bad_row_is_reported_once_with_its_file_line_and_all_its_reasons(mg, tmp_path):
    good = mg.units[0].name
    (tmp_path / "bad.csv").write_text(
        "# measured on the hub\n"          # line 1
        "device,level,unit,ms\n"           # line 2
        "hub,fp32,no_such_unit,1\n"        # line 3: unknown unit
        "\n"                               # line 4
        f"ghost,fp32,{good},2\n"           # line 5: unknown device
        f"hub,fp99,{good},1\n"             # line 6: unknown level
        f"hub,fp32,{good},-4\n"            # line 7: negative time
        f"hub,fp99,nothing,x\n"            # line 8: three reasons at once
        f"hub,fp16,{good},1\n"             # line 9: fine
    )
    with pytest.raises(ImportedTimesError) as err:
        load_imported_times(tmp_path / "bad.csv", mg, device_ids=["hub", "cloud"])
    text = str(err.value)
    assert "5 of 6 row(s) are bad" in text
    assert "unknown unit: 2, unknown device: 1, unknown level: 2, bad ms: 2" in text
    lines = text.splitlines()[1:]
    assert [ln.split(":")[0].strip() for ln in lines] == [f"- line {n}" for n in (3, 5, 6, 7, 8)]
    assert "line 3: unit 'no_such_unit'" in text
    assert "line 5: device 'ghost' is not in the topology (devices: hub, cloud)" in text
    assert "line 6: unknown level 'fp99'" in text and "line 7: ms -4 must be" in text
    assert "line 8: unknown level 'fp99'" in text and "unit 'nothing'" in lines[-1] and "ms 'x'" in lines[-1]
    # without a topology the device cannot be judged yet: the other four are still all listed
    with pytest.raises(ImportedTimesError, match=r"4 of 6 row\(s\) are bad") as err:
        load_imported_times(tmp_path / "bad.csv", mg)
    assert "ghost" not in str(err.value) and "line 8" in str(err.value)


def test_json_rows_are_named_by_index_or_path(mg, tmp_path):
    good = mg.units[0].name
    (tmp_path / "rows.json").write_text(json.dumps([{"device": "p", "level": "fp32", "unit": good, "ms": 1},
                                                    {"device": "p", "level": "fp32", "unit": "zzz", "ms": 1}]))
    with pytest.raises(ImportedTimesError, match=r"rows\[1\]: unit 'zzz'"):
        load_imported_times(tmp_path / "rows.json", mg)
    (tmp_path / "nested.json").write_text(json.dumps({"devices": {"p": {"fp32": {good: -1}}}}))
    with pytest.raises(ImportedTimesError, match=rf"devices\.p\.fp32\.{good}: ms -1 must be"):
        load_imported_times(tmp_path / "nested.json", mg)


def test_bad_files(mg, tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        load_imported_times(tmp_path / "missing.csv", mg)
    (tmp_path / "h.csv").write_text("dev,lvl,u,t\n")
    with pytest.raises(ImportedTimesError, match="needs columns device, level, unit, ms"):
        load_imported_times(tmp_path / "h.csv", mg)
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(ImportedTimesError, match=r"\.csv or \.json"):
        load_imported_times(tmp_path / "x.txt", mg)
    (tmp_path / "dup.csv").write_text("device,level,unit,ms\np,fp32,0,1\np,fp32,0,2\n")
    with pytest.raises(ImportedTimesError, match="line 3: repeats line 2"):
        load_imported_times(tmp_path / "dup.csv", mg)
