"""The price of an API call: one table, one rule, for the run summary, the estimate and dbt.

The table is the dbt seed `dbt/seeds/model_prices.csv` (USD per million tokens), which the
`costs` mart joins too. The rule, the same as `costs.sql`'s: what the API reported
(`usage.cost`) when it did, else the call's tokens at the table's price, else unpriced.
tests/collect/test_e2e_build.py holds the run summary and the mart to the same figure.
"""

from __future__ import annotations

import csv
from pathlib import Path

PRICES_CSV = Path(__file__).resolve().parents[1] / "dbt" / "seeds" / "model_prices.csv"
WHERE_TO_ADD = (f"add a line `model,prompt_usd_per_mtok,completion_usd_per_mtok,note` to {PRICES_CSV.parent.parent.name}"
                f"/seeds/{PRICES_CSV.name} (then `psw build` prices the stored calls too)")


def prices(path: Path = PRICES_CSV) -> dict[str, tuple[float, float]]:
    """{model: (USD per million prompt tokens, USD per million completion tokens)}."""
    with Path(path).open(newline="", encoding="utf-8") as handle:
        return {row["model"]: (float(row["prompt_usd_per_mtok"]), float(row["completion_usd_per_mtok"]))
                for row in csv.DictReader(handle)}


def call_cost(price_table: dict, model: str, prompt_tokens: float, completion_tokens: float,
              reported: float | None = None) -> float | None:
    """USD for one call; None when the API reported none and the model has no price."""
    if reported is not None:
        return reported
    price = price_table.get(model)
    if price is None:
        return None
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1e6
