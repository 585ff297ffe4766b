"""The chat messages stored with each pole of a pair (raw.pairs.pos_messages / neg_messages).

A JSON list of `{role, content}` objects: exactly what was sent to generate that pole, so
`psw extract` teacher-forces the prompt that produced the response. Writers record it;
nobody reconstructs it. A source that names only the generation prompt sent it as one
user turn (upstream's layout).
"""

from __future__ import annotations

import json
from typing import Any

from warehouse.errors import UserError

ROLES = ("system", "user", "assistant")


def user_turn(generation_prompt: Any) -> list[dict] | None:
    """The messages of a recorded generation prompt; None when there is none."""
    if not isinstance(generation_prompt, str) or not generation_prompt:
        return None
    return [{"role": "user", "content": generation_prompt}]


def parse_messages(value: Any, where: str) -> list[dict] | None:
    """Stored messages (JSON text or a parsed list) checked; None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise UserError(f"{where}: messages are not valid JSON ({exc})") from None
    if not isinstance(value, list) or not value:
        raise UserError(f"{where}: messages must be a non-empty list of {{role, content}} objects")
    for index, message in enumerate(value):
        if not isinstance(message, dict) or message.get("role") not in ROLES \
                or not isinstance(message.get("content"), str):
            raise UserError(f"{where}: message {index} needs a role ({'|'.join(ROLES)}) and a string content")
    return [{"role": m["role"], "content": m["content"]} for m in value]


def messages_json(value: Any, where: str) -> str | None:
    """Stored messages checked and written back as JSON text (null stays null)."""
    messages = parse_messages(value, where)
    return None if messages is None else json.dumps(messages)
