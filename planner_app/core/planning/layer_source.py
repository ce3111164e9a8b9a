"""A model described by a layer table, as a :class:`~planner_app.core.planning.source.ModelSource`.

The table (:mod:`planner_app.core.models.layer_table`) gives the layers, their
sizes and their times per device type. On a topology, each device takes the times
of its type (:attr:`Device.type_name <planner_app.core.topology.records.Device.type_name>`:
its ``device_type``, else its catalog preset, else its id), for every level, best first:

1. ``imported``: the table's times for that type, level and the workload's batch size;
2. ``estimated``: the table's times for that type and level at another batch size,
   scaled linearly to the workload's (no batching gain is assumed);
3. ``estimated``: the roofline of the device's peaks from the layers' FLOPs
   (:func:`~planner_app.core.profiling.flops_estimate.roofline_ms`), when every
   layer states its FLOPs;
4. ``not measured``: ``inf``, the device runs nothing at that level; the session's
   notes say which devices were ruled out and why.

Weight bytes per level are the table's (fp32) weight bytes times the level's
weight-size factor; a unit's activation memory is its input and output (as for
an ONNX model) plus the table's working bytes, all per batch. The source has no
part builder: its plan names layer ranges and has no part files.

Example
-------
>>> src = LayerTableSource(load_layer_table("tests/data/layer_tables/tiny_chain.csv"))  # doctest: +SKIP
>>> session.use_model(src); session.measure()                                          # doctest: +SKIP
"""

from __future__ import annotations

__all__ = ["LayerTableSource"]

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from planner_app.core.compression.registry import get_level, is_known_level, level_names
from planner_app.core.errors import PlannerError
from planner_app.core.models import ModelStructure
from planner_app.core.models.layer_table import LayerTable, LayerTableError
from planner_app.core.planning.options import MeasureOptions
from planner_app.core.planning.source import Measured, PartBuilder
from planner_app.core.plans import ModelInfo
from planner_app.core.profiling import TimeTable
from planner_app.core.profiling.flops_estimate import roofline_ms
from planner_app.core.profiling.measured import NOT_MEASURED
from planner_app.core.progress import CancelToken, ProgressCallback, report
from planner_app.core.topology import Topology


@dataclass
class LayerTableSource:
    """A layer table as a model to plan (see the module docstring); ``batch_size`` is the workload's."""

    table: LayerTable
    batch_size: int = 1
    given_as: str = ""
    _structure: ModelStructure | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        bad = [lv for lv in self.table.levels if not is_known_level(lv)]
        if bad:
            raise LayerTableError(
                f"{self.table.where}: times at unknown level(s) {', '.join(map(repr, bad))}: the levels are "
                f"{', '.join(level_names())}.")
        if self.batch_size < 1:
            raise PlannerError(f"batch size {self.batch_size} must be at least 1")

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def label(self) -> str:
        return self.given_as or self.table.where

    @property
    def sha256(self) -> str:
        """The table's identity: the sha256 of its canonical JSON (the CSV and JSON forms agree)."""
        text = json.dumps(self.table.document.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @property
    def input_shapes(self) -> dict[str, list[int]]:
        return self.table.input_shapes

    @property
    def part_builder(self) -> PartBuilder | None:
        return None  # a table has no runnable parts

    def structure(self) -> ModelStructure:
        if self._structure is None:
            self._structure = self.table.structure(self.batch_size)
        return self._structure

    def model_info(self) -> ModelInfo:
        s = self.structure()
        inp = self.table.document.input
        return ModelInfo(
            name=self.name, source=self.label, path=None, sha256=self.sha256, bytes=0, opsets={},
            input_shapes=self.input_shapes, input_dtypes={inp.name: inp.dtype} if inp.shape else {},
            output_names=self.table.output_names, units=s.n_units, total_flops=float(s.flops.sum()))

    def measure(self, topology: Topology, options: MeasureOptions, *,
                progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> Measured:
        """The time table on every device of ``topology``: each device takes its type's times."""
        table, b = self.table, self.batch_size
        if options.profile is not None or options.imported or options.agent_profiles:
            raise PlannerError(
                f"model {self.label} is a layer table: its times are in the file; --profile, --imported and "
                "--agent-profile apply to ONNX models. Add times as columns of the table instead.")
        levels = list(options.levels) if options.levels else (table.levels or ["fp32"])
        report(progress, 0.0, f"times from {self.label} for {len(topology.devices)} device(s)")
        s = self.structure()
        n, ids = s.n_units, [d.id for d in topology.devices]
        ms = np.full((n, len(ids), len(levels)), np.inf)
        provenance: dict[tuple[str, str], str] = {}
        notes: list[str] = []
        flops = table.flops
        factors = np.array([get_level(lv).weight_size_factor for lv in levels])
        types = {d.type_name for d in topology.devices}
        scaled: list[str] = []
        estimated: list[str] = []
        ruled_out: list[str] = []
        for di, dev in enumerate(topology.devices):
            if cancel is not None:
                cancel.raise_if_cancelled()
            t = dev.type_name
            for li, level in enumerate(levels):
                col = table.series(t, level, b)
                if col is not None:
                    ms[:, di, li], provenance[(dev.id, level)] = col, "imported"
                    continue
                measured_at = table.batches(t, level)
                if measured_at:
                    near = min(measured_at, key=lambda x: (abs(x - b), x))
                    other = table.series(t, level, near)
                    assert other is not None
                    ms[:, di, li], provenance[(dev.id, level)] = other * b / near, "estimated"
                    scaled.append(f"{dev.id} at {level} (batch {near} scaled to {b})")
                elif flops is not None:
                    nbytes = s.activation_bytes + s.param_bytes * get_level(level).weight_size_factor
                    ms[:, di, li] = roofline_ms(dev, flops * b, nbytes, get_level(level).precision)
                    provenance[(dev.id, level)] = "estimated"
                    estimated.append(f"{dev.id} at {level}")
                else:
                    provenance[(dev.id, level)] = NOT_MEASURED
                    ruled_out.append(f"{dev.id} (type {t}) at {level}")
        if scaled:
            notes.append(f"times of {', '.join(scaled)} scaled linearly from another batch size in {self.label}")
        if estimated:
            notes.append(f"no times for {', '.join(estimated)} in {self.label}: estimated from the layers' FLOPs "
                         "and the device's peaks (roofline)")
        if ruled_out:
            lacking = table.layers_without_flops
            notes.append(
                f"{', '.join(ruled_out)}: no times in {self.label} for that device type and layers "
                f"{', '.join(lacking[:3])}{' …' if len(lacking) > 3 else ''} give no FLOPs to estimate them: they "
                "run nothing there (add a time column for the type, or set the device's device_type to a type "
                "the table times)")
        unused = [t for t in table.device_types if t not in types]
        if unused:
            notes.append(f"{self.label} times device type(s) {', '.join(unused)}, which no device of topology "
                         f"{topology.name!r} has (a device's type is its device_type, else its preset, else its id)")
        if not np.isfinite(ms).any(axis=0).any():
            raise LayerTableError(
                f"no device of topology {topology.name!r} can run {self.label}: it times device type(s) "
                f"{', '.join(table.device_types) or '(none)'} at {', '.join(table.levels) or '(none)'}, the "
                f"devices' types are {', '.join(sorted(types))}, and layers lack FLOPs for an estimate. Set each "
                "device's device_type to a type the table times, or give FLOPs per layer.")
        param_bytes = np.outer(s.param_bytes, factors)
        act = s.activation_bytes + table.working_bytes * b
        fidelity = {"fp32": 1.0} if "fp32" in levels else {}
        tt = TimeTable(device_ids=ids, levels=levels, ms=ms, param_bytes=param_bytes, provenance=provenance,
                       fidelity=fidelity, activation_bytes=act)
        notes.insert(0, f"times from layer table {self.label} (batch {b})")
        report(progress, 1.0, "time table built")
        return Measured(tt, notes=tuple(notes))
