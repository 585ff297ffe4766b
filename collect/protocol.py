"""The anchored protocol's names and defaults, apart from the code that runs it.

`psw collect`'s options read them when the command line is parsed, which happens for every `psw`
command; collect/anchored.py and collect/bounded.py (and with them httpx, numpy and jinja2) are
imported only when a run starts.
"""

PROTOCOLS = ("v3", "anchored")
METHODS = ("json", "bounded_thinking")
# upstream's defaults (validate_persona_axes.py)
THRESHOLDS = {"axis_delta_threshold": 3.0, "min_side_threshold": 0.5, "off_axis_threshold": 2.0,
              "max_word_delta_frac": 0.0}
# bounded thinking: samples per judge call, max_tokens of the thinking phase
DEFAULT_N, DEFAULT_BUDGET = 2, 4096
