"""`psw forget --load ID | --measurement ID`: take a load back out of the raw schema."""

from __future__ import annotations

from ingest.forget import forget_load, forget_measurement
from warehouse.db import connect, db_path


def add_parser(sub) -> None:
    p = sub.add_parser("forget", help="remove what a load (or a whole measurement) added; then psw build",
                       description="Removes the raw rows of one load (its id or a prefix of it, as printed "
                       "by `psw sql \"select load_id, source_path from raw.loads\"`) or of every load of a "
                       "measurement. raw.loads keeps the load with forgotten_at set, and raw.forgets records "
                       "what was removed. Run `psw build` afterwards to update the marts.")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--load", metavar="ID", help="a load id, or a unique prefix of one")
    which.add_argument("--measurement", metavar="ID", help="every load of this measurement")
    p.set_defaults(func=run)


def run(args) -> int:
    with connect(db_path(args.db)) as con:
        done = forget_load(con, args.load) if args.load else forget_measurement(con, args.measurement)
    for item in done:
        print(f"forgot load {item.load_id[:12]} ({item.source_path}): {item.n_rows} rows removed")
    print("run `psw build` to update the marts")
    return 0
