"""The one image decoder: PNG, JPEG, WebP, BMP, GIF or TIFF -> uint8 RGB array, optionally
square-resized.

Training, the Gradio demo and the Streamlit pages all decode through here, so a model sees
the same pixels at inference as in training. Only the formats in ALLOWED_FORMATS reach a
Pillow plugin, and every decode first reserves its memory from one process-wide budget
(`decode_budget`). Pillow and numpy only: the UI imports this.
"""

from __future__ import annotations

import contextlib
import io
import re
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from studio.datasets.decode_budget import DECODING, DecoderBusy

__all__ = [
    "ALLOWED_EXTENSIONS",
    "ALLOWED_FORMATS",
    "DECODER_VERSION",
    "DEFAULT_MAX_PIXELS",
    "DecoderBusy",
    "ImageDecodeError",
    "ImageInfo",
    "decode_image",
    "image_info",
]

DEFAULT_MAX_PIXELS = 64_000_000
# The only Pillow plugins a file may reach (Pillow's format names): each other decoder is
# attack surface nobody asked for (TGA, PCX, EPS, ... named .png). Uploads check against it too.
ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
ALLOWED_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
)
_ALLOWED_WORDS = "PNG, JPEG, WebP, BMP, GIF or TIFF"
# Bump when the pixels decode_image returns change, so dataset caches are rebuilt.
DECODER_VERSION = 1

Source = str | Path | bytes | bytearray | BinaryIO | Image.Image

_ALPHA_MODES = {"LA", "La", "PA", "RGBA", "RGBa"}
_SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N"}
_WHITE = (255, 255, 255)


class ImageDecodeError(ValueError):
    """An image that cannot be decoded; `reason` (also the message) says why in plain words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ImageInfo:
    """What the header says, without decoding pixels; width/height as displayed (EXIF applied)."""

    format: str | None
    mode: str
    width: int
    height: int
    orientation: int
    frames: int


def decode_image(
    source: Source,
    size: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    *,
    wait: bool = True,
) -> np.ndarray:
    """Decode an image to a uint8 (H, W, 3) RGB array.

    EXIF orientation is applied, transparency is composited on white, 16-bit and float images
    are scaled into 0..255. With `size`, the image is resized to (size, size) with a bicubic
    filter (aspect ratio not kept, as in the Keras examples). Only the first frame of an
    animation is used. Raises ImageDecodeError for anything that is not a readable image in
    an allowed format or that has more than `max_pixels` pixels. The memory the decode needs
    is reserved first; when the budget is spent it waits, or with `wait=False` (the server's
    request handlers) raises DecoderBusy at once.
    """
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise ValueError(f"size={size!r} must be an integer >= 1 or None")
    with _opened(source, max_pixels) as im:
        if size is not None and im.format == "JPEG":
            # libjpeg can decode at 1/2, 1/4 or 1/8 scale for free; draft keeps both sides
            # >= size, so the bicubic resize below still does the final, antialiased step.
            im.draft(None, (size, size))
        with DECODING.reserve(working_bytes(im), wait=wait):
            with _our_cap(max_pixels):
                _load(im)
            upright = _upright(im, in_place=not isinstance(source, Image.Image))
            rgb = _to_rgb(upright)
            if size is not None and rgb.size != (size, size):
                rgb = rgb.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=3.0)
            return np.array(rgb, dtype=np.uint8)


def working_bytes(im: Image.Image) -> int:
    """About the most memory decode_image holds at once for this opened (not loaded) image.

    Measured peaks per pixel on 16 MP images: 8-15 bytes for RGB, gray and JPEG (which
    decodes at a reduced size, `im.size` after draft), 16-18 for 16-bit, palette and CMYK,
    24 with an alpha channel, 34 for a WebP with alpha (libwebp keeps its own buffer).
    """
    width, height = im.size
    alpha = im.mode in _ALPHA_MODES or "transparency" in im.info
    if alpha:
        per_pixel = 26
    elif im.mode in ("RGB", "L", "1", "YCbCr"):
        per_pixel = 15
    else:
        per_pixel = 19
    if im.format == "WEBP":
        per_pixel += 10
    return width * height * per_pixel


def _upright(im: Image.Image, in_place: bool) -> Image.Image:
    # In place where the image is ours: a copy of every pixel is the largest avoidable cost.
    try:
        if in_place:
            ImageOps.exif_transpose(im, in_place=True)
            return im
        return ImageOps.exif_transpose(im)
    except Exception:  # a broken EXIF block should not cost us the pixels
        return im


def image_info(source: Source, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Read format, mode, displayed size and frame count from the header only."""
    with _opened(source, max_pixels) as im:
        try:
            orientation = int(im.getexif().get(0x0112, 1))
        except Exception:  # unreadable EXIF means no rotation, as in decode_image
            orientation = 1
        width, height = im.size
        if orientation in (5, 6, 7, 8):
            width, height = height, width
        return ImageInfo(
            format=im.format,
            mode=im.mode,
            width=width,
            height=height,
            orientation=orientation,
            frames=getattr(im, "n_frames", 1),
        )


def _megapixels(pixels: int) -> str:
    mp = pixels / 1e6
    return f"{mp:,.0f}" if mp >= 100 else f"{mp:.3g}"


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise ImageDecodeError(
            f"image is {width}x{height} = {_megapixels(width * height)} MP, "
            f"above the {_megapixels(max_pixels)} MP cap"
        )


_cap_in_force = threading.local()


@contextlib.contextmanager
def _our_cap(max_pixels: int):
    previous = getattr(_cap_in_force, "value", None)
    _cap_in_force.value = max_pixels
    try:
        yield
    finally:
        _cap_in_force.value = previous


def _bomb_check(size: tuple[int, int]) -> None:
    # Pillow's decompression-bomb guard is one process-wide limit (MAX_IMAGE_PIXELS: a warning
    # above it, DecompressionBombError above twice it) checked inside Image.open and while
    # frames load. Inside decode_image our cap replaces it, so the limit and the message are
    # ours; everywhere else (Gradio, Streamlit) Pillow's guard works exactly as before.
    cap = getattr(_cap_in_force, "value", None)
    if cap is None:
        _pillow_bomb_check(size)
    else:
        _check_pixels(size, cap)


_pillow_bomb_check = getattr(Image, "_decompression_bomb_check", None)
if _pillow_bomb_check is not None and getattr(_pillow_bomb_check, "__module__", "") != __name__:
    Image._decompression_bomb_check = _bomb_check


def _opened(source: Source, max_pixels: int) -> AbstractContextManager[Image.Image]:
    # Images we open are closed on the way out (animated GIFs keep their file open otherwise);
    # an Image the caller hands us stays theirs.
    if isinstance(source, Image.Image):
        _check_pixels(source.size, max_pixels)
        return contextlib.nullcontext(source)
    return _open(source, max_pixels)


def _open(source: Source, max_pixels: int) -> Image.Image:
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise ImageDecodeError("empty file (0 bytes)")
        source = io.BytesIO(source)
    elif hasattr(source, "read") and _is_empty_stream(source):
        raise ImageDecodeError("empty file (0 bytes)")
    elif isinstance(source, (str, Path)):
        path = Path(source)
        try:
            if path.is_dir():
                raise ImageDecodeError(f"{path} is a folder, not an image file")
            if path.stat().st_size == 0:
                raise ImageDecodeError("empty file (0 bytes)")
        except FileNotFoundError:
            raise ImageDecodeError(f"file not found: {path}") from None
        except OSError as err:
            raise ImageDecodeError(f"cannot read file: {err.strerror or err}") from None
    try:
        with _our_cap(max_pixels):
            im = Image.open(source, formats=ALLOWED_FORMATS)
    except ImageDecodeError:
        raise
    except UnidentifiedImageError:
        raise _unidentified(source, max_pixels) from None
    except Image.DecompressionBombError as err:  # only when the hook above is not in place
        found = re.search(r"\((\d+) pixels\)", str(err))
        pixels = f"{_megapixels(int(found.group(1)))} MP" if found else "too many pixels"
        raise ImageDecodeError(
            f"image is {pixels}, above the {_megapixels(max_pixels)} MP cap"
        ) from None
    except FileNotFoundError:
        raise ImageDecodeError(f"file not found: {source}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise _load_error(err) from None
    try:
        _check_pixels(im.size, max_pixels)
    except ImageDecodeError:
        im.close()
        raise
    return im


def _is_empty_stream(stream: BinaryIO) -> bool:
    try:
        here = stream.tell()
        end = stream.seek(0, io.SEEK_END)
        stream.seek(here)
    except (OSError, AttributeError, ValueError):  # not seekable: Pillow will say
        return False
    return end - here <= 0


def _unidentified(source: str | Path | BinaryIO, max_pixels: int) -> ImageDecodeError:
    """Why no allowed plugin took the file: the format it is in, when Pillow knows it."""
    try:
        if hasattr(source, "seek"):
            source.seek(0)
            head = source.read(512)
            source.seek(0)
        else:
            with open(source, "rb") as fp:
                head = fp.read(512)
    except OSError as err:
        return ImageDecodeError(f"cannot read file: {err.strerror or err}")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<?xml", b"<svg", b"<!doctype", b"<html", b"<")):
        kind = "an SVG drawing" if b"<svg" in head.lower() else "an HTML or XML text file"
        return ImageDecodeError(f"not an image: {kind} (accepted: {_ALLOWED_WORDS})")
    fmt = None
    try:
        # Header only, never loaded: no pixel decoder of a refused format ever runs.
        with _our_cap(max_pixels), Image.open(source) as im:
            fmt = im.format
    except Exception:  # whatever Pillow makes of it, it is not an accepted image
        fmt = None
    finally:
        if hasattr(source, "seek"):
            with contextlib.suppress(Exception):
                source.seek(0)
    if fmt:
        return ImageDecodeError(f"{fmt} images are not accepted (accepted: {_ALLOWED_WORDS})")
    for allowed in ALLOWED_FORMATS:
        accept = Image.OPEN.get(allowed, (None, None))[1]
        if accept is not None and accept(head):
            return ImageDecodeError(f"a damaged {allowed} file: its header cannot be read")
    return ImageDecodeError("not an image (PIL could not identify it)")


def _load(im: Image.Image) -> None:
    try:
        im.load()
    except ImageDecodeError:
        raise
    except (EOFError, OSError, SyntaxError, ValueError) as err:
        raise _load_error(err) from None


def _load_error(err: Exception) -> ImageDecodeError:
    # Pillow words a cut-off file several ways depending on the format and where it stops.
    text = str(err)
    if isinstance(err, EOFError) or any(
        sign in text.lower() for sign in ("truncated", "broken data stream", "unexpected end")
    ):
        return ImageDecodeError("truncated file")
    if "decompressed data too large" in text.lower():
        # Pillow's guard against zlib bombs in PNG text and colour-profile chunks.
        return ImageDecodeError(
            "a metadata chunk (text or colour profile) expands past the safety limit"
        )
    return ImageDecodeError(f"corrupt image data ({text or type(err).__name__})")


def _to_rgb(im: Image.Image) -> Image.Image:
    mode = im.mode
    if mode == "RGB":
        return im
    if mode in _SIXTEEN_BIT_MODES:
        values = np.asarray(im).astype(np.uint32)
        # Round to nearest: 65535 -> 255, 257 * k -> k. convert("L") would clip at 255 instead.
        return _gray_to_rgb(((values * 255 + 32767) // 65535).astype(np.uint8))
    if mode == "I":
        return _gray_to_rgb(_int_to_uint8(np.asarray(im)))
    if mode == "F":
        return _gray_to_rgb(_float_to_uint8(np.asarray(im)))
    if mode in _ALPHA_MODES or im.has_transparency_data:
        # "La" (premultiplied) has no direct route to RGBA; LA does the unpremultiplying.
        return _on_white((im.convert("LA") if mode == "La" else im).convert("RGBA"))
    if mode == "CMYK" and im.info.get("icc_profile"):
        converted = _cmyk_with_profile(im)
        if converted is not None:
            return converted
    return im.convert("RGB")


def _int_to_uint8(values: np.ndarray) -> np.ndarray:
    # Mode "I" carries no bit depth. Values that fit 0..255 are taken as 8-bit data (scaling
    # them as 16-bit would make an almost black image), 0..65535 as 16-bit (old 16-bit PNGs
    # open this way); anything else is stretched from its own min to max.
    low, high = int(values.min()), int(values.max())
    if low >= 0 and high <= 255:
        return values.astype(np.uint8)
    if low >= 0 and high <= 65535:
        return ((values.astype(np.int64) * 255 + 32767) // 65535).astype(np.uint8)
    return _stretch(values.astype(np.float64))


def _float_to_uint8(values: np.ndarray) -> np.ndarray:
    # Float images are usually 0..1 (scientific and HDR tools) or 0..255; otherwise stretch.
    values = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(values.min()), float(values.max())
    if low >= 0.0 and high <= 1.0:
        return np.round(values * 255.0).astype(np.uint8)
    if low >= 0.0 and high <= 255.0:
        return np.round(values).astype(np.uint8)
    return _stretch(values)


def _stretch(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.round((values - low) * (255.0 / (high - low))).astype(np.uint8)


def _gray_to_rgb(gray: np.ndarray) -> Image.Image:
    return Image.fromarray(np.repeat(gray[..., None], 3, axis=-1))


def _on_white(rgba: Image.Image) -> Image.Image:
    background = Image.new("RGBA", rgba.size, (*_WHITE, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _cmyk_with_profile(im: Image.Image) -> Image.Image | None:
    try:
        from PIL import ImageCms  # needs Pillow's littlecms build; only CMYK with a profile

        source = ImageCms.ImageCmsProfile(io.BytesIO(im.info["icc_profile"]))
        srgb = ImageCms.createProfile("sRGB")
        return ImageCms.profileToProfile(im, source, srgb, outputMode="RGB")
    except Exception:  # a bad profile falls back to Pillow's plain conversion
        return None
