"""The one error type a user sees: printed as one line, exit status 2."""


class UserError(Exception):
    """A problem with the user's input: printed as one line, exit status 2."""


def missing_api_key(env_name: str | None, base_url: str) -> UserError:
    """The one line a user sees when an endpoint needs a key and the environment holds none."""
    if not env_name:
        return UserError(f"--api-key-env: {base_url} needs an API key; name the variable holding it "
                         "with --api-key-env NAME")
    return UserError(f"environment variable {env_name} is not set, and {base_url} needs an API key: "
                     f"`export {env_name}=...` (or name another variable with --api-key-env NAME)")


def one_line(text: object) -> str:
    """`text` with its control characters escaped (`\\x0a`): a file name or a value holding a
    newline or a terminal escape sequence stays one line and cannot drive the terminal."""
    import re

    return re.sub(r"[\x00-\x1f\x7f-\x9f]", lambda m: f"\\x{ord(m.group()):02x}", str(text))
