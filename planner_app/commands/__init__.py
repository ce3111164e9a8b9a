"""Sub-commands of ``edgeplan``: one module a topic, each with ``register(subparsers)``."""
