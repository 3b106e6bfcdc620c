import json

import pytest
import torch
from model_folders import saved_model

from digitocr.errors import UserError
from digitocr.modelio import load_model
from digitocr.preprocess import Preprocess


def test_round_trip_keeps_weights_and_metadata(tmp_path):
    model = saved_model(tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    images = torch.rand(2, 1, 32, 48)
    with torch.inference_mode():
        assert torch.equal(model(images), loaded.model(images))
    assert loaded.preprocess == Preprocess(binarize=True)
    assert loaded.charset.chars == "0123456789"
    meta = json.loads((tmp_path / "model" / "model.json").read_text())
    assert meta["architecture"] == "tiny" and meta["input_height"] == 32 and "digitocr_version" in meta
    assert not list((tmp_path / "model").glob(".*"))  # no temporary files left behind


def test_missing_files_and_mismatches_are_one_line_errors(tmp_path):
    with pytest.raises(UserError, match="no model folder"):
        load_model(tmp_path / "absent")
    saved_model(tmp_path / "model")
    with pytest.raises(UserError, match="reads '0123456789', not '0123456789.'"):
        load_model(tmp_path / "model", expected_charset="0123456789.")
    meta_path = tmp_path / "model" / "model.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "charset": "0123456789-"}))
    with pytest.raises(UserError, match="does not match model.json"):
        load_model(tmp_path / "model")
    meta_path.write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        load_model(tmp_path / "model")
    (tmp_path / "model" / "model.safetensors").unlink()
    with pytest.raises(UserError, match="model.safetensors is missing"):
        load_model(tmp_path / "model")


def test_a_corrupt_weights_file_is_refused_not_unpickled(tmp_path):
    saved_model(tmp_path / "model")
    (tmp_path / "model" / "model.safetensors").write_bytes(b"\x80\x04K\x01.")  # a pickle, not safetensors
    with pytest.raises(UserError, match="cannot read"):
        load_model(tmp_path / "model")


def test_model_folders_of_release_0_1_0_still_load(release_model_dir):
    """The folder was written by release 0.1.0 (`digitocr train --steps 3`): it must keep loading, and give
    the same outputs, whatever the configuration and model code become."""
    import numpy as np

    expected = np.load(release_model_dir / "expected.npz")
    loaded = load_model(release_model_dir)
    assert loaded.charset.chars == "0123456789" and loaded.preprocess == Preprocess()
    with torch.inference_mode():
        log_probs = loaded.model(torch.from_numpy(expected["images"])).numpy()
    np.testing.assert_allclose(log_probs, expected["log_probs"], rtol=1e-5, atol=1e-5)


def test_non_finite_weights_and_wrongly_typed_model_json_are_refused(tmp_path):
    from safetensors.torch import load_file, save_file

    saved_model(tmp_path / "model")
    weights = tmp_path / "model" / "model.safetensors"
    tensors = load_file(str(weights))
    name = min(tensors)
    tensors[name] = torch.full_like(tensors[name], float("nan"))
    save_file(tensors, str(weights))
    with pytest.raises(UserError, match="NaN or infinite weights .*diverged"):
        load_model(tmp_path / "model")
    saved_model(tmp_path / "model")
    meta_path = tmp_path / "model" / "model.json"
    meta = json.loads(meta_path.read_text())
    for key, value, message in (("architecture_options", [1], "architecture_options must be a JSON object"),
                                ("charset", 5, "charset must be a string"),
                                ("preprocess", {"height": "tall"}, "preprocess: height: expected int"),
                                ("architecture_options", {"height": 33}, "bad options for architecture")):
        meta_path.write_text(json.dumps({**meta, key: value}))
        with pytest.raises(UserError, match=message):
            load_model(tmp_path / "model")
    meta_path.write_text("[1, 2]")
    with pytest.raises(UserError, match="must hold a JSON object"):
        load_model(tmp_path / "model")


def test_saving_new_weights_drops_an_export_of_the_old_ones(tmp_path):
    saved_model(tmp_path / "model")
    (tmp_path / "model" / "model.onnx").write_bytes(b"an export of earlier weights")
    saved_model(tmp_path / "model")  # trained again, e.g. `fit --overwrite` into the same folder
    assert not (tmp_path / "model" / "model.onnx").exists()
