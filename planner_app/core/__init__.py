"""The domain layer: pure Python, numpy, onnx, onnxruntime, networkx and scipy.

One package per concept, imports pointing down this list (import-linter
``layers`` contract in ``pyproject.toml``): ``planning`` (the session of typed
steps) → ``plans`` → ``optimizer`` → ``profiling`` → ``compression`` →
``models`` → ``topology`` → the plain modules ``errors``, ``fileio``,
``progress``, ``resources``, ``schemas``. Nothing here imports Qt, pyqtgraph,
the UI or the agent server.
"""
