"""Every image decode and encode in one place: paths, bytes, PIL images and arrays in; uint8 arrays out.

Readers of all kinds (the trainer's folders, glyph banks, the reader, servers, screen grabs) get the same
pixels and the same one-line errors for the same input: a file that is empty, truncated, not an image, or a
decompression bomb (checked from the header, before a single pixel is decoded) is a `UserError` naming it.
Plain PNGs go through OpenCV and gray or colour JPEGs through simplejpeg (the same pixels as Pillow's, at a
fraction of the cost on small crops and whole screenshots); every other image, and every damaged one, through
Pillow, which says what is wrong.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import simplejpeg
from PIL import Image

from digitocr.errors import UserError
from digitocr.files import make_folder, write_atomically

ImageSource = str | os.PathLike | bytes | bytearray | memoryview | Image.Image | np.ndarray
MAX_PIXELS = 50_000_000
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif"})
CHANNEL_ORDERS = ("auto", "rgb", "bgr", "rgba", "bgra")
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R 601-2, as PIL's convert("L")
_PNG_COMPRESSION = 1  # fast; files are ~20% larger than at level 6
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def open_image(source: ImageSource, *, name: str | None = None, max_pixels: int = MAX_PIXELS,
               channels: str = "auto") -> np.ndarray:
    """A uint8 array, (H, W) gray or (H, W, 3) RGB, from a path, encoded bytes, a PIL image or an array.

    Arrays may be 2-D gray, (H, W, 1), (H, W, 3) RGB or (H, W, 4); `channels="auto"` reads four channels
    as BGRA, the layout of screen grabs (mss, OpenCV), and "rgb", "bgr", "rgba" or "bgra" says which it
    is. Float arrays hold [0, 1] or [0, 255]; bool arrays are black and white. Transparent pixels are laid
    on the background that contrasts with the opaque ink, so a crop cut out of an overlay still reads.
    """
    if channels not in CHANNEL_ORDERS:
        raise ValueError(f"channels must be one of {', '.join(CHANNEL_ORDERS)}, got {channels!r}")
    if isinstance(source, np.ndarray):
        return _from_array(source, channels, name or "an image array")
    if isinstance(source, Image.Image):
        return _from_pil(source, name or "a PIL image")
    if isinstance(source, bytes | bytearray | memoryview):
        return _decode(io.BytesIO(bytes(source)), name or "image bytes", max_pixels)
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        label = name or str(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise UserError(f"cannot read {label}: no such file") from None
        except IsADirectoryError:
            raise UserError(f"cannot read {label}: it is a folder, not an image") from None
        except OSError as error:
            raise UserError(f"cannot read {label}: {error.strerror or error}") from None
        return _decode(io.BytesIO(data), label, max_pixels)
    raise UserError(f"cannot read {name or 'an image'}: a {type(source).__name__} is not an image "
                    "(give a path, bytes, a PIL image or an array)")


def _decode(data: io.BytesIO, label: str, max_pixels: int) -> np.ndarray:
    encoded = data.getbuffer()
    if not encoded.nbytes:
        raise UserError(f"cannot read {label}: it is empty (0 bytes)")
    plain = _decode_plain_png(encoded, label, max_pixels)
    if plain is None:
        plain = _decode_plain_jpeg(encoded, label, max_pixels)
    del encoded  # Pillow reads the stream below; a live view of its buffer would pin it
    if plain is not None:
        return plain
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit applies instead
        try:
            with Image.open(data) as opened:
                width, height = opened.size  # from the header: nothing is decoded yet
                if width * height > max_pixels:
                    raise UserError(f"cannot read {label}: {width}x{height} pixels is more than the "
                                    f"{max_pixels} allowed (a decompression bomb?)")
                opened.load()
                return _from_pil(opened, label)
        except Image.DecompressionBombError:
            raise UserError(f"cannot read {label}: more pixels than the {max_pixels} allowed "
                            "(a decompression bomb?)") from None
        except (OSError, SyntaxError, ValueError, EOFError) as error:
            reason = "not an image Pillow can decode" if isinstance(error, Image.UnidentifiedImageError) else (
                f"truncated or corrupt image data ({error})")
            raise UserError(f"cannot read {label}: {reason}") from None


def _decode_plain_png(data: memoryview, label: str, max_pixels: int) -> np.ndarray | None:
    """An 8-bit gray or RGB PNG without transparency (what crops and screenshots are) decoded by OpenCV's
    libpng: the same pixels (PNG is lossless) at a third of Pillow's cost on a small crop, which is most of
    a served request. None for any other image, and for data libpng refuses: Pillow then decodes it or
    says what is wrong."""
    if len(data) < 45 or data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR" or data[-8:-4] != b"IEND":
        return None  # not a PNG, or a truncated one
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    if depth != 8 or colour not in (0, 2) or not _png_chunks_intact(data):
        return None
    if width * height > max_pixels:
        raise UserError(f"cannot read {label}: {width}x{height} pixels is more than the "
                        f"{max_pixels} allowed (a decompression bomb?)")
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.shape[:2] != (height, width) or width == 0:
        return None
    return pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)


def _decode_plain_jpeg(data: memoryview, label: str, max_pixels: int) -> np.ndarray | None:
    """A gray or colour (YCbCr, RGB) JPEG decoded by libjpeg-turbo through simplejpeg: the same pixels as
    Pillow's (the same library and methods), straight into an array, where Pillow's copy into numpy costs
    another 40% of a screenshot's decoding (the seed's client sends one per frame). None for any other
    image, and for data libjpeg finds fault with (simplejpeg's strict mode): Pillow then decodes it, or says
    what is wrong."""
    if len(data) < 4 or data[:2] != b"\xff\xd8":
        return None
    try:
        height, width, colour, _ = simplejpeg.decode_jpeg_header(data)
        if colour not in ("Gray", "YCbCr", "RGB"):
            return None
        if width * height > max_pixels:
            raise UserError(f"cannot read {label}: {width}x{height} pixels is more than the "
                            f"{max_pixels} allowed (a decompression bomb?)")
        pixels = simplejpeg.decode_jpeg(data, colorspace="GRAY" if colour == "Gray" else "RGB", strict=True)
    except ValueError:
        return None
    return pixels[:, :, 0] if colour == "Gray" else pixels


def _png_chunks_intact(data: memoryview) -> bool:
    """Every chunk whole with its CRC right, and none of them tRNS (transparency): libpng then decodes it
    without complaint (it prints its errors to stderr, Pillow raises them)."""
    offset = 8
    while offset + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        end = offset + 8 + length
        if kind == b"tRNS" or end + 4 > len(data) or \
                zlib.crc32(data[offset + 4:end]) != struct.unpack(">I", data[end:end + 4])[0]:
            return False
        offset = end + 4
    return offset == len(data)


def _from_pil(image: Image.Image, label: str) -> np.ndarray:
    if image.width == 0 or image.height == 0:
        raise UserError(f"cannot read {label}: the image is empty ({image.width}x{image.height})")
    mode = image.mode
    if mode in ("L", "RGB"):
        return np.asarray(image).copy()
    if mode == "1":
        return np.asarray(image.convert("L")).copy()
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):  # 16-bit PNGs, TIFFs and float images
        values = np.asarray(image, dtype=np.float32)
        return _from_array(values / 257.0 if values.max(initial=0) > 255 else values, "auto", label)
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    if has_alpha:
        return _flatten_alpha(np.asarray(image.convert("RGBA")), label)
    return np.asarray(image.convert("RGB")).copy()


def _from_array(array: np.ndarray, channels: str, label: str) -> np.ndarray:
    if array.ndim not in (2, 3) or array.ndim == 3 and array.shape[2] not in (1, 3, 4):
        raise UserError(f"cannot read {label}: an array of shape {array.shape} is not an image "
                        "(expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4))")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise UserError(f"cannot read {label}: the image is empty ({array.shape[1]}x{array.shape[0]})")
    pixels = _as_uint8(array, label)
    if pixels.ndim == 2:
        return pixels
    count = pixels.shape[2]
    order = channels if channels != "auto" else {1: "gray", 3: "rgb", 4: "bgra"}[count]
    if order == "gray":
        return pixels[:, :, 0]
    if len(order) != count:
        raise UserError(f"cannot read {label}: {count} channels cannot be {order.upper()}")
    if count == 4 and pixels[:, :, 3].min() == 255:  # opaque, as screen grabs are: one pass, no compositing
        return cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_BGRA2RGB if order == "bgra" else cv2.COLOR_RGBA2RGB)
    if order.startswith("bgr"):
        pixels = pixels[:, :, [2, 1, 0, 3][:count]]
    return _flatten_alpha(pixels, label) if count == 4 else np.ascontiguousarray(pixels)


def _as_uint8(array: np.ndarray, label: str) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * np.uint8(255)
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise UserError(f"cannot read {label}: the image holds NaN or infinite values")
        scale = 255.0 if array.max(initial=0) <= 1.0 else 1.0
        return np.clip(np.rint(array * scale), 0, 255).astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer) and array.size and 0 <= array.min() and array.max() <= 255:
        return array.astype(np.uint8)
    raise UserError(f"cannot read {label}: {array.dtype} pixels are not supported "
                    "(use uint8, bool, floats in [0, 1] or [0, 255], or whole numbers 0-255)")


def _flatten_alpha(rgba: np.ndarray, label: str) -> np.ndarray:
    """RGBA laid on white when the opaque ink is dark, on black when it is light."""
    alpha = rgba[:, :, 3:].astype(np.float32) * np.float32(1 / 255)
    rgb = rgba[:, :, :3].astype(np.float32)
    if alpha.min() >= 1.0:
        return np.ascontiguousarray(rgba[:, :, :3])
    weight = alpha[:, :, 0]
    total = float(weight.sum())
    ink_luma = float((rgb @ _LUMA * weight).sum() / total) if total > 0 else 0.0
    background = np.float32(255.0 if ink_luma < 128 else 0.0)
    return np.rint(rgb * alpha + background * (1 - alpha)).astype(np.uint8)


def encode_image(pixels: np.ndarray, extension: str, quality: int = 95) -> bytes:
    """File bytes for a uint8 picture ((H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA) in the format of
    `extension` ("png", ".jpg", ...). PNGs use fast compression; JPEGs the given quality."""
    extension = extension.lower().lstrip(".")
    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3):
        raise ValueError(f"expected a uint8 picture, got {pixels.dtype} of shape {pixels.shape}")
    params = ([cv2.IMWRITE_PNG_COMPRESSION, _PNG_COMPRESSION] if extension == "png"
              else [cv2.IMWRITE_JPEG_QUALITY, quality] if extension in ("jpg", "jpeg")
              else [cv2.IMWRITE_WEBP_QUALITY, quality] if extension == "webp" else [])
    if pixels.ndim == 3:  # OpenCV's codecs take BGR(A)
        pixels = pixels[:, :, [2, 1, 0, 3][:pixels.shape[2]]] if pixels.shape[2] in (3, 4) else pixels[:, :, 0]
    try:
        ok, encoded = cv2.imencode(f".{extension}", pixels, params)
    except cv2.error:
        ok = False
    if not ok:
        raise UserError(f"cannot encode images as .{extension}")
    return encoded.tobytes()


def save_image(image: np.ndarray | Image.Image, path: Path | str, quality: int = 95) -> Path:
    """A picture (array or PIL image) written atomically in the format its suffix names, creating the
    folder; returns the path."""
    path = Path(path)
    if isinstance(image, Image.Image):
        image = np.asarray(image if image.mode in ("L", "RGB", "RGBA") else image.convert("RGB"))
    make_folder(path.parent)
    write_atomically(path, encode_image(image, path.suffix or ".png", quality))
    return path
