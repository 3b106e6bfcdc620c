"""digitocr.images: every way in gives the same pixels, every bad input the same kind of one-line error."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitocr.errors import UserError
from digitocr.images import IMAGE_EXTENSIONS, encode_image, open_image, save_image


def gradient(channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(12, 20, channels), dtype=np.uint8)
    return pixels[:, :, 0] if channels == 1 else pixels


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_paths_bytes_pil_and_arrays_give_the_same_pixels(tmp_path: Path) -> None:
    rgb = gradient()
    path = tmp_path / "crop.png"
    Image.fromarray(rgb).save(path)
    for source in (path, str(path), path.read_bytes(), bytearray(path.read_bytes()),
                   memoryview(path.read_bytes()), Image.fromarray(rgb), rgb, rgb[:, :, ::-1].copy()):
        channels = "bgr" if isinstance(source, np.ndarray) and source is not rgb else "auto"
        pixels = open_image(source, channels=channels)
        assert pixels.dtype == np.uint8 and np.array_equal(pixels, rgb)


@pytest.mark.parametrize("mode", ["L", "RGB", "P", "LA", "RGBA", "I;16"])
@pytest.mark.parametrize("transparency", [False, True])
def test_png_pixels_are_pillows_whichever_decoder_takes_them(mode: str, transparency: bool) -> None:
    """Plain 8-bit gray and RGB PNGs go through OpenCV (fast), the rest through Pillow: the same pixels."""
    image = Image.fromarray(gradient()).convert(mode)
    if transparency and mode in ("L", "RGB", "P"):
        image.info["transparency"] = 0 if mode in ("L", "P") else (0, 0, 0)
    data = io.BytesIO()
    image.save(data, format="PNG", transparency=image.info.get("transparency"))
    expected = open_image(Image.open(io.BytesIO(data.getvalue())))
    assert np.array_equal(open_image(data.getvalue()), expected)


@pytest.mark.parametrize("mode", ["L", "RGB", "CMYK"])
def test_jpeg_pixels_are_pillows_whichever_decoder_takes_them(mode: str) -> None:
    """Gray and colour JPEGs go through simplejpeg (fast), CMYK ones through Pillow: the same pixels."""
    data = io.BytesIO()
    Image.fromarray(np.kron(gradient(), np.ones((4, 4, 1), np.uint8))).convert(mode).save(data, format="JPEG")
    expected = open_image(Image.open(io.BytesIO(data.getvalue())))
    assert np.array_equal(open_image(data.getvalue()), expected)


@pytest.mark.parametrize("kind", ["PNG", "JPEG"])
def test_corrupt_images_are_one_line_errors_and_print_nothing(kind: str, capfd: pytest.CaptureFixture[str]) -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.kron(gradient(), np.ones((3, 3, 1), np.uint8))).save(buffer, format=kind)
    whole = bytearray(buffer.getvalue())
    rng = np.random.default_rng(3)
    for _ in range(200):
        broken = bytearray(whole)
        broken[int(rng.integers(8, len(whole)))] ^= int(rng.integers(1, 256))
        try:
            open_image(bytes(broken))
        except UserError as error:
            assert str(error).startswith("cannot read image bytes: ") and "\n" not in str(error)
    assert capfd.readouterr() == ("", "")  # libpng's and libjpeg's own complaints would land on stderr


def test_gray_forms() -> None:
    gray = gradient(1)
    assert np.array_equal(open_image(gray), gray)
    assert np.array_equal(open_image(gray[:, :, None]), gray)
    assert np.array_equal(open_image(Image.fromarray(gray)), gray)
    assert np.array_equal(open_image(gray.astype(np.float32) / 255), gray)
    assert np.array_equal(open_image(gray.astype(np.float64)), gray)
    assert np.array_equal(open_image(gray.astype(np.int64)), gray)
    assert np.array_equal(open_image(np.array([[True, False]])), np.array([[255, 0]], np.uint8))
    assert np.array_equal(open_image(Image.fromarray(gray).convert("1", dither=Image.Dither.NONE)), np.where(gray >= 128, 255, 0))
    sixteen = Image.fromarray(gray.astype(np.uint16) * 257)
    assert np.array_equal(open_image(png_bytes(sixteen)), gray)


def test_four_channels_are_bgra_unless_told_and_alpha_lies_on_a_contrasting_ground() -> None:
    bgra = np.zeros((4, 6, 4), np.uint8)
    bgra[:, :, 0] = 200  # blue in BGRA
    bgra[:, :, 3] = 255
    assert open_image(bgra)[0, 0].tolist() == [0, 0, 200]
    assert open_image(bgra, channels="rgba")[0, 0].tolist() == [200, 0, 0]
    # black ink on a transparent ground lands on white; white ink on a transparent ground on black
    for ink, ground in ((0, 255), (255, 0)):
        rgba = np.zeros((8, 8, 4), np.uint8)
        rgba[2:6, 2:6] = (ink, ink, ink, 255)
        pixels = open_image(Image.fromarray(rgba, "RGBA"))
        assert pixels[0, 0].tolist() == [ground] * 3 and pixels[3, 3].tolist() == [ink] * 3
        assert np.array_equal(open_image(png_bytes(Image.fromarray(rgba, "RGBA"))), pixels)
    with pytest.raises(UserError, match="3 channels cannot be RGBA"):
        open_image(gradient(), channels="rgba")


@pytest.mark.parametrize(("data", "message"), [
    (b"", "empty"),
    (b"this is not an image", "not an image Pillow can decode"),
])
def test_bad_bytes_are_user_errors_naming_the_source(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "bad.png"
    path.write_bytes(data)
    with pytest.raises(UserError, match=f"cannot read {path}: .*{message}"):
        open_image(path)
    with pytest.raises(UserError, match=f"cannot read image bytes: .*{message}"):
        open_image(data)
    with pytest.raises(UserError, match=f"cannot read upload.png: .*{message}"):
        open_image(data, name="upload.png")


def test_truncated_missing_and_folder_paths(tmp_path: Path) -> None:
    whole = png_bytes(Image.fromarray(gradient()))
    with pytest.raises(UserError, match="cannot read image bytes: truncated or corrupt"):
        open_image(whole[: len(whole) // 2])
    with pytest.raises(UserError, match="no such file"):
        open_image(tmp_path / "absent.png")
    with pytest.raises(UserError, match="is a folder"):
        open_image(tmp_path)


def test_decompression_bombs_are_refused_from_the_header() -> None:
    """A PNG header claiming 100000 x 100000 pixels with almost no data: refused before any decoding."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    def bomb(side: int, colour: int = 0) -> bytes:  # gray (decoded by OpenCV), or RGBA (6: by Pillow)
        header = struct.pack(">IIBBBBB", side, side, 8, colour, 0, 0, 0)
        data = zlib.compress(b"\0" * 100)
        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")

    for colour in (0, 6):
        with pytest.raises(UserError, match="8000x8000 pixels is more than the 50000000 allowed"):
            open_image(bomb(8000, colour))
    with pytest.raises(UserError, match="100000x100000 pixels is more than the 50000000 allowed"):
        open_image(bomb(100_000))
    with pytest.raises(UserError, match="more pixels than the 50000000 allowed"):
        open_image(bomb(100_000, 6))  # so many that Pillow itself refuses at the header
    small = png_bytes(Image.fromarray(gradient()))
    with pytest.raises(UserError, match="more than the 100 allowed"):
        open_image(small, max_pixels=100)


@pytest.mark.parametrize("array", [
    np.zeros((0, 5), np.uint8), np.zeros((3, 4, 2), np.uint8), np.zeros((2, 2, 2, 2), np.uint8),
    np.zeros(5, np.uint8), np.full((2, 2), np.nan), np.full((2, 2), 1000, np.int32),
    np.zeros((2, 2), np.complex64),
])
def test_unsupported_arrays(array: np.ndarray) -> None:
    with pytest.raises(UserError, match="cannot read an image array"):
        open_image(array)


def test_not_an_image_at_all() -> None:
    with pytest.raises(UserError, match="a int is not an image"):
        open_image(3)  # type: ignore[arg-type]


@pytest.mark.parametrize("extension", ["png", ".png", "jpg", "bmp", "webp", "tiff"])
def test_encode_and_save_round_trip(tmp_path: Path, extension: str) -> None:
    rgb = np.zeros((10, 14, 3), np.uint8)
    rgb[:, :7] = (250, 10, 10)
    decoded = open_image(encode_image(rgb, extension))
    tolerance = 0 if extension.lstrip(".") in ("png", "bmp", "tiff") else 8
    assert np.abs(decoded.astype(int) - rgb).mean() <= tolerance
    path = save_image(rgb, tmp_path / "deep" / "folder" / f"out.{extension.lstrip('.')}")
    assert path.is_file() and not [p for p in path.parent.iterdir() if p.name.startswith(".")]
    assert f".{extension.lstrip('.')}" in IMAGE_EXTENSIONS


def test_save_image_takes_pil_images_and_gray_and_rgba(tmp_path: Path) -> None:
    gray = gradient(1)
    assert np.array_equal(open_image(save_image(Image.fromarray(gray), tmp_path / "g.png")), gray)
    rgba = np.zeros((5, 5, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[..., 0] = 90
    assert open_image(save_image(rgba, tmp_path / "a.png"), channels="rgba")[0, 0].tolist() == [90, 0, 0]
    palette = Image.fromarray(gray).convert("P")
    assert save_image(palette, tmp_path / "p.png").is_file()
    with pytest.raises(UserError, match="cannot encode images as .nope"):
        encode_image(gray, "nope")
