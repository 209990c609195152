"""Per-model work runs once per model, on one background thread, never in the caller."""

from __future__ import annotations

import threading
import time

from ui import model_work


def test_each_model_is_worked_on_once_and_in_the_background(monkeypatch):
    done: list[tuple[str, str]] = []
    finished = threading.Event()

    keys = [f"test-model-{time.monotonic_ns()}-{i}" for i in range(2)]

    def compute(classifier, fingerprint):
        if fingerprint in keys:  # not a real model another test queued meanwhile
            done.append((fingerprint, threading.current_thread().name))
        if len(done) == 2:
            finished.set()

    monkeypatch.setattr(model_work, "_compute", compute)
    for key in (keys[0], keys[0], keys[1], keys[0]):
        model_work.warm_up(object(), key)
    assert finished.wait(30)
    time.sleep(0.2)  # a repeated key would have been queued behind the second
    assert [key for key, _ in done] == keys
    assert {thread for _, thread in done} == {"model-work"}


def test_a_failure_is_logged_and_the_worker_goes_on(monkeypatch, caplog):
    seen = threading.Event()

    def compute(classifier, fingerprint):
        if fingerprint.endswith("broken"):
            raise RuntimeError("no dataset here")
        seen.set()

    monkeypatch.setattr(model_work, "_compute", compute)
    stamp = time.monotonic_ns()
    model_work.warm_up(object(), f"{stamp}-broken")
    model_work.warm_up(object(), f"{stamp}-fine")
    assert seen.wait(30)
    assert "no dataset here" in caplog.text


def test_waiting_returns_once_the_queued_work_is_done(monkeypatch):
    """The server's startup hook waits for the bundled model's work this way."""
    release = threading.Event()
    done: list[str] = []

    def compute(classifier, fingerprint):
        release.wait(30)
        done.append(fingerprint)

    monkeypatch.setattr(model_work, "_compute", compute)
    key = f"test-model-{time.monotonic_ns()}-slow"
    model_work.warm_up(object(), key)
    waiter = threading.Thread(target=model_work.wait_until_done)
    waiter.start()
    waiter.join(0.5)
    assert waiter.is_alive() and done == []  # still computing: the wait goes on
    release.set()
    waiter.join(30)
    assert not waiter.is_alive() and done == [key]


def test_a_models_work_covers_what_clicks_on_test_images_read(monkeypatch):
    """The evaluation, the similar-image index, the PCA map and every test image's Grad-CAM:
    each asked for once, for this model, in the background."""
    from ui import evaluations, insights, resources

    calls: list[str] = []
    data = type("Data", (), {"checksum": "abc"})()
    monkeypatch.setattr(resources, "dataset", lambda: data)
    monkeypatch.setattr(evaluations, "test_evaluation", lambda c, d, f, s: calls.append(f"evaluation {f}"))
    monkeypatch.setattr(insights, "train_index", lambda c, f, d: calls.append(f"index {f}"))
    monkeypatch.setattr(insights, "embedding_map", lambda c, f, d, m: calls.append(f"{m} map {f}"))
    monkeypatch.setattr(insights, "test_grad_cams", lambda c, f, d: calls.append(f"grad-cams {f}"))
    model_work._compute(object(), "model-1")
    assert calls == ["evaluation model-1", "index model-1", "PCA map model-1", "grad-cams model-1"]
