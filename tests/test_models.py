import torch

from digitocr.models import build_model, count_parameters, optimize_for_inference, pad_batch


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
