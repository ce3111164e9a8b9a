"""The domain layer: pure Python, numpy, onnx, onnxruntime, networkx and scipy.

Nothing here imports Qt, pyqtgraph, the UI or the agent server; an
import-linter contract in ``pyproject.toml`` enforces it.
"""
