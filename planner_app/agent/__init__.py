"""The edge agent (an HTTP server run on edge devices) and its client. No Qt."""
