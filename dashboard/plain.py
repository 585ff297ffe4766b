"""Data shown as text on the dashboard: `md` and `code` live in warehouse/plain.py, shared with `psw report`."""

from warehouse.plain import as_text, code, md  # noqa: F401
