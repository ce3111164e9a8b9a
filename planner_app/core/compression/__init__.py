"""Compression levels (a registry of records: fp32, fp16, int8, pruned, variants), cut codecs, calibration samples and fidelity against fp32.

Every public name of the package is re-exported here; import from the package.
"""

from __future__ import annotations

from planner_app.core.compression.calibration import (
    CompressionError,
    SampleSet,
    input_specs,
    load_samples,
    open_session,
    part_samples,
    synthetic_samples,
)
from planner_app.core.compression.cut_codecs import (
    CODECS,
    DEFAULT_CUT_CODECS,
    CutCodec,
    EncodedTensor,
    decode_tensor,
    encode_tensor,
    measure_cut_codecs,
)
from planner_app.core.compression.fidelity import (
    SQNR_IDENTICAL_DB,
    Fidelity,
    compare_outputs,
    measure_fidelity,
    run_model,
)
from planner_app.core.compression.levels import (
    LEVELS,
    CompressedModel,
    compress,
    is_known_level,
    level_precision,
    stored_size_bytes,
)
from planner_app.core.compression.registry import (
    REFERENCE_LEVEL,
    CompressionLevel,
    LevelFamily,
    LevelRegistryError,
    get_level,
    level_names,
    levels_help,
    register_level,
    unregister_level,
)
from planner_app.core.compression.transforms import Transformed

__all__ = [
    "CutCodec",
    "DEFAULT_CUT_CODECS",
    "CODECS",
    "EncodedTensor",
    "encode_tensor",
    "decode_tensor",
    "measure_cut_codecs",
    "CompressionError",
    "SampleSet",
    "input_specs",
    "synthetic_samples",
    "load_samples",
    "part_samples",
    "open_session",
    "LEVELS",
    "CompressedModel",
    "compress",
    "level_precision",
    "is_known_level",
    "stored_size_bytes",
    "REFERENCE_LEVEL",
    "CompressionLevel",
    "LevelFamily",
    "LevelRegistryError",
    "Transformed",
    "get_level",
    "level_names",
    "levels_help",
    "register_level",
    "unregister_level",
    "Fidelity",
    "SQNR_IDENTICAL_DB",
    "compare_outputs",
    "measure_fidelity",
    "run_model",
]
