"""A bounded load test of the prediction API on loopback, then hostile input.

    .venv/bin/python bench/api_load.py [--workers 2] [--clients 16] [--requests 2000]
        [--photo-requests 1000] [--photos FOLDER]

Starts `python -m fmnist_core serve` on a free port of 127.0.0.1 (the bundled model), and
from this same machine sends:
1. single 28x28 test images through v2 infer (JSON, UINT8), `--requests` of them from
   `--clients` concurrent connections; targets >= 500 requests/s, p99 <= 50 ms;
2. phone photos (the dev photos, about 30 KB each) through /predict, `--photo-requests`
   of them; targets >= 40 requests/s, p99 <= 250 ms (skipped when the folder is missing);
3. the hostile corpus (tests/hostile.py) through /predict, and the protocol refusals of
   tests/test_api.py through v2 infer and TF Serving's predict: each must be a 4xx with a
   message, and the server must still answer afterwards.
The server's memory (RSS of its processes) is sampled throughout; 5xx answers and failed
connections are counted. Every request has a timeout and the whole run a deadline: it
stops by itself. Prints the figures with the load average at the start.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

HOST = "127.0.0.1"  # loopback only
TIMEOUT = 30.0  # seconds per request
DEADLINE = 900.0  # seconds for the whole run
BOUNDARY = "fmnistbench"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--photo-requests", type=int, default=1000)
    parser.add_argument("--photos", type=Path, default=REPO.parent / "shared" / "photos" / "dev")
    args = parser.parse_args()

    load = os.getloadavg()
    print(
        f"# bench/api_load.py --workers {args.workers} --clients {args.clients} "
        f"--requests {args.requests} --photo-requests {args.photo_requests}    "
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})"
    )
    print(
        f"# {_processor()}, {os.cpu_count()} CPU(s); load average at start: "
        f"{load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}; client and server on this machine"
    )
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "fmnist_core", "serve", "--port", str(port), "--workers", str(args.workers)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    memory = _MemorySampler(server.pid)
    try:
        started = time.monotonic()
        _wait_ready(port, args.workers, started)
        print(f"server ready in {time.monotonic() - started:.1f} s")
        memory.start()
        bodies = _v2_bodies()
        _run_load(
            "v2 infer, one 28x28 image (JSON)",
            port,
            args.clients,
            args.requests,
            lambda i: (
                "POST",
                "/v2/models/fashion-mnist/infer",
                bodies[i % len(bodies)],
                {"Content-Type": "application/json"},
            ),
            memory,
        )
        photos = sorted(args.photos.glob("*/*.jpg")) if args.photos.is_dir() else []
        if photos:
            uploads = [_multipart(p.name, p.read_bytes()) for p in photos]
            mean_kb = statistics.mean(len(u) for u in uploads) / 1024
            _run_load(
                f"/predict, one phone photo ({len(photos)} dev photos, {mean_kb:.0f} KB mean)",
                port,
                args.clients,
                args.photo_requests,
                lambda i: (
                    "POST",
                    "/predict",
                    uploads[i % len(uploads)],
                    {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
                ),
                memory,
            )
        else:
            print(f"no photos in {args.photos}: the photo load is skipped")
        _hostile(port)
        print(
            f"server memory (RSS of its processes): {memory.first:.0f} MB after warm-up, "
            f"peak {memory.peak:.0f} MB, {memory.last:.0f} MB at the end"
        )
    finally:
        memory.stop()
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    return 0


def _processor() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        return "unknown processor"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _wait_ready(port: int, workers: int, started: float) -> None:
    """Ready when the health route answers (every worker loads before it takes requests)."""
    while time.monotonic() - started < 300:
        try:
            if _request(port, "GET", "/v2/health/ready")[0] == 200:
                time.sleep(2.0 if workers > 1 else 0.0)  # let the other workers finish loading
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("the server did not become ready within 300 s")


def _request(
    port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _v2_bodies() -> list[bytes]:
    """Real test images when the dataset is here, else synthetic ones."""
    import numpy as np

    try:
        from fmnist_core.data import load_dataset

        images = load_dataset().x_test[:200]
    except Exception:  # noqa: BLE001 - a benchmark without the dataset still runs
        images = np.random.default_rng(0).integers(0, 256, (200, 28, 28), dtype=np.uint8)
    return [
        json.dumps(
            {"inputs": [{"name": "images", "shape": [1, 28, 28], "datatype": "UINT8", "data": image.ravel().tolist()}]}
        ).encode()
        for image in images
    ]


def _multipart(name: str, data: bytes) -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def _run_load(
    title: str,
    port: int,
    clients: int,
    total: int,
    make: Callable[[int], tuple[str, str, bytes, dict[str, str]]],
    memory: _MemorySampler,
) -> None:
    """`total` requests from `clients` threads, each on its own keep-alive connection."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    counter = iter(range(total))
    lock = threading.Lock()
    deadline = time.monotonic() + DEADLINE

    def client() -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT)
        while time.monotonic() < deadline:
            with lock:
                index = next(counter, None)
            if index is None:
                break
            method, path, body, headers = make(index)
            start = time.perf_counter()
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                key = str(response.status)
            except (OSError, http.client.HTTPException) as exc:
                key = type(exc).__name__
                connection.close()
                connection = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT)
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                statuses[key] = statuses.get(key, 0) + 1
        connection.close()

    rss_before = memory.last
    threads = [threading.Thread(target=client) for _ in range(clients)]
    server_cpu, client_cpu = memory.cpu_seconds(), time.process_time()
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    server_cpu, client_cpu = memory.cpu_seconds() - server_cpu, time.process_time() - client_cpu
    ms = sorted(1000 * t for t in latencies)
    if not ms:
        print(f"{title}: no requests sent")
        return

    def p(quantile: float) -> float:
        return ms[min(len(ms) - 1, int(quantile * len(ms)))]

    server_errors = sum(n for key, n in statuses.items() if not key.startswith(("2", "4")))
    print(
        f"{title}: {len(ms)} requests, {clients} clients, {wall:.1f} s, "
        f"{len(ms) / wall:.0f} requests/s; latency p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, "
        f"max {ms[-1]:.1f} ms; statuses {statuses}; server errors and failed connections: "
        f"{server_errors}; server RSS {rss_before:.0f} -> {memory.last:.0f} MB "
        f"(peak so far {memory.peak:.0f} MB)"
    )
    per_request = (server_cpu + client_cpu) / max(1, len(ms))
    print(
        f"  CPU per request: server {1000 * server_cpu / max(1, len(ms)):.2f} ms, this client "
        f"{1000 * client_cpu / max(1, len(ms)):.2f} ms; both together could do about "
        f"{(os.cpu_count() or 1) / per_request:.0f} requests/s on this machine's "
        f"{os.cpu_count()} cores were nothing else running (an estimate, not a measurement)"
    )


def _hostile(port: int) -> None:
    """Each hostile upload and each refused protocol request must get a 4xx with a message."""
    from test_api import V1_REFUSALS, V2_REFUSALS

    from hostile import make_hostile_corpus

    checked, wrong = 0, []
    with tempfile.TemporaryDirectory() as folder:
        for case in make_hostile_corpus(Path(folder)):
            status, body = _request(
                port,
                "POST",
                "/predict",
                _multipart("upload", case.path.read_bytes()),
                {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
            )
            checked += 1
            ok = status == 200 if case.valid else 400 <= status < 500 and json.loads(body).get("error")
            if not ok:
                wrong.append((case.name, status))
    for name, payload, status, *_ in V2_REFUSALS:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        got, answer = _request(port, "POST", "/v2/models/fashion-mnist/infer", body)
        checked += 1
        if got != status or not json.loads(answer).get("error"):
            wrong.append((name, got))
    for payload, status, _ in V1_REFUSALS:
        got, answer = _request(port, "POST", "/v1/models/fashion-mnist:predict", json.dumps(payload).encode())
        checked += 1
        if got != status or not json.loads(answer).get("error"):
            wrong.append((f"v1 {payload!r:.40}", got))
    for path in ("/v2/models/nope/infer", "/v1/models/nope:predict"):
        got, _ = _request(port, "POST", path, b"{}")
        checked += 1
        if got != 404:
            wrong.append((path, got))
    alive = _request(port, "GET", "/v2/health/ready")[0] == 200
    print(
        f"hostile input: {checked} requests (hostile corpus through /predict; through v2 "
        f"infer and TF Serving's predict: malformed JSON, wrong shapes and datatypes, NaN "
        f"and out-of-range pixels, huge N, unknown models), {checked - len(wrong)} answered "
        f"as expected (4xx with a message, or 200 for the valid odd files); wrong: "
        f"{wrong or 'none'}; server answers afterwards: {alive}"
    )


class _MemorySampler:
    """RSS of the server and its worker processes, every 0.25 s, and the CPU time they used."""

    def __init__(self, pid: int) -> None:
        self.pid, self.first, self.peak, self.last = pid, 0.0, 0.0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.first = self.last = self.peak = self._rss()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.last = self._rss()
            self.peak = max(self.peak, self.last)

    def _rss(self) -> float:
        return sum(_read_rss_kb(pid) for pid in self._pids()) / 1024

    def cpu_seconds(self) -> float:
        """User and system time of the server's processes so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self._pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks

    def _pids(self) -> list[int]:
        found, pending = [], [self.pid]
        while pending:
            pid = pending.pop()
            try:
                pending.extend(int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
            except OSError:
                continue
            found.append(pid)
        return found


def _read_rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
    except (OSError, StopIteration):
        return 0


if __name__ == "__main__":
    sys.exit(main())
