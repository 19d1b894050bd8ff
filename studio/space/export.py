"""Export a finished run as a Hugging Face Space folder that runs with `python app.py`.

The folder holds exactly the files in ALLOWLIST, nothing else from the run (no checkpoints,
logs, configs with local paths, caches):

    README.md            Space front matter (sdk gradio) and a model card
    app.py               a standalone Gradio app (studio/space/template_app.py)
    requirements.txt     pinned to the versions that trained and serve the model
    model.keras          the run's final model, checksum verified before and after the copy
    labels.json          class names, input size, the model's sha256, the Keras backend
    vit_runtime/         the studio's decoder and custom layers, imports renamed
    examples/*.png       a few test images of the run's dataset

A caption run's Space captions images instead, and carries besides:

    tokenizer.json       the run's tokenizer (its sha256 in labels.json)
    vit_runtime/         also tokenizer.py (studio.text.tokenizer) and captioning.py (greedy
                         and beam search, studio.inference.captioning)

and requires keras-hub (the decoder's layers) and tokenizers.

No keras import: the Demo page calls this from the Streamlit server.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import re
import shutil
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from studio.runs.artifacts import (
    TOKENIZER,
    ModelInfo,
    ModelUnavailable,
    check_ability,
    keras_version_of,
    model_info,
    sha256_file,
)
from studio.runs.backend import installed_version as _installed
from studio.runs.public import publisher
from studio.runs.store import Run, RunStore
from studio.space.card import space_readme
from studio.text.tokenizer import CaptionTokenizer, TokenizerError

STUDIO = Path(__file__).resolve().parents[1]
# What the Space carries of the studio, under vit_runtime/: the decoder (and the memory
# budget it decodes within) and the layers.
DATASET_MODULES = ("images", "decode_budget")
LAYERS = STUDIO / "layers"
# What a caption run's Space carries besides: runtime name -> the studio's module.
CAPTION_MODULES = {
    "tokenizer": "studio.text.tokenizer",
    "captioning": "studio.inference.captioning",
}
# The caption decoder's layers (keras-hub) and the tokenizer's library.
CAPTION_PACKAGES = ("keras-hub", "tokenizers")
# The Space's beam width control stops where the studio's demo does (studio.demo).
MAX_BEAM_WIDTH = 8
Examples = Callable[[str], list[Path]]
TEMPLATE_APP = Path(__file__).with_name("template_app.py")
RUNTIME = "vit_runtime"
MAX_EXAMPLES = 8

ALLOWLIST = (
    "README.md",
    "app.py",
    "requirements.txt",
    "model.keras",
    "labels.json",
    TOKENIZER,
    f"{RUNTIME}/__init__.py",
    *(f"{RUNTIME}/{name}.py" for name in DATASET_MODULES),
    *(f"{RUNTIME}/{name}.py" for name in CAPTION_MODULES),
    f"{RUNTIME}/layers/*.py",
    "examples/*.png",
)

_RUNTIME_INIT = '''"""What this Space needs of ViT Studio, copied at export.

images.py is the studio's image decoder (decode_budget.py the memory budget it decodes
within); layers/ holds the custom Keras layers of its Vision
Transformers (imports renamed from studio.* to vit_runtime.*). Importing this package
registers the layers, so keras.saving.load_model can rebuild model.keras.
"""

import keras  # noqa: F401  (the layers register themselves with keras on import)

from vit_runtime.layers import attention, encoder, patches  # noqa: F401
'''
# A caption run's model also saves the decoder's padding mask (vit_runtime/layers/captions.py);
# its Space carries the tokenizer and the searches beside the layers.
_CAPTION_RUNTIME = """
# A captioner: its padding mask layer; tokenizer.py and captioning.py are imported by app.py.
from vit_runtime.layers import captions  # noqa: F401
"""
_STUDIO_IMPORT = re.compile(r"^\s*(from|import)\s+studio\b", re.MULTILINE)


class SpaceExportError(ValueError):
    """The run cannot be exported, or the output folder is not safe to write."""


@dataclass(frozen=True)
class SpaceExport:
    folder: Path
    files: list[str]
    run: Run


def allowed(relative: str) -> bool:
    """True if a path inside the export folder is one the exporter may write (or push)."""
    return any(fnmatch.fnmatchcase(relative, pattern) for pattern in ALLOWLIST) and not any(
        part.startswith(".") for part in relative.split("/")
    )


def folder_files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def backend_and_pins(model_path: Path, task: str = "classify") -> tuple[str, list[str]]:
    """The Keras backend the Space uses and its pinned requirements (a caption run's with
    keras-hub and tokenizers)."""
    keras_version = keras_version_of(model_path) or _installed("keras")
    pins = [f"keras=={keras_version}"] if keras_version else ["keras"]
    for name in ("tensorflow-cpu", "tensorflow"):
        version = _installed(name)
        if version:
            backend = "tensorflow"
            pins.append(f"{name}=={version}")
            break
    else:
        jax, jaxlib = _installed("jax"), _installed("jaxlib")
        if not (jax and jaxlib):
            raise SpaceExportError("neither TensorFlow nor JAX is installed: cannot pin a backend")
        backend = "jax"
        pins += [f"jax=={jax}", f"jaxlib=={jaxlib}"]
    extra = CAPTION_PACKAGES if task == "caption" else ()
    for name in ("numpy", "pillow", "h5py", "gradio", *extra):
        version = _installed(name)
        pins.append(f"{name}=={version}" if version else name)
    return backend, pins


def _copy_module(source: Path, target: Path) -> None:
    text = source.read_text()
    text = re.sub(r"\bstudio\.layers\b", f"{RUNTIME}.layers", text)
    for name in DATASET_MODULES:
        text = re.sub(rf"\bstudio\.datasets\.{name}\b", f"{RUNTIME}.{name}", text)
    for name, module in CAPTION_MODULES.items():
        text = re.sub(rf"\b{re.escape(module)}\b", f"{RUNTIME}.{name}", text)
    text = text.replace("module 'studio.layers'", f"module '{RUNTIME}.layers'")
    if _STUDIO_IMPORT.search(text):
        raise SpaceExportError(f"{source.name} imports more of the studio than the Space carries")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def _prepare(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise SpaceExportError(f"{out_dir} exists and is not a folder")
    if not out_dir.exists() or not any(out_dir.iterdir()):
        return
    present = folder_files(out_dir)
    strangers = [f for f in present if not allowed(f)]
    if not overwrite:
        raise SpaceExportError(
            f"{out_dir} is not empty; pick a new folder, or pass --overwrite to replace a "
            "previous export"
        )
    if strangers:
        raise SpaceExportError(
            f"{out_dir} holds files that are not part of a Space export ({', '.join(strangers[:3])}"
            f"{', ...' if len(strangers) > 3 else ''}); it is left as it is"
        )


def export_space(
    store: RunStore,
    ref: str,
    out_dir: Path,
    *,
    title: str | None = None,
    license: str = "apache-2.0",
    overwrite: bool = False,
    examples: Examples | None = None,
    repo_id: str | None = None,
) -> SpaceExport:
    """Write the Space folder for run `ref` into `out_dir` (made if missing).

    `examples(run_id)` gives the run's example images (None: the Space has none). Writing
    them loads the dataset, so the Streamlit server passes its inference client's and the
    CLI `studio.inference.examples.ensure_examples`.
    """
    try:
        info = model_info(store, ref)
    except ModelUnavailable as err:
        raise SpaceExportError(str(err)) from None
    try:
        # The Space carries only the studio's layers (vit_runtime/): a DeiT student needs its
        # model classes and ViT-B/16 needs keras-hub, neither of which the Space installs.
        check_ability(info.run, "space_export")
    except ModelUnavailable as err:
        raise SpaceExportError(
            f"{err}; try this one in the Demo page or with `python -m studio predict`"
        ) from None
    out_dir = Path(out_dir).expanduser().resolve()
    _prepare(out_dir, overwrite)
    backend, pins = backend_and_pins(info.path, info.labels.task)
    # A Space is public: what it says of the run (labels.json, README) has no local paths.
    public = publisher(info.run, store.home)
    info = dataclasses.replace(info, run=public(info.run), labels=public(info.labels))
    run = info.run
    title = (title or f"{run.dataset.split(':')[0]} {run.variant} ViT").strip()[:60]

    staging = out_dir.with_name(f".{out_dir.name}.export-tmp")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        example_files = examples(run.id)[:MAX_EXAMPLES] if examples else []
        files = _write(staging, info, title, license, backend, pins, example_files, repo_id)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    except OSError as err:
        raise SpaceExportError(f"cannot write {out_dir}: {err.strerror or err}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return SpaceExport(out_dir, files, run)


def _write(
    folder: Path,
    info: ModelInfo,
    title: str,
    license: str,
    backend: str,
    pins: list[str],
    example_files: list[Path],
    repo_id: str | None,
) -> list[str]:
    """Write the export into `folder`; returns its files, all inside the allowlist."""
    run = info.run
    shutil.copyfile(info.path, folder / "model.keras")
    if sha256_file(folder / "model.keras") != info.sha256:
        raise SpaceExportError("the model file changed while it was being copied")
    captions = info.labels.task == "caption"
    labels = {
        **info.labels.to_dict(),
        "model_sha256": info.sha256,
        "run_id": run.id,
        "keras_backend": backend,
        "title": title,
        "description": f"Trained with ViT Studio on `{run.dataset}` "
        f"({len(info.labels.class_names)} classes).",
    }
    if captions:
        labels.update(_caption_files(folder, info))
    (folder / "labels.json").write_text(json.dumps(labels, indent=2) + "\n")
    (folder / "requirements.txt").write_text("\n".join(pins) + "\n")
    shutil.copyfile(TEMPLATE_APP, folder / "app.py")
    runtime = folder / RUNTIME
    runtime.mkdir()
    (runtime / "__init__.py").write_text(_RUNTIME_INIT + (_CAPTION_RUNTIME if captions else ""))
    for name in DATASET_MODULES:
        _copy_module(STUDIO / "datasets" / f"{name}.py", runtime / f"{name}.py")
    for module in sorted(LAYERS.glob("*.py")):
        _copy_module(module, runtime / "layers" / module.name)
    if captions:
        for name, module in CAPTION_MODULES.items():
            source = STUDIO.parent / (module.replace(".", "/") + ".py")
            _copy_module(source, runtime / f"{name}.py")
    if example_files:
        (folder / "examples").mkdir()
        for path in example_files:
            shutil.copyfile(path, folder / "examples" / path.name)
    versions = {pin.split("==")[0]: pin.split("==")[1] for pin in pins if "==" in pin}
    readme = space_readme(
        run,
        info.labels,
        title=title,
        license=license,
        versions=versions,
        backend=backend,
        sha256=info.sha256,
        python=f"{sys.version_info.major}.{sys.version_info.minor}",
        repo_id=repo_id,
    )
    (folder / "README.md").write_text(readme)
    files = folder_files(folder)
    strangers = [f for f in files if not allowed(f)]
    if strangers:  # a bug in this module, never the user's doing
        raise SpaceExportError(f"refusing to export files outside the allowlist: {strangers}")
    return files


def _caption_files(folder: Path, info: ModelInfo) -> dict:
    """Copy a caption run's tokenizer beside the model; what labels.json says of it."""
    source = info.path.parent / TOKENIZER
    if not source.is_file():
        raise SpaceExportError(f"run {info.run.id} has no {TOKENIZER}: its words are unknown")
    shutil.copyfile(source, folder / TOKENIZER)
    try:  # the copy, so what is checked is what the Space will read
        CaptionTokenizer.load(folder / TOKENIZER)
    except TokenizerError as err:
        raise SpaceExportError(f"run {info.run.id}: {err}") from None
    configured = info.run.config.get("caption", {}).get("beam_width", 3)
    beam = configured if isinstance(configured, int) and not isinstance(configured, bool) else 3
    return {
        "tokenizer_sha256": sha256_file(folder / TOKENIZER),
        "beam_width": min(max(beam, 1), MAX_BEAM_WIDTH),
        "max_beam_width": MAX_BEAM_WIDTH,
        "description": f"Trained with ViT Studio on `{info.run.dataset}` to caption images.",
    }


def zip_folder(folder: Path) -> bytes:
    """The export as a zip (allowlisted files only), for a download button."""
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in folder_files(folder):
            if allowed(name):
                archive.write(folder / name, f"{folder.name}/{name}")
    return buffer.getvalue()
