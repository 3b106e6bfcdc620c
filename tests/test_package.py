"""The package's public surface and the CLI dispatcher."""

import subprocess
import sys

import pytest

import digitocr
from digitocr.cli import main


def test_every_public_name_resolves() -> None:
    for name in digitocr.__all__:
        assert getattr(digitocr, name) is not None


def test_unknown_public_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        digitocr.no_such_thing  # noqa: B018


def test_import_does_not_load_torch() -> None:
    code = "import digitocr, digitocr.cli, sys; digitocr.cli.build_parser(); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_unknown_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["no-such-command"])
    assert stopped.value.code == 2
