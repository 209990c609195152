"""Eight users classify at once while a ninth trains: everyone gets the right answers for
their own images, nobody sees another's model, and the server stays up.

Latency under this load is measured by bench/concurrency.py, not asserted here."""

from __future__ import annotations

import numpy as np
import pytest

from crowd import run_crowd
from driver import CLASS_NAMES

pytestmark = pytest.mark.browser

USERS = 8
IMAGES_PER_USER = 3


def test_eight_users_classify_while_another_session_trains(app_server, seed_model, real_data):
    from fmnist_core import registry
    from fmnist_core.prediction import predict

    report = run_crowd(url=app_server.url, model=seed_model, users=USERS, images_per_user=IMAGES_PER_USER, train=True)

    assert report.trained_throughout, "the training run ended before the users were done"
    assert len(report.answers) == USERS * IMAGES_PER_USER
    assert {a.user for a in report.answers} == set(range(USERS))
    classifier = registry.load(app_server.models_dir / seed_model)
    indices = [a.index for a in report.answers]
    expected = predict(classifier, real_data.x_test[indices])
    for answer, prediction in zip(report.answers, expected):
        assert answer.shown == prediction.name, answer
        assert answer.true_class == CLASS_NAMES[real_data.y_test[answer.index]], answer

    # The trainer's unsaved model is the trainer's alone.
    assert "Unsaved model from Train" in report.trainer_view
    assert len(report.user_views) == USERS
    for view in report.user_views:
        assert "Unsaved model" not in view, view
    assert app_server.healthy()
    seconds = [a.seconds for a in report.answers]
    print(f"classify latency under load: median {np.median(seconds):.2f} s, max {max(seconds):.2f} s")
