"""The warehouse itself: the bottom package every other one sits on.

It owns the DuckDB connection and settings (`db`), the one error type users see
(`errors`), the raw tables declared once (`schema`), record keys (`keys`), and
the judge objects' keys and scales (`judge_schema`). It imports nothing else of
this project; ingest, collect, extract, dashboard, hf and the `psw` CLI import it.
"""
