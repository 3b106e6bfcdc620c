"""The one error type for user mistakes: the CLI prints it as one line and exits 2."""


class UserError(Exception):
    """A mistake in what the user asked for (bad option, missing file, unknown font)."""
