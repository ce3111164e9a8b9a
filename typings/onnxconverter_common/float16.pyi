# Type stubs for the part of onnxconverter_common.float16 that planner_app uses.
from collections.abc import Iterable

import onnx

def convert_float_to_float16(
    model: onnx.ModelProto,
    min_positive_val: float = ...,
    max_finite_val: float = ...,
    keep_io_types: bool = ...,
    disable_shape_infer: bool = ...,
    op_block_list: Iterable[str] | None = ...,
    node_block_list: Iterable[str] | None = ...,
    check_fp16_ready: bool = ...,
) -> onnx.ModelProto: ...
