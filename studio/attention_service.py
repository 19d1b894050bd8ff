"""Attention of a finished run on one image, computed in a subprocess the UI can wait on.

The Streamlit server never imports keras, so the Patches page asks for attention maps with
`request(...)`, which runs

    python -m studio.attention_service RUN_ID IMAGE_PATH --out OUT.npz [--home STUDIO_HOME]

and reads the `.npz` it writes. Results are cached per (run, image, model file) under the
run's folder (`runs/<id>/attention/`), so a second look is instant and deleting the run
deletes them. The run checks that need no model (finished? model file there? checksum
recorded?) run before keras is imported, so those errors come back in a fraction of a second.
Exit code 2 with one line on stderr means "cannot do this, and here is why".
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from studio.attention_maps import AttentionResult, load_result, save_result
from studio.config import MODEL_VARIANTS
from studio.images import ImageDecodeError, decode_image
from studio.store import Run, RunNotFound, RunStore

ATTENTION_DIR = "attention"
EXIT_UNUSABLE = 2
# Importing TensorFlow and loading a model takes a few seconds; a busy two-core machine may
# need much longer, but a run that takes this long is stuck.
DEFAULT_TIMEOUT_S = 300.0
# The same names as studio.training.model_files, which imports keras and so cannot be used here.
FINAL_MODEL = "model.keras"
LABELS = "labels.json"


class AttentionUnavailable(RuntimeError):
    """Attention cannot be computed for this run or image; the message says why."""


def image_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def usable_run(store: RunStore, ref: str) -> Run:
    """The run, if it has a finished model the studio wrote; AttentionUnavailable otherwise."""
    try:
        run = store.get(ref)
    except RunNotFound as err:
        raise AttentionUnavailable(str(err)) from None
    if run.variant not in MODEL_VARIANTS:
        # DeiT keeps its blocks inside a backbone and ViT-B/16 is keras-hub's model: neither
        # exposes the studio's block_{i} layers the maps are read from.
        raise AttentionUnavailable(
            f"run {run.id} is a {run.variant} run: attention maps are drawn for the studio's "
            "ViT, SPT, LSA and SPT + LSA runs only"
        )
    if run.status != "completed":
        reason = f" ({run.reason})" if run.reason else ""
        raise AttentionUnavailable(
            f"run {run.id} is {run.status}{reason}: attention needs a finished run"
        )
    model = store.run_dir(run.id) / FINAL_MODEL
    if not model.is_file():
        raise AttentionUnavailable(f"run {run.id} has no final model ({model} is missing)")
    if not run.model_sha256:
        raise AttentionUnavailable(
            f"run {run.id} has no recorded checksum: the studio did not write {model}"
        )
    return run


def result_path(store: RunStore, run: Run, digest: str) -> Path:
    """Where the result for this image and this exact model file is cached."""
    model = (run.model_sha256 or "unknown")[:12]
    return store.run_dir(run.id) / ATTENTION_DIR / f"{digest[:16]}-{model}.npz"


def cached(store: RunStore, run: Run, data: bytes) -> AttentionResult | None:
    """The cached result for (run, image), or None when there is none (or it is unreadable)."""
    path = result_path(store, run, image_digest(data))
    if not path.is_file():
        return None
    try:
        return load_result(path)
    except Exception:  # a half-written or stale file is recomputed, not shown
        path.unlink(missing_ok=True)
        return None


def request(
    store: RunStore, run_ref: str, data: bytes, timeout_s: float = DEFAULT_TIMEOUT_S
) -> AttentionResult:
    """Attention of run `run_ref` on the image in `data`: from the cache or a subprocess."""
    run = usable_run(store, run_ref)
    found = cached(store, run, data)
    if found is not None:
        return found
    digest = image_digest(data)
    out = result_path(store, run, digest)
    # One input file per request, so two sessions asking at once do not share (or delete)
    # each other's.
    source = out.parent / f".{digest[:16]}.{os.getpid()}.{threading.get_ident()}.image"
    out.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(data)
    command = [
        sys.executable,
        "-m",
        "studio.attention_service",
        run.id,
        str(source),
        "--out",
        str(out),
        "--home",
        str(store.home),
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        raise AttentionUnavailable(
            f"computing attention took longer than {timeout_s:.0f} s and was abandoned"
        ) from None
    finally:
        # The .npz keeps the decoded pixels it needs; a large upload's bytes need not stay.
        source.unlink(missing_ok=True)
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        if proc.returncode == EXIT_UNUSABLE and lines:
            raise AttentionUnavailable(lines[-1])
        tail = "\n".join(lines[-5:]) or f"exit code {proc.returncode}"
        raise AttentionUnavailable(f"the attention process failed:\n{tail}")
    return load_result(out)


def _class_names(run_dir: Path, num_classes: int) -> list[str]:
    import json

    try:
        names = json.loads((run_dir / LABELS).read_text())["class_names"]
    except (OSError, ValueError, KeyError):
        names = []
    return [str(n) for n in names] if len(names) == num_classes else []


def compute(store: RunStore, run_ref: str, image_path: Path) -> AttentionResult:
    """Load the run's model (checksum checked, safe_mode on) and read its attention.

    Imports keras: call it in a worker or a subprocess, never in the Streamlit server.
    """
    run = usable_run(store, run_ref)
    from studio.training.model_files import ModelFileError, load_run_model

    try:
        model = load_run_model(store, run.id)
    except ModelFileError as err:
        raise AttentionUnavailable(str(err)) from None

    import keras

    from studio.models.vit import attention_scores, lsa_temperatures

    _, height, width, channels = model.input_shape
    size = int(height or width)
    pixels = decode_image(image_path, size=size)
    images = pixels[None].astype(np.float32)
    if channels == 1:
        images = images.mean(axis=-1, keepdims=True)
    scores = np.stack([s[0] for s in attention_scores(model, images)])
    logits = keras.ops.convert_to_numpy(model(images, training=False))[0].astype(np.float64)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    temperatures = lsa_temperatures(model)
    m = run.config["model"]
    meta = {
        "run_id": run.id,
        "variant": run.variant,
        "dataset": run.dataset,
        "image_size": int(m["image_size"]),
        "patch_size": int(m["patch_size"]),
        "pooling": m.get("pooling", "flatten"),
        "key_dim": int(m["projection_dim"]),
        "input_size": size,
        "model_sha256": run.model_sha256,
        "class_names": _class_names(store.run_dir(run.id), len(probs)),
        "backend": keras.backend.backend(),
    }
    return AttentionResult(
        scores=scores.astype(np.float32),
        pixels=pixels,
        probs=probs.astype(np.float32),
        temperatures=None if temperatures is None else np.asarray(temperatures, np.float32),
        meta=meta,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m studio.attention_service",
        description="Per-layer, per-head attention of a finished run on one image, as .npz.",
    )
    parser.add_argument("run", help="run id, unique prefix or number")
    parser.add_argument("image", type=Path, help="any image file the studio's decoder reads")
    parser.add_argument("--out", type=Path, required=True, help="where to write the .npz")
    parser.add_argument("--home", type=Path, help="STUDIO_HOME (default: the environment's)")
    args = parser.parse_args(argv)
    try:
        store = RunStore(args.home)
        result = compute(store, args.run, args.image)
    except (AttentionUnavailable, ImageDecodeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_UNUSABLE
    save_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
