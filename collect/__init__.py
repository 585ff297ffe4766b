"""`psw collect`: measured runs over any OpenAI-compatible chat-completions API.

plan.py (candidates, sampling, arms, A/B labels, the exact generation messages) ->
run.py (the async loop: generations, order-swapped axis calls, style and confound)
using client.py (cache + HTTP with retries), judges.py (prompt sets, JSON parsing and
validation) and store.py (buffered, idempotent warehouse writes); estimate.py prices a
plan for `--dry-run`. psw/commands/collect.py registers `collect` and `runs`.
"""
