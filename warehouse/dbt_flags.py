"""dbt's behavior flags without a source-reading stack walk.

When an adapter registers, each of its behavior flags that names no source gets one from
`BehaviorFlagRendered._default_source`: the first module on the call stack that is not
dbt_common.behavior_flags, found with `inspect.stack()`, which reads a line of source for every
frame of the stack (~0.08 s a flag, 0.15 s of a ~3 s pilot build in a warm process: cProfile,
2026-12-03). `default_source` walks the same frames and finds the module of each as `inspect.getmodule`
does, without reading any source; `install()` hands it to dbt for the runs psw starts in its process
(warehouse/dbt_runner.py). tests/core/test_dbt_flags.py checks it names the same module.
"""

from __future__ import annotations

import inspect
import sys

_FLAGS_MODULE = "dbt_common.behavior_flags"


def default_source() -> str:
    """The module that created the flag: the first frame, from the caller out, whose module is
    not dbt_common.behavior_flags ("Unknown" if none)."""
    frame = sys._getframe(1)   # the caller (dbt's frame there is where inspect.stack() started)
    while frame is not None:
        module = _module_of(frame)
        if module is not None and module.__name__ != _FLAGS_MODULE:
            return module.__name__
        frame = frame.f_back
    return "Unknown"


def _module_of(frame):
    """inspect.getmodule(frame): the module whose file the frame's code is from. Its first call
    maps every loaded module's file (~0.1 s with dbt loaded); the module named by the frame's
    globals is nearly always that module, and says so by its file."""
    module = sys.modules.get(frame.f_globals.get("__name__"))
    if module is not None and getattr(module, "__file__", None) == frame.f_code.co_filename:
        return module
    return inspect.getmodule(frame)


def install() -> None:
    """Use `default_source` for dbt's behavior flags in this process."""
    from dbt_common.behavior_flags import BehaviorFlagRendered

    BehaviorFlagRendered._default_source = staticmethod(default_source)
