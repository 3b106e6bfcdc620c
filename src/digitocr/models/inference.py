"""A trained network rearranged for inference: the same outputs, about twice as fast on a CPU."""

from __future__ import annotations

import copy
from typing import TypeVar, cast

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

ModelT = TypeVar("ModelT", bound=nn.Module)


class PairMaxPool(nn.Module):
    """`nn.MaxPool2d` with kernel = stride = 2 along the height and/or width, as maxima of strided views.

    The same values, several times faster than `nn.MaxPool2d` on channels-last CPU tensors.
    """

    def __init__(self, pool_height: bool, pool_width: bool) -> None:
        super().__init__()
        self.pool_height = pool_height
        self.pool_width = pool_width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool_height:
            rows = x.shape[2] // 2 * 2  # an odd last row is dropped, as by MaxPool2d
            x = torch.maximum(x[:, :, 0:rows:2], x[:, :, 1:rows:2])
        if self.pool_width:
            cols = x.shape[3] // 2 * 2
            x = torch.maximum(x[:, :, :, 0:cols:2], x[:, :, :, 1:cols:2])
        return x


def _pair(value: int | tuple[int, ...]) -> tuple[int, ...]:
    return value if isinstance(value, tuple) else (value, value)


def _as_pair_max_pool(module: nn.Module) -> PairMaxPool | None:
    """The `PairMaxPool` computing the same as `module`, if it is a max pooling of that simple kind."""
    if not isinstance(module, nn.MaxPool2d) or module.return_indices or module.ceil_mode:
        return None
    kernel = _pair(module.kernel_size)
    if (kernel != _pair(module.stride) or not {*kernel} <= {1, 2}
            or _pair(module.padding) != (0, 0) or _pair(module.dilation) != (1, 1)):
        return None
    return PairMaxPool(kernel[0] == 2, kernel[1] == 2)


def _optimized_sequence(layers: nn.Sequential) -> nn.Sequential:
    """Fold each BatchNorm into the convolution before it, and pool before the ReLU that precedes the pooling
    (they commute, and the ReLU then touches a quarter of the values)."""
    optimized: list[nn.Module] = []
    for layer in layers:
        pool = _as_pair_max_pool(layer)
        if isinstance(layer, nn.BatchNorm2d) and optimized and isinstance(optimized[-1], nn.Conv2d):
            optimized[-1] = fuse_conv_bn_eval(optimized[-1], layer)
        elif pool is not None and optimized and isinstance(optimized[-1], nn.ReLU):
            optimized.insert(-1, pool)
        else:
            optimized.append(_optimized(pool or layer))
    return nn.Sequential(*optimized)


def _optimized(module: nn.Module) -> nn.Module:
    """`module` with every sequence inside it (itself included) optimized; modified in place where it can be."""
    if isinstance(module, nn.Sequential):
        return _optimized_sequence(module)
    for name, child in module.named_children():
        setattr(module, name, _optimized(child))
    return module


def optimize_for_inference(model: ModelT) -> ModelT:
    """The same network rearranged for speed (about 2x): BatchNorm folded into convolutions, faster pooling
    before the ReLU, channels-last.

    Works on a copy; the result is for inference only.
    """
    optimized = _optimized(copy.deepcopy(model).eval())
    return cast(ModelT, optimized.to(memory_format=torch.channels_last))  # type: ignore[call-overload]
