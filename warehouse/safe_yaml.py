"""YAML as plain data: safe_load semantics (no tags, no objects) and no aliases.

An alias (`*name`) repeats a node by reference: a 400-byte document of nested aliases expands
to gigabytes once its values are copied (json.dumps, a walk). Data files never need one, so the
first alias refuses the document, naming its line, before anything is built."""

from __future__ import annotations

import yaml
from yaml.composer import ComposerError
from yaml.events import AliasEvent


class NoAliasLoader(yaml.SafeLoader):
    def compose_node(self, parent, index):
        if self.check_event(AliasEvent):
            event = self.peek_event()
            raise ComposerError(None, None, f"aliases are not allowed (*{event.anchor})", event.start_mark)
        return super().compose_node(parent, index)


def load(text: str):
    """The document's data; yaml.YAMLError (with problem_mark) on bad YAML or an alias."""
    return yaml.load(text, Loader=NoAliasLoader)


def compose(text: str):
    """The document's node tree (for line numbers), refusing aliases as `load` does."""
    return yaml.compose(text, Loader=NoAliasLoader)
