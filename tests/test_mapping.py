"""digitocr.mapping: one typed (de)serialiser for every stored configuration."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from digitocr.data import Augment, DataSpec, SyntheticStream
from digitocr.errors import UserError
from digitocr.mapping import Mapped, field_default, from_mapping, to_mapping
from digitocr.preprocess import Preprocess
from digitocr.train_config import TrainConfig


@dataclass
class Inner:
    pair: tuple[int, float] = (1, 2.0)
    kind: Literal["a", "b"] = "a"


@dataclass
class Outer(Mapped):
    path: Path
    inner: Inner = field(default_factory=Inner)
    optional: Inner | None = None
    many: list[tuple[str, float]] = field(default_factory=list)
    table: dict[str, int] = field(default_factory=dict)
    rest: tuple[int, ...] = ()


def test_round_trip_through_json_keeps_types() -> None:
    value = Outer(Path("runs/a"), Inner((3, 0.5), "b"), Inner(), [("x", 1.0)], {"k": 2}, (1, 2, 3))
    document = json.loads(json.dumps(value.to_mapping()))
    assert document["path"] == "runs/a" and document["inner"]["pair"] == [3, 0.5]
    assert Outer.from_mapping(document) == value
    assert Outer.from_mapping({"path": "p"}) == Outer(Path("p"))  # absent fields take their defaults


@pytest.mark.parametrize(("mapping", "message"), [
    ({"path": "p", "colour": 1}, "unknown Outer option"),
    ({"path": 3}, "Outer: path: expected Path"),
    ({"path": "p", "inner": {"pair": [1]}}, "expected 2 values"),
    ({"path": "p", "inner": {"pair": [1, "x"]}}, "expected float"),
    ({"path": "p", "inner": {"kind": "c"}}, "expected one of 'a', 'b'"),
    ({"path": "p", "many": "x"}, "expected a list"),
    ({"path": "p", "table": {"k": True}}, "expected int"),
    ([1, 2], "expected a table"),
])
def test_bad_values_are_one_line_errors_naming_the_field(mapping, message) -> None:
    with pytest.raises(UserError, match=message):
        Outer.from_mapping(mapping)


def test_train_config_round_trip_with_typed_data() -> None:
    spec = DataSpec(folders=[("data", 2.0)], streams=[SyntheticStream("bank", {"height": 40}, 0.5, 0.25)],
                    validation="synthetic+folders")
    config = TrainConfig(Path("runs/x"), preprocess=Preprocess(binarize=True), augment=Augment(0.3), data=spec)
    assert TrainConfig.from_mapping(json.loads(json.dumps(config.to_mapping()))) == config
    assert TrainConfig(Path("r"), augment=None).to_mapping()["augment"] is None
    assert TrainConfig(Path("r"), data=spec.to_mapping()).data == spec  # the mapping form still works


def test_release_0_1_0_training_configuration_still_reads(release_model_dir: Path) -> None:
    training = json.loads((release_model_dir / "model.json").read_text(encoding="utf-8"))["training"]
    config = from_mapping(TrainConfig, training)
    assert config.data.synthetic == [("--label-length 1-3", 1.0)] and config.steps == 3
    assert to_mapping(config.preprocess) == {**training["preprocess"], "width_step": 4}  # a later option: its default


def test_cli_defaults_come_from_the_dataclasses() -> None:
    from digitocr.cli import build_parser

    args = build_parser("train").parse_args(["train"])
    assert args.batch_size == field_default(TrainConfig, "batch_size")
    assert args.lr == field_default(TrainConfig, "lr") and args.val_size == DataSpec().val_size
    assert args.aug_prob == Augment().probability
    with pytest.raises(ValueError):
        field_default(TrainConfig, "run_dir")
