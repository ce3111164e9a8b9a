"""planner_app — plan cloud-edge deployments of neural networks.

The package is layered (imports only point down)::

    planner_app.ui        PySide6 + pyqtgraph window (optional extra ``gui``)
    planner_app.cli       the ``edgeplan`` command line
    planner_app.agent     the edge agent and its client (optional extra ``agent``)
    planner_app.core      the domain: topology, models, profiling, optimizer, plans
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
