"""`psw server start|status|stop`: the resident server that runs build, ingest, forget, sql and runs
with dbt and psw imported once (psw/server.py). `psw` starts one by itself after such a command;
`start` starts it now and waits until it answers (the benchmark does, before it times anything)."""

from __future__ import annotations

import json

from psw import server
from warehouse.errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("server", help="start, inspect or stop the resident server that runs builds (dbt imported once)",
                       description="psw runs " + ", ".join(sorted(server.ROUTED)) + " in a fresh child of a "
                       "resident server that has imported dbt and psw (~2 s less a build); it starts one by "
                       "itself after such a command and the server exits after PSW_SERVER_IDLE_S seconds "
                       f"without one (default {server.IDLE_S:.0f}). PSW_SERVER=off turns it off.")
    p.add_argument("action", choices=["start", "status", "stop"])
    p.add_argument("--json", action="store_true", help="the server's status as one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    if not server.enabled():
        raise UserError("the server is off here (PSW_SERVER is set to off, or this system is not Linux)")
    if server.paths() is None:
        raise UserError("the server's folder (PSW_SERVER_DIR, default /tmp/psw-server-UID) must be "
                        "a folder only this user can open (mode 0700)")
    if args.action == "stop":
        stopped = server.control("stop")
        print(f"stopped the server (pid {stopped['stopped']})" if stopped else "no server was running")
        return 0
    status = server.start() if args.action == "start" else server.control("status")
    if status is None:
        if args.action == "start":
            raise UserError(f"the server did not answer within {server.START_S:.0f} s; "
                            f"see {server.paths().log}")
        print("no server is running (the next build starts one)")
        return 0
    if args.json:
        print(json.dumps(status))
    else:
        print(f"server pid {status['pid']}: {status['served']} command(s) in {status['up_s']} s; "
              f"exits after {status['idle_s']:.0f} s idle; socket {status['socket']}")
    return 0
