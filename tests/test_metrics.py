import pytest

from digitocr.metrics import align, character_accuracy, confusions, sample_character_accuracy, word_accuracy


@pytest.mark.parametrize(("read", "label", "expected"), [
    ("151", "151", 100.0),
    ("51", "151", 100 * (1 - 1 / 3)),     # one deletion out of three characters
    ("", "151", 0.0),                     # empty reading: edit distance = label length
    ("15111", "151", 100 * (1 - 2 / 3)),  # reading longer than the label
    ("987654", "12", 0.0),                # more edits than characters: clipped at 0, never negative
    ("", "", 100.0),
])
def test_seed_character_accuracy_per_image(read, label, expected):
    assert sample_character_accuracy(read, label) == pytest.approx(expected)


def test_means_over_images_match_the_seed_lines():
    reads, labels = ["151", "51", "", "4561"], ["151", "151", "17", "4561"]
    assert character_accuracy(reads, labels) == pytest.approx((100 + 200 / 3 + 0 + 100) / 4)
    assert word_accuracy(reads, labels) == 0.5


def test_confusions_name_substitutions_deletions_and_insertions():
    assert align("59", "49") == [("4", "5"), ("9", "9")]
    counts = confusions(["59", "7", "5491"], ["49", "17", "549"])
    assert counts == {("4", "5"): 1, ("1", ""): 1, ("", "1"): 1}


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError):
        word_accuracy(["1"], [])
