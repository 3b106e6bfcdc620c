"""Running a child process without root's power to write anywhere, for tests of unwritable outputs."""

import os


def without_root_powers() -> list[str]:
    """A command prefix that runs a child without root's power to write anywhere (when the tests run as root),
    still as root, so it reaches the interpreter wherever the checkout lies (under /root too)."""
    if os.geteuid() != 0:
        return []
    powers = "-dac_override,-dac_read_search,-fowner"
    return ["setpriv", f"--inh-caps={powers}", f"--bounding-set={powers}", "--"]
