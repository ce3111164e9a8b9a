"""What planning needs of a model: the ONNX loader and graph (operators, FLOPs, units, cuts), partition into runnable parts, the sample models, and the unit structure the optimizer reads.

Every public name of the package is re-exported here; import from the package.
"""

from __future__ import annotations

from planner_app.core.models.analysis import (
    FOLD_ALWAYS,
    FOLD_EPILOGUE,
    AnalysisResult,
    Cut,
    Unit,
    analyse,
    node_inputs,
    outer_scope_inputs,
)
from planner_app.core.models.flops import (
    ELEMENTWISE_FLOPS,
    ZERO_COST_OPS,
    NodeCost,
    node_cost,
)
from planner_app.core.models.graph import (
    SAMPLE_PREFIX,
    ModelGraph,
    load_model,
    parse_shape_args,
)
from planner_app.core.models.loading import (
    ITEMSIZE,
    ModelError,
    PreparedModel,
    prepare_model,
    random_inputs,
    runtime_can_run_opset,
)
from planner_app.core.models.partition import (
    EquivalenceReport,
    PartitionError,
    StagePart,
    check_chain,
    part_graph_outputs,
    run_chain,
    split_stages,
    stages_from_cut_tensors,
    stages_from_positions,
    write_parts,
)
from planner_app.core.models.sample_builder import (
    GraphBuilder,
)
from planner_app.core.models.sample_nets import (
    build_lstm_kws,
    build_transformer_encoder,
    build_yolo_detector,
)
from planner_app.core.models.samples import (
    GENERATOR_VERSION,
    SAMPLE_MODELS,
    SampleSpec,
    build_sample_model,
    build_synthetic_model,
    sample_input_shapes,
    sample_model_path,
)
from planner_app.core.models.structure import (
    ModelStructure,
    TensorInfo,
)

__all__ = [
    "ModelError",
    "PreparedModel",
    "prepare_model",
    "random_inputs",
    "runtime_can_run_opset",
    "ITEMSIZE",
    "NodeCost",
    "node_cost",
    "ZERO_COST_OPS",
    "ELEMENTWISE_FLOPS",
    "Unit",
    "Cut",
    "AnalysisResult",
    "analyse",
    "outer_scope_inputs",
    "node_inputs",
    "FOLD_ALWAYS",
    "FOLD_EPILOGUE",
    "TensorInfo",
    "ModelStructure",
    "ModelGraph",
    "load_model",
    "parse_shape_args",
    "SAMPLE_PREFIX",
    "PartitionError",
    "StagePart",
    "EquivalenceReport",
    "split_stages",
    "stages_from_positions",
    "stages_from_cut_tensors",
    "write_parts",
    "check_chain",
    "run_chain",
    "part_graph_outputs",
    "GraphBuilder",
    "build_transformer_encoder",
    "build_yolo_detector",
    "build_lstm_kws",
    "SampleSpec",
    "SAMPLE_MODELS",
    "GENERATOR_VERSION",
    "sample_model_path",
    "build_sample_model",
    "build_synthetic_model",
    "sample_input_shapes",
]
