"""Train in the browser: start a small run from the form, watch the curves grow, reload
and find the run again, press Stop, save the model, and find it in the registry."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from driver import (
    SLOW,
    chart,
    choose_option,
    error_texts,
    fill_number,
    find_page,
    open_app_page,
    plotly_point_count,
    wait_for_visible,
    wait_until_idle,
)

pytestmark = pytest.mark.browser

SAVED_NAME = "browser-stopped-run"
TRAINING_WAIT_MS = 300_000  # setting up a run (TensorFlow, the data split) is slow on busy CPUs


def wait_for_growth(chart_locator, above: int, timeout_s: float = TRAINING_WAIT_MS / 1000) -> int:
    """Wait until the chart draws more than `above` points; return how many it draws."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        count = plotly_point_count(chart_locator)
        if count > above:
            return count
        time.sleep(0.5)
    raise AssertionError(f"the chart stayed at {above} points for {timeout_s} s")


def test_train_watch_stop_and_save(page, app_server, screenshots):
    from fmnist_core import registry

    missing_media = []  # pictures the page asked for and the server no longer had
    page.on(
        "response",
        lambda reply: missing_media.append(reply.url) if "/media/" in reply.url and reply.status == 404 else None,
    )
    open_app_page(page, app_server, find_page("train"))
    choose_option(page, "Model", "Simple CNN")
    # Long enough to still be running when Stop is pressed; small enough per epoch.
    fill_number(page, "Epochs", 100)
    fill_number(page, "Training images", 3000)
    page.get_by_text("Keep the optimiser steps").click()
    start = page.get_by_role("button", name="Start training")
    start.click()
    expect(page.get_by_role("heading", name="Run: Simple CNN")).to_be_in_viewport(timeout=SLOW)
    expect(start).to_be_disabled()

    loss_chart = chart(page, "train_loss_chart")
    wait_for_visible(page, loss_chart, timeout_ms=TRAINING_WAIT_MS)
    first = wait_for_growth(loss_chart, above=0)
    page.reload()  # a new session: the browser's id in the address finds the run again
    wait_for_visible(page, loss_chart, timeout_ms=TRAINING_WAIT_MS)
    expect(start).to_be_disabled()
    other_tab = page.context.new_page()  # the plain address: the browser's cookie finds it
    open_app_page(other_tab, app_server, find_page("train"))
    expect(other_tab.get_by_role("button", name="Stop")).to_be_visible(timeout=SLOW)
    other_tab.close()
    grown = wait_for_growth(loss_chart, above=first)
    assert grown > first
    assert page.get_by_role("progressbar").count() >= 1
    expect(page.locator("img[src^='data:image/png']")).to_have_count(16, timeout=SLOW)  # preview
    loss_chart.evaluate("el => el.scrollIntoView({block: 'center'})")
    screenshots(page, "train-live")

    page.get_by_role("button", name="Stop").click()
    page.get_by_text("Done:").wait_for(timeout=TRAINING_WAIT_MS)
    assert "stopped" in page.locator("[data-testid=stAlertContentSuccess]").inner_text()

    page.get_by_label("Save as", exact=True).fill(SAVED_NAME)
    page.get_by_role("button", name="Save to the model registry").click()
    page.get_by_text(f"Saved as {SAVED_NAME}").wait_for(timeout=SLOW)
    wait_until_idle(page)
    assert error_texts(page) == []

    entries = {e.name: e for e in registry.list_entries(app_server.models_dir)}
    assert SAVED_NAME in entries and not entries[SAVED_NAME].broken
    assert entries[SAVED_NAME].meta["stop_reason"] == "stopped"
    assert missing_media == []
