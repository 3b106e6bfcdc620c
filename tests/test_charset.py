import pytest

from digitocr.charset import Charset
from digitocr.errors import UserError


def test_blank_is_class_zero_and_digits_follow():
    charset = Charset("0123456789")
    assert charset.num_classes == 11
    assert charset.encode("109") == [2, 1, 10]


def test_characters_outside_the_charset_are_a_user_error():
    with pytest.raises(UserError, match="outside the charset"):
        Charset("0123456789").encode("12a")
    with pytest.raises(UserError):
        Charset("00")
