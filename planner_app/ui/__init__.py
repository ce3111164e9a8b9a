"""The desktop window (PySide6). Imports core; core never imports this package."""
