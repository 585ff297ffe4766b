"""The price of an API call: one table, one rule, for the run summary, the estimate and dbt.

The table is the dbt seed `dbt/seeds/model_prices.csv` (USD per million tokens), which the
`costs` mart joins too. The rule, the same as `costs.sql`'s: what the API reported
(`usage.cost`) when it did, else the call's tokens at the table's price, else unpriced.
tests/collect/test_e2e_build.py holds the run summary and the mart to the same figure.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from warehouse.errors import UserError

PRICES_CSV = Path(__file__).resolve().parents[1] / "dbt" / "seeds" / "model_prices.csv"
WHERE_TO_ADD = (f"add a line `model,prompt_usd_per_mtok,completion_usd_per_mtok,note` to {PRICES_CSV.parent.parent.name}"
                f"/seeds/{PRICES_CSV.name} (then `psw build` prices the stored calls too)")


PRICE_COLUMNS = ("prompt_usd_per_mtok", "completion_usd_per_mtok")


def prices(path: Path = PRICES_CSV) -> dict[str, tuple[float, float]]:
    """{model: (USD per million prompt tokens, USD per million completion tokens)}. A line the table
    cannot hold (a model named twice, a price that is not a number >= 0) is refused naming its file
    and line, as the seed's guarantees refuse it in a build (dbt/seeds/model_prices.yml)."""
    path = Path(path)
    table: dict[str, tuple[float, float]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [name for name in ("model", *PRICE_COLUMNS) if name not in (reader.fieldnames or [])]
        if missing:
            raise UserError(f"{path}:1: no column {missing[0]} (the header is model,{','.join(PRICE_COLUMNS)},note)")
        for row in reader:
            where = f"{path}:{reader.line_num}"
            model = row["model"] or ""   # as the seed reads it: " m" and "m" are two models
            if not model:
                raise UserError(f"{where}: no model id")
            if model in table:
                raise UserError(f"{where}: {model} is priced twice (one line per model)")
            table[model] = tuple(_price(row[name], where, name) for name in PRICE_COLUMNS)
    return table


def _price(text: str | None, where: str, name: str) -> float:
    try:
        value = float(text or "")
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise UserError(f"{where}: {name} = {text!r}: not a price (a number >= 0, USD per million tokens)")
    return value


def call_cost(price_table: dict, model: str, prompt_tokens: float, completion_tokens: float,
              reported: float | None = None) -> float | None:
    """USD for one call; None when the API reported none and the model has no price."""
    if reported is not None:
        return reported
    price = price_table.get(model)
    if price is None:
        return None
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1e6
