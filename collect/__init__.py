"""`psw collect`: measured runs over any OpenAI-compatible chat-completions API.

plan.py (candidates, sampling, A/B labels) -> run.py (the async loop) using
client.py (cache + HTTP with retries), judges.py (prompts, JSON parsing and
validation) and store.py (buffered, idempotent warehouse writes). cli.py registers
`collect` and `runs`.
"""
