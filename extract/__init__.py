"""Activation statistics and steering for measured cells (torch + transformers).

`from extract import ActivationSteerer`. torch is imported on first use, so `psw`
commands that never touch activations start fast.
"""

__all__ = ["ActivationSteerer"]


def __getattr__(name: str):
    if name == "ActivationSteerer":
        from extract.steering import ActivationSteerer

        return ActivationSteerer
    raise AttributeError(f"module 'extract' has no attribute {name!r}")
