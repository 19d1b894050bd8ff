"""Demo latency (p50 / p95) and images/s under concurrent gradio_client requests.

Usage: python bench/demo_latency.py [--requests 160] [--concurrency 1,4,16] [--home H --run R]

First a bare Gradio echo endpoint (`--serve-echo`: the demo's image input, a Label answer,
no model; served and queued like the demo, called by the same client code) gives the floor
of Gradio's protocol in this run; the demo's rows read against it.

By default it writes an untrained run of the keras-example architecture (72 px, patch 6,
8 blocks of dim 64, SPT + LSA, flatten head 2048-1024; the same cost per image as a trained
one) into a temporary STUDIO_HOME. The demo runs in its own process as in the studio
(`python -m studio.demo.app`: Gradio queue, the shared decoder, the batching client and the
inference worker process), once with batching on (max batch 8, the studio's setting) and
once off (max batch 1). The clients call `/predict` through gradio_client from this process,
one session each, with 32 px PNGs (../shared/data/cifar10-mini when present); batch sizes
are read from the answers' timing text. Each row also gives the CPU time per request of
the clients (this process), the server and its inference worker. Then the demo's handler is
called from threads without HTTP (what the demo itself costs beside Gradio's protocol), and
the model alone is timed per batch size.

The clients share one TLS context. gradio_client makes a new httpx client for each upload,
each request and each event stream, and each one loads the CA bundle again (about 25 ms of
CPU, three times per prediction, even for http:// URLs): with a context per request the
clients of this one process, not the demo, were what the bench measured (13 images/s
whatever the concurrency).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the sample run of tests/helpers (studio itself is installed)
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
BATCH = re.compile(r"batch of (\d+)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _images(folder: Path, n: int) -> list[Path]:
    shared = REPO.parent / "shared" / "data" / "cifar10-mini" / "test"
    if shared.is_dir():
        found = sorted(shared.glob("*/*.png"))
        return found[:: max(1, len(found) // n)][:n]
    from PIL import Image

    from tests.helpers.sample_run import sample_images

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, pixels in enumerate(sample_images(n, 32)):
        paths.append(folder / f"{i:03d}.png")
        Image.fromarray(pixels).save(paths[-1])
    return paths


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


_TLS = ssl.create_default_context()  # one for every client (see the module's docstring)


def _cpu_s(pids: list[int]) -> list[float]:
    """CPU seconds so far of each process in `pids` and of all their children, together."""
    import psutil

    totals = []
    for pid in pids:
        try:
            root = psutil.Process(pid)
            family = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            totals.append(0.0)
            continue
        total = 0.0
        for proc in family:
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        totals.append(total)
    return totals


def measure(
    url: str,
    run_id: str,
    images: list[Path],
    requests: int,
    concurrency: int,
    server: DemoServer | None = None,
) -> dict:
    """`requests` predictions from `concurrency` clients (one session each, like people)."""
    import gradio_client

    clients = [
        gradio_client.Client(url, verbose=False, ssl_verify=_TLS) for _ in range(concurrency)
    ]
    batches: list[int] = []
    pids = [server.proc.pid] if server is not None else []

    def client_loop(k: int) -> list[float]:
        latencies = []
        for i in range(k, requests, concurrency):
            start = time.perf_counter()
            _, timing = clients[k].predict(
                run=run_id,
                image=gradio_client.handle_file(str(images[i % len(images)])),
                api_name="/predict",
            )
            latencies.append(time.perf_counter() - start)
            found = BATCH.search(timing)
            batches.append(int(found.group(1)) if found else 1)
        return latencies

    cpu_before, served_before = time.process_time(), _cpu_s(pids)
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = [t for part in pool.map(client_loop, range(concurrency)) for t in part]
    wall = time.perf_counter() - start
    cpu_after, served_after = time.process_time(), _cpu_s(pids)
    for client in clients:
        client.close()
    return {
        "concurrency": concurrency,
        "requests": requests,
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * _percentile(latencies, 95),
        "images_per_s": requests / wall,
        # Each answer reports its batch; an image in a batch of n stands for 1/n of it.
        "mean_batch": len(batches) / sum(1 / b for b in batches),
        "max_batch": max(batches),
        # CPU per request: the clients (this process), the server with its worker.
        "client_cpu_ms": 1000 * (cpu_after - cpu_before) / requests,
        "server_cpu_ms": 1000 * (sum(served_after) - sum(served_before)) / requests,
    }


class DemoServer:
    """`python -m studio.demo.app` (or, with `echo`, this script's echo) on a free port."""

    def __init__(self, home: Path, max_batch_size: int, log: Path, echo: bool = False) -> None:
        import gradio_client

        port = _free_port()
        self.url = f"http://127.0.0.1:{port}/"
        self.log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        if echo:
            command = [sys.executable, str(Path(__file__).resolve()), "--serve-echo", str(port)]
        else:
            command = [sys.executable, "-m", "studio.demo.app", "--port", str(port)]
            command += ["--max-batch-size", str(max_batch_size)]
        self.proc = subprocess.Popen(
            command,
            cwd=REPO,
            env={**os.environ, "STUDIO_HOME": str(home)},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 180
        while True:
            try:
                gradio_client.Client(self.url, verbose=False).close()
                return
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the demo did not start; see {log}") from None
                time.sleep(0.5)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def serve_echo(port: int) -> None:
    """The floor: a bare endpoint with the demo's inputs that answers a fixed label.

    Same image input type, same queue settings and concurrency limit, same launch as
    `python -m studio.demo.app`; Gradio's own pre- and postprocessing, no decoding, no model.
    """
    import gradio as gr

    from studio.demo import MAX_TOP_K
    from studio.demo.app import PREDICT_CONCURRENCY, QUEUE_SETTINGS, image_file_input, launch_local

    def echo(run, image, top_k=5):
        return {"echo": 1.0}, "0.0 ms (echo, batch of 1)"

    with gr.Blocks(title="echo", analytics_enabled=False) as demo:
        run = gr.Dropdown(choices=[], allow_custom_value=True, label="Run")
        image = image_file_input(label="Image")
        k = gr.Slider(1, MAX_TOP_K, value=5, step=1, label="Top-k")
        labels, timing = gr.Label(), gr.Textbox()
        gr.Button().click(
            echo,
            [run, image, k],
            [labels, timing],
            api_name="predict",
            concurrency_limit=PREDICT_CONCURRENCY,
        )
    demo.queue(**QUEUE_SETTINGS)
    launch_local(demo, port)


def warm_up(url: str, run_id: str, images: list[Path]) -> None:
    """Start the worker, load the model and trace it; the first answer may take a while."""
    measure(url, run_id, images, 4, 1)


def handler_only(home: Path, run_id: str, images: list[Path], requests: int, batch: int) -> list:
    """The demo's handler (decode, batching client, worker) called from threads, no HTTP."""
    from studio.demo.app import DemoHandlers
    from studio.inference.client import InferenceClient
    from studio.runs.store import RunStore

    client = InferenceClient(home, max_batch_size=batch)
    handlers = DemoHandlers(RunStore(home), client)
    rows = []
    try:
        for i in range(4):
            handlers.predict(run_id, str(images[i]), 5)
        for concurrency in (1, 16):
            client.batch_sizes = []
            latencies: list[float] = []

            def caller(k: int, concurrency=concurrency, latencies=latencies) -> None:
                for i in range(k, requests, concurrency):
                    start = time.perf_counter()
                    handlers.predict(run_id, str(images[i % len(images)]), 5)
                    latencies.append(time.perf_counter() - start)

            start = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(caller, range(concurrency)))
            wall = time.perf_counter() - start
            sizes = client.batch_sizes or [1]
            rows.append(
                {
                    "mode": f"handler, max batch {batch}",
                    "concurrency": concurrency,
                    "requests": requests,
                    "p50_ms": 1000 * statistics.median(latencies),
                    "p95_ms": 1000 * _percentile(latencies, 95),
                    "images_per_s": requests / wall,
                    "mean_batch": sum(sizes) / len(sizes),
                    "max_batch": max(sizes),
                }
            )
    finally:
        client.close()
    return rows


def model_only(home: Path, run_id: str, sizes=(1, 8, 16, 32)) -> list[dict]:
    """The worker's model time per batch size, without HTTP, Gradio or decoding."""
    import numpy as np

    from studio.inference.loading import ModelCache
    from studio.inference.predict import predict_probs
    from studio.runs.store import RunStore

    model = ModelCache(RunStore(home)).get(run_id).model
    rows = []
    for size in sizes:
        x = np.zeros((size, 32, 32, 3), dtype=np.uint8)
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
    parser.add_argument("--max-batch-size", type=int, default=8)
    parser.add_argument("--home", type=Path, help="an existing STUDIO_HOME (with --run)")
    parser.add_argument("--run", help="a completed run to use instead of the sample")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    parser.add_argument("--serve-echo", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_echo:
        serve_echo(args.serve_echo)
        return 0

    from studio.runs.store import RunStore

    scratch = Path(tempfile.mkdtemp(prefix="demo-bench-"))
    if args.run:
        store = RunStore(args.home)
        run_id = store.get(args.run).id
    else:
        from tests.helpers.sample_run import make_sample_run

        store = RunStore(args.home or scratch / "home")
        run_id = make_sample_run(store, preset="keras-example").id
    images = _images(scratch / "images", 64)
    load = os.getloadavg()
    print(
        f"run {run_id}; {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} "
        f"(1 / 5 min) at start; {len(images)} 32 px PNGs; {args.requests} requests each",
        flush=True,
    )
    results = []
    modes = (("echo", 1, True), ("batching", args.max_batch_size, False), ("no batching", 1, False))
    for label, batch, echo in modes:
        name = "echo" if echo else f"demo-{batch}"
        server = DemoServer(store.home, batch, scratch / f"{name}.log", echo=echo)
        try:
            warm_up(server.url, run_id, images)
            for concurrency in [int(c) for c in args.concurrency.split(",")]:
                if concurrency == 1 and label == "no batching":
                    continue  # the same as with batching: a lone request is never held back
                row = measure(server.url, run_id, images, args.requests, concurrency, server)
                row["mode"] = label
                results.append(row)
                print(
                    f"{label:<12} c={concurrency:<3} p50 {row['p50_ms']:7.1f} ms  "
                    f"p95 {row['p95_ms']:7.1f} ms  {row['images_per_s']:6.1f} img/s  "
                    f"(mean batch {row['mean_batch']:.1f}, max {row['max_batch']})  "
                    f"CPU/request: clients {row['client_cpu_ms']:.1f} ms, "
                    f"server+worker {row['server_cpu_ms']:.1f} ms",
                    flush=True,
                )
        finally:
            server.stop()

    for batch in (args.max_batch_size, 1):
        for row in handler_only(store.home, run_id, images, args.requests, batch):
            results.append(row)
            print(
                f"{row['mode']:<22} c={row['concurrency']:<3} p50 {row['p50_ms']:7.1f} ms  "
                f"p95 {row['p95_ms']:7.1f} ms  {row['images_per_s']:6.1f} img/s  "
                f"(mean batch {row['mean_batch']:.1f}, max {row['max_batch']})",
                flush=True,
            )
    model_rows = model_only(store.home, run_id)
    for row in model_rows:
        print(
            f"model only   batch {row['batch']:>3}: {row['ms']:7.1f} ms  "
            f"{row['images_per_s']:6.1f} img/s",
            flush=True,
        )
    if args.json:
        print(json.dumps({"run": run_id, "load": load, "demo": results, "model_only": model_rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
