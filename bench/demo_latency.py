"""Demo latency (p50 / p95) and images/s under concurrent gradio_client requests.

Usage: python bench/demo_latency.py [--requests 160] [--concurrency 1,4,16] [--home H --run R]

By default it writes an untrained run of the keras-example architecture (72 px, patch 6,
8 blocks of dim 64, SPT + LSA, head 2048-1024; same cost per image as a trained one) into a
temporary STUDIO_HOME, launches the demo exactly as the studio mounts it (Gradio queue,
decoder, batching client, inference worker process) and calls `/predict` through
gradio_client with 32 px PNGs (../shared/data/cifar10-mini when present). Each concurrency is
measured with batching on (the studio's setting) and off (max batch 1), on one worker.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _images(folder: Path, n: int) -> list[Path]:
    shared = REPO.parent / "shared" / "data" / "cifar10-mini" / "test"
    if shared.is_dir():
        found = sorted(shared.glob("*/*.png"))
        step = max(1, len(found) // n)
        return found[::step][:n]
    from PIL import Image

    from studio.demo.sample_run import sample_images

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, pixels in enumerate(sample_images(n, 32)):
        paths.append(folder / f"{i:03d}.png")
        Image.fromarray(pixels).save(paths[-1])
    return paths


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def measure(call, requests: int, concurrency: int) -> dict:
    """Latency percentiles and throughput of `call(i)` made `requests` times."""

    def one(i: int) -> float:
        start = time.perf_counter()
        call(i)
        return time.perf_counter() - start

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(one, range(requests)))
    wall = time.perf_counter() - start
    return {
        "concurrency": concurrency,
        "requests": requests,
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * _percentile(latencies, 95),
        "images_per_s": requests / wall,
    }


def through_api(api, run_id: str, images: list[Path]):
    from gradio_client import handle_file

    def call(i: int) -> None:
        image = handle_file(str(images[i % len(images)]))
        api.predict(run=run_id, image=image, api_name="/predict")

    return call


def _report(row: dict, label: str) -> None:
    print(
        f"{label:<34} c={row['concurrency']:<3} p50 {row['p50_ms']:7.1f} ms  "
        f"p95 {row['p95_ms']:7.1f} ms  {row['images_per_s']:6.1f} img/s"
        + (
            f"  (mean batch {row['mean_batch']:.1f}, max {row['max_batch']})"
            if "mean_batch" in row
            else ""
        ),
        flush=True,
    )


def model_only(home: Path, run_id: str, sizes=(1, 8, 16, 32)) -> list[dict]:
    """The worker's model time per batch size, without HTTP, Gradio or decoding."""
    from studio.inference import ModelCache, predict_probs
    from studio.store import RunStore

    model = ModelCache(RunStore(home)).get(run_id).model
    rows = []
    for size in sizes:
        x = __import__("numpy").zeros((size, 32, 32, 3), dtype="uint8")
        predict_probs(model, x)
        start, reps = time.perf_counter(), 10
        for _ in range(reps):
            predict_probs(model, x)
        seconds = (time.perf_counter() - start) / reps
        rows.append({"batch": size, "ms": 1000 * seconds, "images_per_s": size / seconds})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=160, help="requests per measurement")
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--max-batch-size", type=int, default=16)
    parser.add_argument("--home", type=Path, help="an existing STUDIO_HOME (with --run)")
    parser.add_argument("--run", help="a completed run to use instead of the sample")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args()

    import gradio_client

    from studio.demo.app import MAX_UPLOAD, DemoHandlers, build_demo
    from studio.demo.client import InferenceClient, WorkerProcess
    from studio.store import RunStore

    scratch = Path(tempfile.mkdtemp(prefix="demo-bench-"))
    if args.run:
        store = RunStore(args.home)
        run_id = store.get(args.run).id
    else:
        from studio.demo.sample_run import make_sample_run

        store = RunStore(args.home or scratch / "home")
        run_id = make_sample_run(store, preset="keras-example").id
    images = _images(scratch / "images", 64)
    worker = WorkerProcess(store.home)
    servers = {}
    for label, batch in (("batching", args.max_batch_size), ("no batching", 1)):
        client = InferenceClient(store.home, max_batch_size=batch, worker=worker)
        demo = build_demo(store, client, max_batch_size=args.max_batch_size)
        _, url, _ = demo.launch(
            server_name="127.0.0.1",
            server_port=_free_port(),
            prevent_thread_lock=True,
            quiet=True,
            share=False,
            max_file_size=MAX_UPLOAD,
        )
        servers[label] = (demo, client, gradio_client.Client(url, verbose=False))

    load = os.getloadavg()
    print(
        f"run {run_id}; {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} "
        f"(1 / 5 min) at start; {len(images)} 32 px PNGs; {args.requests} requests each",
        flush=True,
    )
    results = []
    try:
        warm = servers["batching"][2]
        measure(through_api(warm, run_id, images), 8, 1)  # worker start, model load, tracing
        for concurrency in [int(c) for c in args.concurrency.split(",")]:
            for label, (_, client, api) in servers.items():
                if concurrency == 1 and label == "no batching":
                    continue  # identical to batching at concurrency 1
                client.batch_sizes = []
                row = measure(through_api(api, run_id, images), args.requests, concurrency)
                sizes = client.batch_sizes or [1]
                row.update(mode=label, mean_batch=sum(sizes) / len(sizes), max_batch=max(sizes))
                results.append(row)
                _report(row, f"gradio_client, {label}")
        # The same handler without HTTP and Gradio's queue: what the demo itself costs.
        demo, client, _ = servers["batching"]
        handlers = DemoHandlers(store, client)
        for concurrency in (1, max(int(c) for c in args.concurrency.split(","))):
            client.batch_sizes = []
            row = measure(
                lambda i: handlers.predict(run_id, str(images[i % len(images)]), 5),
                args.requests,
                concurrency,
            )
            sizes = client.batch_sizes or [1]
            row.update(mode="handler", mean_batch=sum(sizes) / len(sizes), max_batch=max(sizes))
            results.append(row)
            _report(row, "handler in-process (decode+worker)")
    finally:
        for demo, _, _ in servers.values():
            demo.close()
        worker.close()

    model_rows = model_only(store.home, run_id)
    for row in model_rows:
        print(
            f"model only, batch {row['batch']:>3}: {row['ms']:7.1f} ms  "
            f"{row['images_per_s']:7.1f} img/s",
            flush=True,
        )
    if args.json:
        print(json.dumps({"run": run_id, "load": load, "demo": results, "model_only": model_rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
