"""A study in a real PostgreSQL server, as on several machines: two worker processes, one study.

The fixture starts a throwaway cluster from Debian's `postgresql` package (`make test`
installs it when run as root) in a temporary folder on a free port, and stops it after.
On CI (`CI` set) a server that cannot be started fails the test; elsewhere it is skipped
with the reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from fmnist_core.jobs import SweepJob
from fmnist_core.sweep import SweepSettings, TrialStarted, find_study, trial_rows
from fmnist_core.sweep_space import Range

pytestmark = pytest.mark.slow


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is needed on CI: {reason}")
    pytest.skip(f"no PostgreSQL server to test against: {reason} (as root, `make test` installs Debian's postgresql)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """A fresh PostgreSQL cluster on a free port; its URL. Run as `postgres` when root
    (PostgreSQL refuses to run as root)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        _unavailable("Debian's postgresql package is not installed")
    bindir = Path(found[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="fmnist-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(folder)
            _unavailable("running as root, and there is no postgres user to run the server as")
        os.chown(folder, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", _free_port()

    def run(*command: str) -> subprocess.CompletedProcess:
        return subprocess.run([*as_user, *command], capture_output=True, text=True, timeout=120)

    made = run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
    started = (
        made.returncode == 0
        and run(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-w",
            "-t",
            "60",
            "-l",
            str(folder / "log"),
            "-o",
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        ).returncode
        == 0
    )
    if not started:
        log = (folder / "log").read_text(errors="replace")[-1500:] if (folder / "log").exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        _unavailable(f"the server did not start: {made.stderr[-1500:]} {log}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def test_two_workers_share_one_study_in_postgresql(postgres_url, small_data):
    space = {
        "epochs": 2,
        "learning_rate": Range(1e-3, 1e-2, log=True),
        "batch_size": 64,
        "schedule": "constant",
        "augment": "none",
        "validation_split": 0.1,
    }
    settings = SweepSettings(
        model="mlp", trials=3, space=space, storage=postgres_url, study="shared-by-two", pruner="none"
    )
    workers = [SweepJob.start(settings, small_data) for _ in range(2)]
    assert all(worker.wait(600) for worker in workers), "the workers did not finish"
    assert [worker.error for worker in workers] == [None, None]
    numbers = [[e.number for e in worker.events if isinstance(e, TrialStarted)] for worker in workers]
    assert len(numbers[0]) == len(numbers[1]) == 3
    assert not set(numbers[0]) & set(numbers[1]), "a trial ran in both workers"
    rows = trial_rows(find_study("shared-by-two", postgres_url))
    assert sorted(row["trial"] for row in rows) == sorted(numbers[0] + numbers[1]) == list(range(6))
    assert [row["state"] for row in rows] == ["complete"] * 6
    assert all(worker.result.storage.startswith("postgresql://postgres@127.0.0.1:") for worker in workers)
