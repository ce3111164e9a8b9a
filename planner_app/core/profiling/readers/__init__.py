"""Readers of per-layer measurements made with other tools, each into a layer table.

onnxruntime profiler JSON (:mod:`.onnxruntime_profile`), TFLite's
``benchmark_model --enable_op_profiling`` output (:mod:`.tflite`) and PipeEdge's
scheduler files (:mod:`.pipeedge`, which also yield a topology). The formats and
the example files are in ``docs/layer_tables.md`` and ``tests/data/``.
"""
