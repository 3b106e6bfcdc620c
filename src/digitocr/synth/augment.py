"""Effects on a finished picture: blur, JPEG degradation, inversion and thresholding.

They run after the text is drawn, in the order a real crop goes through them: the display and camera
blur it, compression degrades it, and a refinement step (the seed's) may invert and threshold it.
"""

from __future__ import annotations

import cv2
import numpy as np


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; `sigma` is PIL's GaussianBlur radius (TRDG's `-bl`)."""
    if sigma <= 0:
        return image
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Round and clip a float picture to 8 bits; drop a single channel axis."""
    rounded = image + 0.5
    np.clip(rounded, 0, 255, out=rounded)
    pixels = rounded.astype(np.uint8)
    return pixels[:, :, 0] if pixels.ndim == 3 and pixels.shape[2] == 1 else pixels


def jpeg_degrade(image: np.ndarray, quality: int) -> np.ndarray:
    """The picture after a JPEG round trip at `quality` (1-100): blocks and ringing, as a stream shows."""
    color = image.ndim == 3
    _, encoded = cv2.imencode(".jpg", image[:, :, ::-1] if color else image,  # OpenCV codecs use BGR
                              [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR if color else cv2.IMREAD_GRAYSCALE)
    assert decoded is not None  # a JPEG just encoded in memory
    return np.ascontiguousarray(decoded[:, :, ::-1]) if color else decoded


def to_gray(image: np.ndarray) -> np.ndarray:
    """8-bit luma of an RGB picture (a gray one passes through)."""
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def binarize(image: np.ndarray, threshold: int | None) -> np.ndarray:
    """Pixels brighter than `threshold` become 255, the rest 0; `None` picks it by Otsu's method."""
    gray = to_gray(image)
    if threshold is None:
        _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    else:
        _, binary = cv2.threshold(gray, int(threshold), 255, cv2.THRESH_BINARY)
    return binary if image.ndim == 2 else np.repeat(binary[:, :, None], image.shape[2], axis=2)
