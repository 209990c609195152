"""The websocket users behind bench/concurrency.py see what a browser would: their own
answers, for their own images, from real script runs."""

from __future__ import annotations

import pytest

from crowd import run_in_thread
from driver import CLASS_NAMES
from websocket_user import WebsocketUser, websocket_crowd

pytestmark = pytest.mark.browser


def test_websocket_users_get_their_own_right_answers(app_server, seed_model, real_data):
    from fmnist_core import registry
    from fmnist_core.prediction import predict

    report = run_in_thread(websocket_crowd(app_server.url, seed_model, users=3, images_per_user=2, trainer_preset=None))

    assert sorted(a.index for a in report.answers) == [1, 2, 3, 4, 5, 6]
    classifier = registry.load(app_server.models_dir / seed_model)
    expected = predict(classifier, real_data.x_test[[a.index for a in report.answers]])
    for answer, prediction in zip(report.answers, expected):
        assert answer.shown == prediction.name, answer
        assert answer.true_class == CLASS_NAMES[real_data.y_test[answer.index]], answer
        assert 0 < answer.seconds < 60


def test_a_websocket_user_finds_widgets_and_tabs_by_label(app_server):
    """Opening a tab reruns the page with that tab open; a tab the page lacks is refused."""

    async def scenario():
        user = WebsocketUser(app_server.url)
        try:
            opened = await user.open("classify")
            assert not opened.errors and "Model" in user.widgets
            tab = await user.open_tab("Test image")
            assert not any(text.startswith("### ") for text in opened.texts)  # the upload tab
            assert any(text.startswith("### ") for text in tab.texts), tab.texts
            with pytest.raises(KeyError):
                await user.open_tab("No such tab")
        finally:
            await user.close()

    run_in_thread(scenario())
