"""`predict` on good and bad files together: one answer per file, in order, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from fmnist_core.cli import main

from hostile import EVIL_NAME, encode, garment, make_hostile_corpus
from locations import REPO_ROOT


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_hostile_corpus(tmp_path_factory.mktemp("hostile"))


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_json_keeps_order_and_reports_each_bad_file(tiny_model, corpus, capsys):
    files = [str(case.path) for case in corpus]
    status = main(["predict", "--json", "--top-k", "2", "--model", tiny_model, *files])
    rows = _json_lines(capsys.readouterr().out)
    assert status == 1
    assert [row["file"] for row in rows] == files
    for case, row in zip(corpus, rows):
        if case.valid:
            assert set(row) == {
                "file",
                "label",
                "name",
                "confidence",
                "unsure",
                "unsure_reason",
                "near_tie",
                "top_k",
                "model",
            }, case.name
            assert row["model"] == tiny_model  # which model answered
            assert 0 <= row["label"] <= 9 and len(row["top_k"]) == 2
            assert row["top_k"][0]["label"] == row["label"]
            assert isinstance(row["unsure"], bool) and 0 <= row["confidence"] <= 1
        else:
            assert set(row) == {"file", "error"}, case.name
            assert "\n" not in row["error"] and "Traceback" not in row["error"]


def test_all_good_files_exit_zero_and_table_is_readable(tiny_model, tmp_path, capsys):
    good = tmp_path / "shirt.jpg"
    good.write_bytes(encode(Image.fromarray(garment()), "JPEG"))
    sample = tmp_path / "sample.png"
    sample.write_bytes(encode(Image.fromarray(np.eye(28, dtype=np.uint8) * 200), "PNG"))
    sneaky = tmp_path / "bad\x1b[31mname.png"  # a terminal escape in a file name
    sneaky.write_bytes(sample.read_bytes())
    assert main(["predict", "--model", tiny_model, str(good), str(sample), str(sneaky)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["file", "prediction"] and len(lines) == 4
    assert lines[0].split()[-1] == "model" and lines[1].endswith(tiny_model)
    assert lines[1].startswith(str(good)) and "%" in lines[1]
    assert "\x1b" not in lines[3] and "bad\\x1b[31mname.png" in lines[3]


def test_missing_model_is_a_message_not_a_traceback(tmp_path, capsys):
    status = main(["predict", "--model", str(tmp_path / "nowhere"), str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert status == 1 and err.startswith("error:") and "Traceback" not in err


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "fmnist_core", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow  # TensorFlow started in child processes
def test_real_process_exit_codes_and_no_traceback(tiny_model, tmp_path):
    evil = tmp_path / EVIL_NAME
    evil.write_bytes(encode(Image.fromarray(garment()), "PNG"))
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(50))
    done = _run("predict", "--json", "--model", tiny_model, str(evil), str(junk))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    rows = _json_lines(done.stdout)
    assert [row["file"] for row in rows] == [str(evil), str(junk)]
    assert "label" in rows[0] and "error" in rows[1]
    for usage in (["predict"], ["predict", "--top-k", "0", "x.png"], ["predict", "--bogus"]):
        done = _run(*usage)
        assert done.returncode == 2 and "Traceback" not in done.stderr and "usage" in done.stderr


@pytest.mark.slow  # TensorFlow started in child processes
def test_tensorflows_start_up_noise_stays_off_stderr_unless_asked(tiny_model, tmp_path):
    """Without a GPU, TensorFlow's C++ start-up wrote "failed call to cuInit ... CUDA error"
    and other lines to stderr, whatever TF_CPP_MIN_LOG_LEVEL said."""
    image = tmp_path / "shirt.png"
    image.write_bytes(encode(Image.fromarray(garment()), "PNG"))
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    command = [sys.executable, "-m", "fmnist_core"]
    quiet = subprocess.run(
        [*command, "predict", "--model", tiny_model, str(image)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert quiet.returncode == 0 and quiet.stderr == ""
    verbose = subprocess.run(
        [*command, "--verbose", "predict", "--model", tiny_model, str(image)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert verbose.returncode == 0 and verbose.stderr.strip()  # TensorFlow's lines, as asked
    assert verbose.stdout == quiet.stdout
    missing = subprocess.run(
        [*command, "predict", "--model", str(tmp_path / "nowhere"), str(image)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert missing.returncode == 1 and missing.stderr.startswith("error: ")  # ours still shown
