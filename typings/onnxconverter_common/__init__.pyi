# Type stubs for the part of onnxconverter_common that planner_app uses (the package ships none).
