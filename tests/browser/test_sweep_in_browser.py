"""A sweep in the browser: start one from the form, watch its first trial run, press Stop,
and see it end with its trials kept."""

from __future__ import annotations

import pytest

from driver import (
    SLOW,
    choose_option,
    error_texts,
    fill_number,
    find_page,
    main_text,
    open_app_page,
    wait_for_condition,
)

pytestmark = pytest.mark.browser

SWEEP_WAIT_S = 300  # the first trial waits for TensorFlow in a fresh child on busy CPUs


def test_start_and_stop_a_sweep(page, app_server, screenshots):
    from fmnist_core.sweep import JOURNAL_FILE, find_study

    open_app_page(page, app_server, find_page("sweep"))
    choose_option(page, "Model", "Seed MLP")
    page.get_by_label("Study", exact=True).fill("browser-sweep")
    fill_number(page, "Trials", 20)
    fill_number(page, "Training images", 3000)
    page.get_by_text("Search space").click()
    fill_number(page, "Epochs per trial", 200)  # still running when Stop is pressed
    page.get_by_role("button", name="Start sweep").click()

    wait_for_condition(
        lambda: "trial 0 running, epoch" in main_text(page) or bool(error_texts(page)), SWEEP_WAIT_S, "running trial"
    )
    assert error_texts(page) == []
    screenshots(page, "sweep-live")
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("Finished (stopped)").wait_for(timeout=SWEEP_WAIT_S * 1000)
    assert error_texts(page) == []
    start = page.get_by_role("button", name="Start sweep")
    wait_for_condition(start.is_enabled, SLOW / 1000, "Start button enabled again")
    stop = page.get_by_role("button", name="Stop", exact=True)
    wait_for_condition(lambda: stop.count() == 0, SLOW / 1000, "Stop button gone")

    study = find_study("browser-sweep", str(app_server.models_dir / ".sweeps" / JOURNAL_FILE))
    assert study.trials[-1].user_attrs.get("stopped"), "the running trial was not marked stopped"
