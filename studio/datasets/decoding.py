"""Decode many image files into one uint8 array, in parallel, cached on disk as .npz.

The cache key covers every file's path, size and modification time, the target size and the
decoder version, so any change to the folder or the decoder decodes afresh; an unchanged
folder loads in a fraction of a second. Undecodable files are returned as (path, reason).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from studio.datasets.images import DECODER_VERSION, ImageDecodeError, decode_image

Progress = Callable[[int, int], None]


@dataclass
class DecodedFiles:
    """Images of the files that decoded, and why the others did not.

    Args:
        images: uint8 (M, S, S, 3), one row per decoded file, in input order.
        kept: int64 (M,) index into the input paths of each row of `images`.
        skipped: (path, reason) for each file that did not decode.
        from_cache: True when nothing was decoded because the cache matched.
    """

    images: np.ndarray
    kept: np.ndarray
    skipped: list[tuple[str, str]]
    from_cache: bool = False


def decode_files(
    paths: Sequence[Path],
    size: int,
    cache_dir: Path | None = None,
    cache_name: str = "images",
    progress: Progress | None = None,
) -> DecodedFiles:
    """Decode `paths` to (size, size) RGB with studio.datasets.images.decode_image.

    With `cache_dir`, the result is stored as `<cache_name>-<size>px-<key>.npz` there and
    older entries of the same `cache_name` and size are removed.
    """
    cache_file = None
    if cache_dir is not None:
        cache_dir = Path(cache_dir)
        cache_file = cache_dir / f"{cache_name}-{size}px-{_cache_key(paths, size)}.npz"
        cached = _read_cache(cache_file, paths, size)
        if cached is not None:
            return cached
    result = _decode_all(paths, size, progress)
    if cache_file is not None:
        _write_cache(cache_file, result, paths)
        for stale in cache_file.parent.glob(f"{cache_name}-{size}px-*.npz"):
            if stale != cache_file:
                stale.unlink(missing_ok=True)
    return result


def resize_all(images: np.ndarray, size: int) -> np.ndarray:
    """Resize uint8 (N, H, W, 3) images to (N, size, size, 3) exactly as decode_image would."""
    if images.shape[1:3] == (size, size):
        return images
    out = np.empty((len(images), size, size, 3), dtype=np.uint8)

    def one(i: int) -> None:
        out[i] = decode_image(Image.fromarray(images[i]), size=size)

    with ThreadPoolExecutor(_workers()) as pool:
        list(pool.map(one, range(len(images))))
    return out


def _workers() -> int:
    # Pillow releases the GIL while decoding and resampling, so threads scale with cores.
    return max(1, min(16, os.cpu_count() or 1))


def _decode_all(paths: Sequence[Path], size: int, progress: Progress | None) -> DecodedFiles:
    total = len(paths)
    images = np.empty((total, size, size, 3), dtype=np.uint8)
    ok = np.zeros(total, dtype=bool)
    reasons: dict[int, str] = {}
    done = 0
    lock = threading.Lock()
    step = max(1, total // 100)

    def one(i: int) -> None:
        nonlocal done
        try:
            images[i] = decode_image(paths[i], size=size)
            ok[i] = True
        except ImageDecodeError as err:
            reasons[i] = err.reason
        except Exception as err:  # a Pillow plugin bug on one odd file must not stop a load
            reasons[i] = f"could not decode ({type(err).__name__}: {err})"
        if progress is not None:
            with lock:
                done += 1
                if done % step == 0 or done == total:
                    progress(done, total)

    with ThreadPoolExecutor(_workers()) as pool:
        list(pool.map(one, range(total)))
    kept = np.flatnonzero(ok)
    skipped = [(str(paths[i]), reasons[i]) for i in sorted(reasons)]
    return DecodedFiles(images=images[kept], kept=kept.astype(np.int64), skipped=skipped)


def _cache_key(paths: Sequence[Path], size: int) -> str:
    listing = []
    for path in paths:
        try:
            stat = path.stat()
            listing.append([str(path), stat.st_size, stat.st_mtime_ns])
        except OSError:
            listing.append([str(path), -1, -1])
    text = json.dumps({"decoder": DECODER_VERSION, "size": size, "files": listing})
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _read_cache(cache_file: Path, paths: Sequence[Path], size: int) -> DecodedFiles | None:
    if not cache_file.is_file():
        return None
    try:
        with np.load(cache_file, allow_pickle=False) as data:
            images, kept = data["images"], data["kept"].astype(np.int64)
            skipped_index, skipped_reason = data["skipped_index"], data["skipped_reason"]
    except Exception:  # a half-written or foreign file is just a cache miss
        return None
    if images.shape[1:] != (size, size, 3) or len(images) != len(kept):
        return None
    if len(kept) + len(skipped_index) != len(paths):
        return None
    pairs = zip(skipped_index, skipped_reason, strict=True)
    skipped = [(str(paths[int(i)]), str(r)) for i, r in pairs]
    return DecodedFiles(images=images, kept=kept, skipped=skipped, from_cache=True)


def _write_cache(cache_file: Path, result: DecodedFiles, paths: Sequence[Path]) -> None:
    index = {str(p): i for i, p in enumerate(paths)}
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    # Several workers may load the same folder at once: write aside, then rename atomically.
    tmp = cache_file.with_name(f".{cache_file.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            np.savez(
                handle,
                images=result.images,
                kept=result.kept,
                skipped_index=np.array([index[p] for p, _ in result.skipped], dtype=np.int64),
                skipped_reason=np.array([r for _, r in result.skipped], dtype=str),
            )
        os.replace(tmp, cache_file)
    except OSError:
        tmp.unlink(missing_ok=True)  # a read-only or full cache only costs speed
