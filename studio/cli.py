"""`python -m studio <verb>`: the headless interface to the studio.

Read verbs never import keras, so `list` and `show` answer in a fraction of a second.
Bad input exits with code 2 and one line naming the field and the rule.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from collections.abc import Callable
from typing import Any

from studio.config import (
    BUILTIN,
    CAPTION_BUILTIN,
    PRESETS,
    TASKS,
    VARIANTS,
    ConfigError,
    field_names,
)
from studio.runs.artifacts import run_task
from studio.runs.migrations import StoreError
from studio.runs.store import ACTIVE, TERMINAL, Run, RunNotFound, RunStore

EXIT_BAD_INPUT = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a reader that went away


class UsageError(Exception):
    """Bad input: printed as one line, exit code 2."""


# -- formatting ---------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _top_k(result: dict) -> str:
    """Top-1, top-3 (runs since it was measured) and top-5 accuracy of a test result; BLEU-4
    and CIDEr-D of a captioning run's."""
    if "bleu4" in result:
        return f"BLEU-4 {_num(result.get('bleu4'), 3)} CIDEr {_num(result.get('cider'), 3)}"
    parts = [f"top-1 {_pct(result.get('accuracy'))}"]
    if result.get("top3") is not None:
        parts.append(f"top-3 {_pct(result['top3'])}")
    parts.append(f"top-5 {_pct(result.get('top5'))}")
    return " ".join(parts)


def _duration(seconds: float | None) -> str:
    if not seconds:
        return "-"
    seconds = int(seconds)
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def run_summary(run: Run) -> dict[str, Any]:
    """What `list --json` and `show --json` print: everything a script or the UI needs."""
    latest = run.latest
    return {
        "id": run.id,
        "status": run.status,
        "reason": run.reason,
        "dataset": run.dataset,
        "model": run.variant,
        "preset": run.preset,
        "teacher": (run.config.get("distill") or {}).get("teacher"),
        "epochs_done": run.epochs_done,
        "epochs_total": run.epochs_total,
        "steps_per_epoch": run.steps_per_epoch,
        "pid": run.pid,
        "last_heartbeat": run.heartbeat_at,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "train_seconds": run.train_seconds,
        "device": run.device,
        "task": (run.config.get("task") if isinstance(run.config, dict) else None) or "classify",
        "best_val_accuracy": latest.get("best_val_accuracy"),
        "best_val_bleu4": latest.get("best_val_bleu4"),
        "latest_epoch": latest.get("epoch"),
        "latest_step": latest.get("step"),
        "test": run.test,
        "damaged": run.damage,
        "files_missing": run.files_missing,
    }


def _status(run: Run) -> str:
    """The status column: a damaged run or one whose folder is gone says so."""
    if run.damage:
        return "damaged"
    return f"{run.status} (files missing)" if run.files_missing else run.status


def _troubles(store: RunStore, run: Run) -> list[str]:
    """What is wrong with a run's stored state, and what to do about it."""
    lines = []
    if run.damage:
        lines.append(
            f"{run.id} is damaged: {run.damage}; it cannot be trained, resumed or evaluated "
            f"(remove it: python -m studio delete {run.id})"
        )
    if run.files_missing:
        lines.append(
            f"{run.id}: its folder {store.run_dir(run.id)} is missing (deleted or moved by "
            f"hand): put it back, or remove the run: python -m studio delete {run.id}"
        )
    return lines


def _print_table(rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


# -- verbs --------------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace, store: RunStore) -> int:
    from studio.config import make_config
    from studio.runs.launcher import submit
    from studio.runs.preflight import check_run

    overrides: dict[str, str] = {}
    for flag, name in _TRAIN_SHORTCUTS.items():
        value = getattr(args, flag)
        if value is not None:
            overrides[name] = str(value)
    for item in args.set or []:
        if "=" not in item:
            raise UsageError(f"--set {item!r}: expected FIELD=VALUE, e.g. --set train.epochs=5")
        key, value = item.split("=", 1)
        overrides[key.strip()] = value
    dataset = args.dataset or ("shapes" if args.task == "caption" else "cifar10")
    config = make_config(args.preset, dataset, args.model, overrides, task=args.task)
    checked = check_run(config, store)
    if checked.warnings and not args.yes and not _confirmed(checked.warnings):
        return EXIT_BAD_INPUT
    run = submit(store, checked.config.to_dict())
    if args.json and not args.wait:
        print(json.dumps(run_summary(run)))
        return 0
    print(
        f"queued {run.id}  (follow: python -m studio show {run.id};"
        f" stop: python -m studio stop {run.id})"
    )
    if not args.wait:
        return 0
    return follow(store, run.id)


def _confirmed(warnings: list) -> bool:
    """Print the config's warnings; ask at a terminal, refuse elsewhere (naming --yes)."""
    for warning in warnings:
        print(f"warning: {warning.message}", file=sys.stderr)
    if not sys.stdin.isatty():
        print(
            "error: not queued: this config is very likely a mistake (see above); "
            "add --yes to queue it anyway",
            file=sys.stderr,
        )
        return False
    try:
        answer = input("Queue it anyway? [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() in ("y", "yes"):
        return True
    print("not queued", file=sys.stderr)
    return False


def _first_known(row: dict, *names: str) -> float | None:
    """The first of `names` the row recorded (a classifier's accuracy, a captioner's token
    accuracy)."""
    return next((row[n] for n in names if row.get(n) is not None), None)


def _epoch_line(row, run: Run) -> str:
    """One finished epoch as `follow` prints it: accuracy for a classifier; token accuracy,
    BLEU-4 and CIDEr-D for a captioner."""
    if "token_accuracy" in row and row.get("accuracy") is None:
        scores = (
            f"acc {_pct(row.get('token_accuracy'))} val_loss {_num(row.get('val_loss'))} "
            f"val_acc {_pct(row.get('val_token_accuracy'))} "
            f"val_BLEU-4 {_num(row.get('val_bleu4'), 3)} val_CIDEr {_num(row.get('val_cider'), 3)}"
        )
    else:
        scores = (
            f"acc {_pct(row.get('accuracy'))} val_loss {_num(row.get('val_loss'))} "
            f"val_acc {_pct(row.get('val_accuracy'))} val_top5 {_pct(row.get('val_top5'))}"
        )
    return (
        f"epoch {row['epoch']}/{run.epochs_total}: loss {_num(row.get('loss'))} {scores} "
        f"lr {_num(row.get('lr'), 6)} {_num(row.get('images_per_s'), 0)} img/s "
        f"{_num(row.get('epoch_seconds'), 1)}s"
    )


def follow(store: RunStore, run_id: str, poll_s: float = 0.5) -> int:
    """Show a progress bar per epoch until the run ends; Ctrl-C leaves it training."""
    from tqdm import tqdm

    bar = None
    bar_epoch = 0
    last_id = 0
    announced_running = False
    try:
        while True:
            store.reconcile()
            run = store.get(run_id)
            if run.status == "running" and not announced_running:
                print(f"training on {run.device or 'the default device'}...", flush=True)
                announced_running = True
            for row in store.metrics(run_id, after_id=last_id):
                last_id = row["id"]
                if row["kind"] == "step":
                    if bar is None or row["epoch"] != bar_epoch:
                        if bar is not None:
                            bar.close()
                        bar_epoch = row["epoch"]
                        bar = tqdm(
                            total=run.steps_per_epoch or None,
                            desc=f"epoch {bar_epoch}/{run.epochs_total}",
                            unit="step",
                            leave=False,
                        )
                    bar.n = row["step"]
                    bar.set_postfix(
                        loss=f"{row['loss']:.3f}" if row["loss"] is not None else "-",
                        acc=_pct(_first_known(row, "accuracy", "token_accuracy")),
                        img_s=_num(row["images_per_s"], 0),
                        refresh=True,
                    )
                else:
                    if bar is not None:
                        bar.close()
                        bar = None
                    print(_epoch_line(row, run), flush=True)
            if run.status in TERMINAL:
                if bar is not None:
                    bar.close()
                line = f"{run.id} {run.status}"
                if run.reason:
                    line += f": {run.reason}"
                if run.test:
                    loss = run.test.get("loss")
                    line += " | test " + (f"loss {loss:.4f} " if loss is not None else "")
                    line += _top_k(run.test)
                print(line, flush=True)
                return 0 if run.status == "completed" else 1
            time.sleep(poll_s)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        print(
            f"\nstopped following; {run_id} keeps training"
            f" (stop it: python -m studio stop {run_id})"
        )
        return 130


def _read_only_note(store: RunStore) -> None:
    # On stderr: `list --json` and `show --json` keep stdout for the JSON alone.
    if store.read_only:
        print(f"note: {store.read_only}", file=sys.stderr)


def _best_val(latest: dict) -> str:
    """The list's BEST VAL: a classifier's accuracy, a captioner's BLEU-4 (B4 0.412)."""
    if latest.get("best_val_bleu4") is not None:
        return f"B4 {latest['best_val_bleu4']:.3f}"
    return _pct(latest.get("best_val_accuracy"))


def _test_score(test: dict) -> str:
    if test.get("bleu4") is not None:
        return f"B4 {test['bleu4']:.3f}"
    return _pct(test.get("accuracy"))


def cmd_list(args: argparse.Namespace, store: RunStore) -> int:
    _read_only_note(store)
    store.reconcile()
    runs = store.list_runs(with_latest=True)
    if args.json:
        print(json.dumps([run_summary(r) for r in runs], indent=2))
        return 0
    if not runs:
        print("no runs yet: python -m studio train --dataset digits --wait")
        return 0
    rows = [["ID", "STATUS", "DATASET", "MODEL", "EPOCHS", "BEST VAL", "TEST", "TIME"]]
    for r in runs:
        rows.append(
            [
                r.id,
                _status(r),
                r.dataset,
                r.variant,
                f"{r.epochs_done}/{r.epochs_total}",
                _best_val(r.latest),
                _test_score(r.test or {}),
                _duration(r.train_seconds),
            ]
        )
    _print_table(rows)
    notes = [line for r in runs for line in _troubles(store, r)]
    if notes:
        print()
        print("\n".join(f"note: {line}" for line in notes))
    return 0


def cmd_show(args: argparse.Namespace, store: RunStore) -> int:
    _read_only_note(store)
    store.reconcile()
    run = store.get(args.run, with_latest=True)
    summary = run_summary(run)
    if args.json:
        summary["config"] = run.config
        summary["run_dir"] = str(store.run_dir(run.id))
        # The whole curve, one row per finished epoch, so a script can plot or compare runs.
        history = store.metrics(run.id, kind="epoch")
        summary["epochs"] = list(history)
        summary["unreadable_rows"] = list(history.skipped)
        print(json.dumps(summary, indent=2))
        return 0
    for key in ("id", "status", "reason", "dataset", "model", "teacher", "preset", "device", "pid"):
        if summary[key] is not None:
            print(f"{key:>12}: {summary[key]}")
    for line in _troubles(store, run):
        print(f"{'problem':>12}: {line}")
    print(f"{'epochs':>12}: {run.epochs_done}/{run.epochs_total}")
    print(f"{'train time':>12}: {_duration(run.train_seconds)}")
    if summary["best_val_accuracy"] is not None or summary["best_val_bleu4"] is not None:
        print(f"{'best val':>12}: {_best_val(run.latest)}")
    step = summary["latest_step"]
    if step and run.status == "running":
        print(
            f"{'now':>12}: epoch {step['epoch']} step {step['step']}/{run.steps_per_epoch} "
            f"loss {_num(step.get('loss'))} {_num(step.get('images_per_s'), 0)} img/s"
        )
    if run.test:
        loss = run.test.get("loss")
        print(
            f"{'test':>12}: " + (f"loss {loss:.4f} " if loss is not None else "") + _top_k(run.test)
        )
    print(f"{'folder':>12}: {store.run_dir(run.id)}")
    epochs = store.metrics(run.id, kind="epoch")
    if epochs:
        print()
        _print_table(_epoch_table(epochs, summary["task"]))
    if epochs.skipped:
        print(
            f"note: {len(epochs.skipped)} metric row(s) could not be read and are left out "
            f"or shown as '-' ({epochs.skipped[0]})"
        )
    return 0


def _epoch_table(epochs: list[dict], task: str) -> list[list[str]]:
    """`show`'s table of epochs: accuracy and top-5 for a classifier; token accuracy,
    BLEU-4 and CIDEr-D for a captioner."""

    def loss(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"

    if task == "caption":
        head = ["ACC", "VAL LOSS", "VAL ACC", "VAL BLEU-4", "VAL CIDEr"]
        cells = [
            lambda e: _pct(e.get("token_accuracy")),
            lambda e: loss(e.get("val_loss")),
            lambda e: _pct(e.get("val_token_accuracy")),
            lambda e: _num(e.get("val_bleu4"), 3),
            lambda e: _num(e.get("val_cider"), 3),
        ]
    else:
        head = ["ACC", "VAL LOSS", "VAL ACC", "VAL TOP5"]
        cells = [
            lambda e: _pct(e.get("accuracy")),
            lambda e: loss(e.get("val_loss")),
            lambda e: _pct(e.get("val_accuracy")),
            lambda e: _pct(e.get("val_top5")),
        ]
    rows = [["EPOCH", "LOSS", *head, "LR", "IMG/S"]]
    for e in epochs:
        lr = e.get("lr")
        rows.append(
            [
                str(e["epoch"]),
                loss(e.get("loss")),
                *(cell(e) for cell in cells),
                "-" if lr is None else f"{lr:.2e}",
                _num(e.get("images_per_s"), 0),
            ]
        )
    return rows


def cmd_stop(args: argparse.Namespace, store: RunStore) -> int:
    store.reconcile()
    run = store.get(args.run)
    if run.status not in ACTIVE:
        raise UsageError(f"run {run.id} is {run.status}, not queued or running")
    run = store.request_stop(run.id)
    if run.status == "stopped":
        print(f"{run.id} stopped (it was still queued)")
        return 0
    print(f"stop requested: {run.id} stops at its next batch")
    if args.wait:
        while store.get(run.id).status in ACTIVE:
            time.sleep(0.5)
            store.reconcile()
        run = store.get(run.id)
        print(f"{run.id} {run.status}" + (f": {run.reason}" if run.reason else ""))
    return 0


def cmd_resume(args: argparse.Namespace, store: RunStore) -> int:
    from studio.runs.launcher import LaunchError, resume

    try:
        run = resume(store, args.run, batch_size=args.batch_size, fresh=args.fresh)
    except LaunchError as exc:
        raise UsageError(str(exc)) from None
    batch = f" at batch size {args.batch_size}" if args.batch_size else ""
    print(f"resuming {run.id} from epoch {run.epochs_done}{batch}")
    return follow(store, run.id) if args.wait else 0


def _report(store: RunStore, run: Run, recompute: bool) -> dict[str, Any]:
    """The run's stored test report when it is of its current model, else a fresh one: a
    classifier's (top-k, per class, ...) or a captioner's (BLEU-4, CIDEr-D), by its task."""
    from studio.evaluation.report import current_report
    from studio.runs.artifacts import ModelUnavailable, model_info

    caption = run_task(run) == "caption"
    if caption:
        from studio.evaluation.caption_report import CAPTION_FORMAT as fmt
    else:
        from studio.evaluation.report import FORMAT as fmt
    try:
        info = model_info(store, run.id)
        report = None if recompute else current_report(store.run_dir(run.id), info.sha256, fmt)
        if report is None:
            report = _evaluate_now(store, run, caption)
    except ModelUnavailable as exc:
        raise UsageError(str(exc)) from None
    return report


def _evaluate_now(store: RunStore, run: Run, caption: bool) -> dict[str, Any]:
    if caption:
        from studio.training.caption_evaluation import evaluate_caption_run as evaluate

        no_test: type[Exception] = ValueError
    else:
        from studio.training.evaluation import NoTestImages as no_test
        from studio.training.evaluation import evaluate_run as evaluate
    try:
        return evaluate(store, run.id)
    except no_test as exc:
        raise UsageError(f"{run.id}: {exc}") from None


def _write_table(target: str, table: str) -> None:
    """`--csv FILE` (or `-`: standard output)."""
    if target == "-":
        sys.stdout.write(table)
        return
    try:
        with open(target, "w", newline="") as fh:
            fh.write(table)
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror}") from None


def _evaluate_captions(args: argparse.Namespace, store: RunStore, run: Run, other) -> int:
    from studio.evaluation.caption_report import (
        captions_csv,
        compare_caption_reports,
        format_caption_report,
    )

    if other is not None and run_task(run) != run_task(other):
        raise UsageError(
            f"cannot compare {run.id} ({run_task(run)}) with {other.id} ({run_task(other)}): "
            "one writes captions, the other classifies"
        )
    report = _report(store, run, args.recompute)
    if args.csv:
        _write_table(args.csv, captions_csv(report))
        if args.csv == "-":
            return 0
    if other is None:
        print(json.dumps(report) if args.json else f"{run.id}\n{format_caption_report(report)}")
        return 0
    other_report = _report(store, other, args.recompute)
    if args.json:
        print(
            json.dumps(
                {
                    "a": run.id,
                    "b": other.id,
                    "a_scores": report["scores"],
                    "b_scores": other_report["scores"],
                }
            )
        )
    else:
        print(compare_caption_reports(report, other_report, run.id, other.id))
    return 0


def cmd_evaluate(args: argparse.Namespace, store: RunStore) -> int:
    from studio.evaluation.compare import NotComparable, accuracy_difference, per_class_deltas
    from studio.evaluation.report import per_class_csv
    from studio.evaluation.text import format_deltas, format_report

    run = store.get(args.run)  # an unknown run is refused before keras is loaded
    other = store.get(args.vs) if args.vs else None
    if run_task(run) == "caption" or (other is not None and run_task(other) == "caption"):
        return _evaluate_captions(args, store, run, other)
    report = _report(store, run, args.recompute)
    if args.csv:
        _write_table(args.csv, per_class_csv(report))
        if args.csv == "-":
            return 0
    if other is None:
        if args.json:
            print(json.dumps(report))
        else:
            print(f"{run.id}\n{format_report(report)}")
        return 0
    other_report = _report(store, other, args.recompute)
    try:
        rows = per_class_deltas(report, other_report)
    except NotComparable as exc:
        raise UsageError(f"cannot compare {run.id} with {other.id}: {exc}") from None
    diff = accuracy_difference(report, other_report)
    if args.json:
        print(json.dumps({"a": run.id, "b": other.id, **diff, "per_class": rows}))
    else:
        print(format_deltas(rows, diff, run.id, other.id))
    return 0


def cmd_delete(args: argparse.Namespace, store: RunStore) -> int:
    store.reconcile()
    run = store.get(args.run)
    if run.status in ACTIVE:
        raise UsageError(
            f"run {run.id} is {run.status}; stop it first (python -m studio stop {run.id})"
        )
    if not store.delete(run.id):
        raise UsageError(f"run {run.id} was queued again a moment ago; stop it first")
    print(f"deleted {run.id}")
    return 0


def cmd_presets(args: argparse.Namespace, store: RunStore) -> int:
    configs = {name: make().to_dict() for name, make in PRESETS.items()}
    if args.json:
        print(json.dumps(configs, indent=2))
        return 0
    for name, cfg in configs.items():
        m, t = cfg["model"], cfg["train"]
        print(
            f"{name:>14}: image {m['image_size']} patch {m['patch_size']} dim "
            f"{m['projection_dim']} depth {m['depth']} heads {m['num_heads']} pooling "
            f"{m['pooling']}; {t['epochs']} epochs, batch {t['batch_size']},"
            f" lr {t['learning_rate']}"
        )
    print("\noverridable fields (--set FIELD=VALUE): " + ", ".join(field_names()[1:]))
    return 0


def _print_captions(args: argparse.Namespace, store: RunStore) -> int:
    from studio.datasets.images import ImageDecodeError
    from studio.inference.local import caption_files
    from studio.runs.artifacts import ModelUnavailable

    try:
        info, captions = caption_files(store, args.run, args.images, args.beam)
    except (ModelUnavailable, ImageDecodeError) as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        pairs = zip(args.images, captions, strict=True)
        print(
            json.dumps(
                {
                    "run": info.run.id,
                    "model_sha256": info.sha256,
                    "captions": [{"image": i, "caption": c} for i, c in pairs],
                },
                indent=2,
            )
        )
        return 0
    for image, caption in zip(args.images, captions, strict=True):
        print(f"{image} ({info.run.id}): {caption}")
    return 0


def cmd_predict(args: argparse.Namespace, store: RunStore) -> int:
    """Top-k classes of images, in-process, through the demo's own path (studio.inference)."""
    from studio.datasets.images import ImageDecodeError
    from studio.inference.local import predict_files
    from studio.runs.artifacts import ModelUnavailable

    if args.top_k < 1:
        raise UsageError(f"--top-k {args.top_k}: must be at least 1")
    if args.beam is not None and not 1 <= args.beam <= 64:
        raise UsageError(f"--beam {args.beam}: must be between 1 and 64")
    if run_task(store.get(args.run)) == "caption":
        return _print_captions(args, store)
    try:
        # Run and images are checked (and refused with a reason) before keras is loaded.
        info, results = predict_files(store, args.run, args.images, args.top_k)
    except (ModelUnavailable, ImageDecodeError) as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(
            json.dumps(
                {
                    "run": info.run.id,
                    "model_sha256": info.sha256,
                    "predictions": [
                        {
                            "image": image,
                            "top_k": [{"label": n, "probability": p} for n, p in ranked],
                        }
                        for image, ranked in zip(args.images, results, strict=True)
                    ],
                },
                indent=2,
            )
        )
        return 0
    for image, ranked in zip(args.images, results, strict=True):
        print(f"{image} ({info.run.id})")
        width = max(len(n) for n, _ in ranked)
        for i, (name, prob) in enumerate(ranked, 1):
            print(f"  {i}. {name.ljust(width)}  {100 * prob:6.2f}%")
    return 0


def cmd_space(args: argparse.Namespace, store: RunStore) -> int:
    """Export a run as a Hugging Face Space folder; --push uploads it."""
    from studio.inference.examples import ensure_examples
    from studio.space.export import SpaceExportError, export_space
    from studio.space.push import PushError, check_repo_id, push_space

    try:
        if args.push:
            check_repo_id(args.push)
        export = export_space(
            store,
            args.run,
            args.out_dir,
            title=args.title,
            license=args.license,
            overwrite=args.overwrite,
            examples=lambda run_id: ensure_examples(store, run_id),
            repo_id=args.push,
        )
    except (SpaceExportError, PushError) as exc:
        raise UsageError(str(exc)) from None
    print(f"exported {export.run.id} to {export.folder} ({len(export.files)} files)")
    print(f"  try it: cd {export.folder} && python app.py")
    if not args.push:
        return 0
    return _pushed(lambda: push_space(export.folder, args.push, private=args.private or None))


def _pushed(push: Callable[[], str]) -> int:
    """Run a push to the Hub: its URL, or its one-line error and exit code (1 or 2)."""
    from studio.space.push import PushError

    try:
        url = push()
    except PushError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"pushed to {url}")
    return 0


def cmd_card(args: argparse.Namespace, store: RunStore) -> int:
    """Write a run's model card (README.md + images); --push uploads the model repository."""
    from studio.modelcard.card import render_card, write_card
    from studio.runs.artifacts import CARD, ModelUnavailable
    from studio.space.push import PushError, check_repo_id, push_model

    run = store.get(args.run)
    try:
        if args.push:
            check_repo_id(args.push)
        card = render_card(store, run.id, license=args.license, repo_id=args.push)
        out = args.out or store.run_dir(run.id) / CARD
        written = write_card(card, out)
    except (ModelUnavailable, PushError) as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot write the card to {args.out}: {exc.strerror}") from None
    print(f"model card of {run.id}: {written[0]} ({len(written) - 1} images)")
    if not args.push:
        return 0
    private = args.private or None
    return _pushed(
        lambda: push_model(store, run.id, args.push, private=private, license=args.license)
    )


def cmd_export(args: argparse.Namespace, store: RunStore) -> int:
    """Export a run's model (.keras, SavedModel, ONNX, LiteRT), each checked by its runtime."""
    import os

    from studio.export.formats import UnknownFormat, resolve
    from studio.export.results import summary_line

    try:
        formats = resolve(args.format)
    except UnknownFormat as exc:
        raise UsageError(str(exc)) from None
    if args.images < 1:
        raise UsageError(f"--images {args.images}: must be at least 1")
    run = store.get(args.run)  # an unknown run is refused before keras is loaded
    from studio.runs.artifacts import ModelUnavailable, model_info

    try:
        model_info(store, run.id)
    except ModelUnavailable as exc:
        raise UsageError(str(exc)) from None
    # The formats are written by TensorFlow's converters; the .keras file itself loads on any
    # backend, so the export process picks TensorFlow unless keras is already imported.
    os.environ["KERAS_BACKEND"] = "tensorflow"
    from studio.export.producer import export_run

    progress = None if args.json else (lambda message: print(message + "...", flush=True))
    results = export_run(store, run.id, formats, images=args.images, progress=progress)
    run_dir = store.run_dir(run.id)
    for result in results:
        result["path"] = str(run_dir / result["file"]) if result["file"] else None
    if args.json:
        print(json.dumps({"run": run.id, "exports": results}, indent=2))
    else:
        for result in results:
            print(f"{result['format']:>10}: {summary_line(result)}")
            if result["path"]:
                print(f"{'':>12}{result['path']}")
        gap = next((r for r in results if r.get("float32_vs_trained")), None)
        if gap:
            vs = gap["float32_vs_trained"]
            print(
                f"note: the run's model computes in {gap['trained_precision']}; the exports "
                f"written by TensorFlow compute in float32: against it, max |Δp| "
                f"{vs['max_abs_diff']:.1e}, top-1 agreement {vs['top1_agreement_pct']:.1f}%"
            )
    return 0 if all(r["passed"] for r in results) else 1


# -- parser -------------------------------------------------------------------------------

_TRAIN_SHORTCUTS = {
    "epochs": "train.epochs",
    "batch_size": "train.batch_size",
    "lr": "train.learning_rate",
    "seed": "train.seed",
    "image_size": "model.image_size",
    "patch_size": "model.patch_size",
    "limit": "data.limit",
    "group_by": "data.group_by",
    "teacher": "distill.teacher",
    "distill": "distill.kind",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m studio", description="ViT Studio: train and inspect Vision Transformers."
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    train = verbs.add_parser("train", help="queue a training run (--wait to follow it)")
    train.add_argument(
        "--task",
        choices=TASKS,
        default=None,
        help="classify (default) or caption: a ViT encoder with a Transformer text decoder "
        "(default preset caption-quick)",
    )
    train.add_argument(
        "--dataset",
        default=None,
        help=f"{', '.join(BUILTIN)} or folder:PATH (default cifar10); with --task caption: "
        f"{', '.join(CAPTION_BUILTIN)} (default), coco:PATH or folder:PATH with captions.csv",
    )
    students = [v.name for v in VARIANTS.values() if v.distills]
    train.add_argument(
        "--model",
        default=None,
        help=f"{', '.join(VARIANTS)} ({', '.join(students)} with --teacher; default: the preset's)",
    )
    train.add_argument(
        "--preset",
        default=None,
        help=f"{', '.join(PRESETS)} (default: picked for the dataset and model)",
    )
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float, help="peak learning rate")
    train.add_argument("--seed", type=int)
    train.add_argument("--image-size", type=int)
    train.add_argument("--patch-size", type=int)
    train.add_argument("--limit", type=int, help="train on at most N images")
    train.add_argument(
        "--group-by",
        metavar="KEY",
        help="folder:PATH: keep each group in one split; a regex with one capture group on the "
        r"path below the class folder (e.g. '^(patient\d+)_') or csv:PATH (columns file,group)",
    )
    train.add_argument(
        "--teacher", metavar="RUN", help="deit: the completed run to distil from (id, prefix, #)"
    )
    train.add_argument(
        "--distill", choices=("hard", "soft"), help="deit: distillation kind (default hard)"
    )
    train.add_argument(
        "--set",
        action="append",
        metavar="FIELD=VALUE",
        help="override any config field (repeatable)",
    )
    train.add_argument("--wait", action="store_true", help="follow the run with a progress bar")
    train.add_argument(
        "--yes",
        action="store_true",
        help="queue even a config the studio warns about (epochs > 1000, batch > training "
        "images, no validation split, ...)",
    )
    train.add_argument("--json", action="store_true")
    train.set_defaults(func=cmd_train)

    for name, func, helptext in (
        ("list", cmd_list, "all runs"),
        ("show", cmd_show, "one run: status, metrics per epoch, test result"),
        ("stop", cmd_stop, "stop a run at its next batch"),
        ("resume", cmd_resume, "continue a stopped or interrupted run"),
        ("delete", cmd_delete, "delete a run and its folder"),
        ("presets", cmd_presets, "the named presets and the fields you can override"),
    ):
        sub = verbs.add_parser(name, help=helptext)
        if name not in ("list", "presets"):
            sub.add_argument("run", help="run id, unique prefix or number")
        if name in ("list", "show", "presets"):
            sub.add_argument("--json", action="store_true")
        if name in ("stop", "resume"):
            sub.add_argument("--wait", action="store_true")
        if name == "resume":
            sub.add_argument(
                "--batch-size",
                type=int,
                help="continue at this batch size (a run out of memory: half); the schedule "
                "keeps its place by epoch",
            )
            sub.add_argument(
                "--fresh",
                action="store_true",
                help="discard its checkpoints and metrics and start again from epoch 0",
            )
        sub.set_defaults(func=func)

    evaluate = verbs.add_parser(
        "evaluate",
        help="a finished run on its test split: top-k, per class, confusions, calibration "
        "(a caption run: BLEU-4, CIDEr-D and its worst captions)",
    )
    evaluate.add_argument("run", help="run id, unique prefix or number")
    evaluate.add_argument("--json", action="store_true", help="the whole report as JSON")
    evaluate.add_argument(
        "--csv", metavar="FILE", help="write the per-class table as CSV ('-': standard output)"
    )
    evaluate.add_argument(
        "--vs", metavar="RUN", help="per-class differences against another run (B minus A)"
    )
    evaluate.add_argument(
        "--recompute",
        action="store_true",
        help="predict the test split again rather than read the stored report",
    )
    evaluate.set_defaults(func=cmd_evaluate)

    predict = verbs.add_parser(
        "predict", help="top-k classes of images with a finished run (a caption run: captions)"
    )
    predict.add_argument("run", help="run id, unique prefix or number")
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="image file(s)")
    predict.add_argument("--top-k", type=int, default=5, help="how many classes (default 5)")
    predict.add_argument(
        "--beam",
        type=int,
        metavar="N",
        help="caption runs: beams of the search (1: greedy; default the run's caption.beam_width)",
    )
    predict.add_argument("--json", action="store_true")
    predict.set_defaults(func=cmd_predict)

    space = verbs.add_parser("space", help="export a run as a Hugging Face Space folder")
    space.add_argument("run", help="run id, unique prefix or number")
    space.add_argument("out_dir", metavar="OUT_DIR", help="folder to write (new or empty)")
    space.add_argument(
        "--push",
        metavar="USER/NAME",
        help="also upload it as that Space (token: HF_TOKEN or `hf auth login`)",
    )
    space.add_argument("--private", action="store_true", help="create the Space as private")
    space.add_argument("--title", help="the Space's title (default: dataset, model)")
    space.add_argument("--license", default="apache-2.0", help="license id for the card")
    space.add_argument(
        "--overwrite", action="store_true", help="replace a previous export in OUT_DIR"
    )
    space.set_defaults(func=cmd_space)

    card = verbs.add_parser(
        "card", help="write a run's model card; --push uploads the model to the Hugging Face Hub"
    )
    card.add_argument("run", help="run id, unique prefix or number")
    card.add_argument(
        "--out", metavar="DIR", help="folder for README.md and images/ (default: RUN's card/)"
    )
    card.add_argument(
        "--push",
        metavar="USER/NAME",
        help="also upload model.keras, config, labels, card and evaluation as that model "
        "repository (token: HF_TOKEN or `hf auth login`)",
    )
    card.add_argument("--private", action="store_true", help="create the repository as private")
    card.add_argument("--license", default="apache-2.0", help="license id for the card")
    card.set_defaults(func=cmd_card)

    export = verbs.add_parser(
        "export", help="export a run's model (keras, savedmodel, onnx, litert), each checked"
    )
    export.add_argument("run", help="run id, unique prefix or number")
    export.add_argument(
        "--format",
        default="all",
        help="keras, savedmodel, onnx, litert, several separated by commas, or all (default)",
    )
    export.add_argument(
        "--images", type=int, default=64, help="test images the parity check runs (default 64)"
    )
    export.add_argument("--json", action="store_true")
    export.set_defaults(func=cmd_export)
    parser.epilog = catalog()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    for sub in verbs.choices.values():
        sub.epilog = catalog()
        sub.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


def catalog() -> str:
    """What this version can train, from the tables themselves, for the end of every help."""
    models = ", ".join(
        f"{v.name} ({v.label}{', with --teacher' if v.distills else ''})" for v in VARIANTS.values()
    )
    lines = [
        f"models:   {models}",
        f"presets:  {', '.join(PRESETS)}",
        "          (each preset's settings: python -m studio presets)",
        f"datasets: {', '.join(BUILTIN)}, or folder:PATH (a folder per class)",
        f"captions: --task caption on {', '.join(CAPTION_BUILTIN)} (generated), coco:PATH (a "
        "COCO-format caption file) or folder:PATH (images and captions.csv / captions.jsonl)",
        "runs live in STUDIO_HOME (default: studio-home/ in the current directory)",
    ]
    return "\n".join(textwrap.fill(line, 94, subsequent_indent=" " * 10) for line in lines)


def main(argv: list[str] | None = None) -> int:
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit:  # --help, or argparse's usage error: its text must reach the pipe
            sys.stdout.flush()
            raise
        try:
            store = RunStore()
            code = args.func(args, store)
        except (UsageError, ConfigError, RunNotFound, StoreError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            code = EXIT_BAD_INPUT
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except BrokenPipeError:
        # `... --json | head`: the reader has what it wanted. Point stdout at nothing so the
        # interpreter's own last flush stays quiet, and exit as a process killed by SIGPIPE.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
