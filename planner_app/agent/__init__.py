"""The edge agent (an HTTP server run on edge devices) and its client. No Qt.

Not built yet: the package exists so the import contracts hold a place for it.
"""
