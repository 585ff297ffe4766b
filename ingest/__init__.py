"""Load raw inputs (candidates, exported examples, run artifacts, measured runs) into DuckDB's raw schema."""
