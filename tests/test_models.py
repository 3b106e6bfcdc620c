import numpy as np
import pytest
import torch

from digitocr.charset import Charset
from digitocr.ctc import frames_needed, min_widths
from digitocr.data import Batch
from digitocr.modelio import load_model, save_model
from digitocr.models import (
    ARCHITECTURES,
    PairMaxPool,
    Recognizer,
    architecture_name,
    build_model,
    count_parameters,
    optimize_for_inference,
    pad_batch,
)
from digitocr.preprocess import Preprocess
from digitocr.train import train_step


def multiply_adds(model: torch.nn.Module, images: torch.Tensor) -> int:
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            total += output[0].numel() * module.in_channels * module.kernel_size[0] * module.kernel_size[1]
        elif isinstance(module, torch.nn.Linear):
            total += output.numel() * module.in_features
        elif isinstance(module, torch.nn.LSTM):
            steps, hidden = inputs[0].shape[0], module.hidden_size
            total += steps * 2 * 4 * hidden * (module.input_size + hidden)

    hooks = [module.register_forward_hook(count) for module in model.modules()]
    model(images)
    for hook in hooks:
        hook.remove()
    return total


def test_tiny_meets_its_budget_and_gives_a_step_per_four_columns():
    model = build_model("tiny", 11).eval()
    assert count_parameters(model) <= 1_000_000
    assert 2 * multiply_adds(model, torch.zeros(1, 1, 32, 100)) <= 40_000_000  # FLOPs = 2 x MACs
    output = model(torch.zeros(3, 1, 32, 100))
    assert output.shape == (25, 3, 11)
    assert torch.allclose(output.exp().sum(2), torch.ones(25, 3), atol=1e-5)


@pytest.mark.parametrize("architecture", ["strided", "conv"])
def test_strided_networks_cost_two_thirds_of_tiny_at_the_same_widths(architecture):
    """`conv` (the general model's network) and `strided`: within 1.3x the default tiny's arithmetic (issue 11
    allows 2x); conv's convolutions over time cost what strided's BiLSTM does."""
    crop = torch.zeros(1, 1, 32, 100)
    model = build_model(architecture, 17).eval()
    wide_tiny = build_model("tiny", 17, channels=model.config["channels"], hidden=model.config["hidden"]).eval()
    assert multiply_adds(model, crop) <= 0.7 * multiply_adds(wide_tiny, crop)
    assert multiply_adds(model, crop) <= 1.3 * multiply_adds(build_model("tiny", 17).eval(), crop)
    assert model(crop).shape[0] == 25 and int(model.output_lengths(torch.tensor([103]))) == 25


def test_conv_reads_each_step_from_its_neighbourhood_only():
    """`conv` has no recurrence: a step's output depends on the columns around it and on nothing further (a
    change from step 30 on reaches back six steps), while `strided`'s BiLSTM carries the last columns back to
    the first step."""
    torch.manual_seed(0)
    crop = torch.rand(1, 1, 32, 200)
    changed = crop.clone()
    changed[..., 120:] = torch.rand(1, 1, 32, 80)  # from step 30 on

    def changed_steps(architecture: str) -> list[int]:
        model = build_model(architecture, 17).eval()
        with torch.inference_mode():
            return ((model(crop) - model(changed)).abs().amax(dim=(1, 2)) > 0).nonzero().ravel().tolist()

    assert changed_steps("conv") == list(range(24, 50))
    assert changed_steps("strided")[0] == 0


def test_crnn_is_the_seeds_network():
    model = build_model("crnn", 11)
    assert 8_200_000 < count_parameters(model) < 8_400_000
    assert model(torch.zeros(1, 1, 32, 100)).shape[0] == 26


def test_padding_and_inference_folding_keep_the_outputs():
    model = build_model("tiny", 11).eval()
    for module in model.modules():  # give the batch norms something to fold
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    crops = [torch.rand(32, 40).numpy(), torch.rand(32, 64).numpy()]
    images, widths = pad_batch(crops)
    assert images.shape == (2, 1, 32, 64) and widths.tolist() == [40, 64]
    assert float(images[0, 0, :, 40:].min()) == 1.0  # padded with the background value
    with torch.inference_mode():
        assert torch.allclose(model(images), optimize_for_inference(model)(images), atol=1e-4)


def test_pair_max_pool_equals_max_pool_and_replaces_only_what_it_can():
    images = torch.randn(2, 3, 7, 9).contiguous(memory_format=torch.channels_last)  # odd sizes drop a row/column
    for kernel, pool_height, pool_width in [(2, True, True), ((2, 1), True, False), ((1, 2), False, True)]:
        assert torch.equal(PairMaxPool(pool_height, pool_width)(images), torch.nn.MaxPool2d(kernel, kernel)(images))
    crnn = build_model("crnn", 11).eval()
    optimized = optimize_for_inference(crnn)
    kinds = [type(layer).__name__ for layer in optimized.cnn]
    assert kinds.count("PairMaxPool") == 2 and kinds.count("MaxPool2d") == 2  # padded pools stay as they are
    assert "BatchNorm2d" not in kinds and kinds.index("PairMaxPool") < kinds.index("ReLU")
    with torch.inference_mode():
        crops = torch.rand(2, 1, 32, 41)
        assert torch.allclose(crnn(crops), optimized(crops), atol=1e-4)


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_every_architecture_keeps_the_recognizer_contract(architecture, tmp_path):
    """What training, reading, export and model folders rely on (digitocr.models.base), for every network."""
    charset = Charset()
    torch.manual_seed(0)
    model = build_model(architecture, charset.num_classes)
    assert isinstance(model, Recognizer) and architecture_name(model) == architecture
    assert model.time_stride >= 1 and model.input_height == model.config["height"]
    model.eval()
    for module in model.modules():  # batch norms with statistics worth folding
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    with torch.inference_mode():
        for width in (16, 37, 100):  # shapes and lengths: one step per stride, as output_lengths says
            output = model(torch.rand(2, 1, model.input_height, width))
            assert output.shape[1:] == (2, charset.num_classes)
            assert int(model.output_lengths(torch.tensor([width]))) == output.shape[0]
            assert torch.allclose(output.exp().sum(2), torch.ones(output.shape[:2]), atol=1e-4)
        for label in ("7", "1100", "99999"):
            width = min_widths([label], model.time_stride)[0]
            assert int(model.output_lengths(torch.tensor([width]))) > frames_needed(label)
        images = torch.rand(3, 1, model.input_height, 53)
        assert torch.allclose(model(images), optimize_for_inference(model)(images), atol=1e-4)
    save_model(tmp_path / "model", model, {"charset": charset.chars, "preprocess": Preprocess().to_mapping()})
    loaded = load_model(tmp_path / "model")
    assert type(loaded.model) is type(model) and loaded.model.config == model.config
    with torch.inference_mode():
        assert torch.equal(loaded.model(images), model(images))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    crops = [np.full((model.input_height, 8 * len(label)), 255, np.uint8) for label in ("12", "3", "4455")]
    loss, predictions = train_step(model, optimizer, Batch(crops, ["12", "3", "4455"]), charset,
                                   torch.device("cpu"), grad_clip=5.0)
    assert loss is not None and np.isfinite(loss) and len(predictions) == 3
