"""The unit structure of a model: what the optimizer and the cost model read of it.

:class:`ModelStructure` lists the units in topological order with their FLOPs
and weight bytes, and every tensor with its size per request, producer and
consumers. It is built from a :class:`~planner_app.core.models.graph.ModelGraph`
(:meth:`ModelStructure.from_model_graph`), from a layer table, or directly
(tests, benchmarks): the optimizer never sees ONNX.

Example
-------
>>> s = ModelStructure.chain([10.0, 20.0], [4000, 400], input_bytes=40000)
>>> s.cut_bytes.tolist()
[40000, 4000, 400]
"""

from __future__ import annotations

__all__ = ["TensorInfo", "ModelStructure"]

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from planner_app.core.errors import ProblemError

if TYPE_CHECKING:
    from planner_app.core.models.graph import ModelGraph


@dataclass(frozen=True)
class TensorInfo:
    """A tensor of the model: size per request, producing unit (-1 = graph input), consumers."""

    name: str
    size_bytes: int
    producer: int
    consumers: tuple[int, ...] = ()
    is_output: bool = False


@dataclass
class ModelStructure:
    """What the optimizer needs to know about a model (see the module docstring)."""

    name: str
    unit_names: list[str]
    flops: np.ndarray
    param_bytes: np.ndarray
    tensors: list[TensorInfo]

    def __post_init__(self) -> None:
        n = len(self.unit_names)
        self.flops = np.asarray(self.flops, dtype=float).reshape(n)
        self.param_bytes = np.asarray(self.param_bytes, dtype=float).reshape(n)
        if n == 0:
            raise ProblemError(f"model {self.name!r} has no units to place")
        cut_tensors: list[list[int]] = [[] for _ in range(n + 1)]
        act = np.zeros(n)
        for ti, t in enumerate(self.tensors):
            if not -1 <= t.producer < n:
                raise ProblemError(f"tensor {t.name!r} names producer unit {t.producer}, outside 0..{n - 1}")
            for c in t.consumers:
                if not t.producer < c < n:
                    raise ProblemError(
                        f"tensor {t.name!r} is consumed by unit {c} but produced by unit {t.producer}: "
                        "units must be in topological order"
                    )
                act[c] += t.size_bytes
            if t.producer >= 0:
                act[t.producer] += t.size_bytes
            last = n if t.is_output else max(t.consumers, default=t.producer)
            for k in range(t.producer + 1, last + 1):
                cut_tensors[k].append(ti)
        self.cut_tensors = cut_tensors
        self.cut_bytes = np.array([sum(self.tensors[i].size_bytes for i in c) for c in cut_tensors], dtype=np.int64)
        #: peak activation bytes of each unit (its inputs and outputs live at once)
        self.activation_bytes = act

    @property
    def n_units(self) -> int:
        return len(self.unit_names)

    def cut_tensor_names(self, k: int) -> list[str]:
        """Tensors crossing boundary ``k`` (0 = raw inputs, n = graph outputs)."""
        return [self.tensors[i].name for i in self.cut_tensors[k]]

    def edges(self) -> list[tuple[int, int, int]]:
        """Unit DAG edges ``(producer, consumer, bytes)``, bytes summed over tensors."""
        acc: dict[tuple[int, int], int] = {}
        for t in self.tensors:
            if t.producer < 0:
                continue
            for c in set(t.consumers):
                acc[(t.producer, c)] = acc.get((t.producer, c), 0) + t.size_bytes
        return [(u, v, b) for (u, v), b in sorted(acc.items())]

    @classmethod
    def chain(
        cls,
        flops: Sequence[float],
        output_bytes: Sequence[int],
        input_bytes: int,
        param_bytes: Sequence[float] | None = None,
        name: str = "chain",
    ) -> ModelStructure:
        """A plain chain: unit i reads unit i-1's output (unit 0 reads the raw input)."""
        n = len(flops)
        tensors = [TensorInfo("input", int(input_bytes), -1, (0,))]
        for i in range(n):
            tensors.append(TensorInfo(f"t{i}", int(output_bytes[i]), i, (i + 1,) if i + 1 < n else (), i == n - 1))
        return cls(name, [f"u{i}" for i in range(n)], np.asarray(flops, float),
                   np.zeros(n) if param_bytes is None else np.asarray(param_bytes, float), tensors)

    @classmethod
    def from_model_graph(cls, mg: ModelGraph) -> ModelStructure:
        """Adapter from :class:`planner_app.core.models.graph.ModelGraph`."""
        n = len(mg.units)
        consumers: dict[str, list[int]] = {k: list(v) for k, v in getattr(mg, "tensor_consumers", {}).items()}
        if not consumers:  # older graphs: derive from the unit inputs
            for u in mg.units:
                for t in u.inputs:
                    consumers.setdefault(t, []).append(u.id)
        outputs = set(mg.outputs)
        tensors: list[TensorInfo] = []
        names = set(mg.inputs) | set(mg.tensor_producer)
        for name in sorted(names, key=lambda t: (mg.tensor_producer.get(t, -1), t)):
            producer = mg.tensor_producer.get(name, -1)
            cons = tuple(sorted({c for c in consumers.get(name, []) if c != producer}))
            if not cons and name not in outputs:
                continue
            tensors.append(TensorInfo(name, int(mg.tensor_bytes.get(name, 0)), producer, cons, name in outputs))
        return cls(
            mg.name,
            [u.name for u in mg.units],
            np.array([float(u.flops) for u in mg.units]).reshape(n),
            np.array([float(u.param_bytes) for u in mg.units]).reshape(n),
            tensors,
        )
