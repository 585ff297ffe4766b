"""The one error type a user sees: printed as one line, exit status 2."""


class UserError(Exception):
    """A problem with the user's input: printed as one line, exit status 2."""
