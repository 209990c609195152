"""What a person waits for in a real browser: from a click to the settled page.

Headless Chromium (Playwright, Debian's /usr/bin/chromium) drives `streamlit run` with the
bundled model. Each figure runs from the action (a click, a typed number, a canvas stroke,
an upload) to the moment the page's script has finished; for the canvas also to the moment
the new prediction's headline is visible.

    .venv/bin/python bench/browser_clicks.py [--rounds 5] [--no-cold]

- cold: the first visit of each page on a freshly started server (one server per page),
  and how long each server took to start;
- warm page switch: clicking each page in the sidebar, once every page has been seen;
- clicks: a test image number, Random, a canvas stroke, a photo upload on Classify; Shuffle
  on Dataset; a confusion-matrix cell on Evaluate.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "browser"))

from driver import (  # noqa: E402
    CANVAS,
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO_ROOT,
    SLOW,
    UPLOAD_INPUT,
    VIEWPORT,
    AppServer,
    app_pages,
    chart,
    open_app_page,
    plotly_point_position,
    prediction_heading,
    wait_until_idle,
)

PHOTOS = [REPO_ROOT / "tests" / "fixtures" / "photos", REPO_ROOT.parent / "shared" / "photos" / "dev"]


# Every tab counts the messages its Streamlit connection receives. A run can be over before
# the browser ever draws its "running" state (a fast run's messages all arrive between two
# frames), so a run is seen by its messages, not by that state.
COUNT_MESSAGES = """(() => {
    const Native = window.WebSocket;
    window.__fmnistMessages = 0;
    window.__fmnistLastMessage = 0;
    window.WebSocket = class extends Native {
        constructor(...args) {
            super(...args);
            this.addEventListener('message', () => {
                window.__fmnistMessages += 1;
                window.__fmnistLastMessage = performance.now();
            });
        }
    };
})();"""
ARM = """() => {
    window.__fmnistArm = {messages: window.__fmnistMessages, at: performance.now(), calm: null};
}"""
# Settled: messages came since the action, the script is not running, nothing on the page is
# stale, and no message has come for 30 ms; the answer is when that calm began (ms after
# the action), so the 30 ms of checking are not counted.
SETTLED = """() => {
    const arm = window.__fmnistArm, now = performance.now();
    const app = document.querySelector('[data-testid=stApp]');
    const idle = app.getAttribute('data-test-script-state') === 'notRunning'
        && document.querySelector('[data-testid=stMain] [data-stale=true]') === null;
    if (!idle || window.__fmnistMessages === arm.messages) { arm.calm = null; return false; }
    if (arm.calm === null || window.__fmnistLastMessage > arm.calm) { arm.calm = now; return false; }
    return now - arm.calm >= 30 ? arm.calm - arm.at : false;
}"""


def new_tab(browser):
    """A tab in a fresh context (own cookies, own Streamlit session) that counts messages."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(COUNT_MESSAGES)
    tab = context.new_page()
    tab.set_default_timeout(SLOW)
    return tab


def settle_time(
    tab, action: Callable[[], None], visible: Callable[[], bool] | None = None
) -> tuple[float, float | None]:
    """Seconds from `action` until the script run it starts has finished and the page has
    settled (and, when given, until `visible()` first holds, polled every 10 ms)."""
    tab.evaluate(ARM)
    start = time.perf_counter()
    action()
    seen = None
    if visible is not None:
        while not visible():
            if time.perf_counter() - start > SLOW / 1000:
                raise TimeoutError("the result never showed")
            time.sleep(0.01)
        seen = time.perf_counter() - start
    settled = tab.wait_for_function(SETTLED, timeout=SLOW, polling=10).json_value() / 1000
    wait_until_idle(tab)  # nothing still pending before the next action
    return settled, seen


def report(label: str, seconds: list[float]) -> None:
    values = sorted(seconds)
    print(
        f"  {label:<40} median {statistics.median(values) * 1000:6.0f} ms   "
        f"worst {values[-1] * 1000:6.0f} ms   ({len(values)} runs)",
        flush=True,
    )


def sample_photos(count: int) -> list[Path]:
    for folder in PHOTOS:
        found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
        if found:
            return found[:count]
    return []


def cold_visits(browser, models: Path, log: Path) -> None:
    print(
        "Cold: the first visit of each page, each on a freshly started server (the server "
        "accepts connections once it has loaded the bundled model and done its work)",
        flush=True,
    )
    starts = []
    for page in app_pages():
        server = AppServer(models, log)
        launched = time.perf_counter()
        server.start()
        starts.append(time.perf_counter() - launched)
        try:
            tab = new_tab(browser)
            start = time.perf_counter()
            open_app_page(tab, server, page)
            report(page.title, [time.perf_counter() - start - 0.4])  # less the idle check
            tab.context.close()
        finally:
            server.stop()
    report("(server start, until it is ready)", starts)


def warm_clicks(browser, models: Path, log: Path, rounds: int) -> None:
    server = AppServer(models, log)
    server.start()
    try:
        tab = new_tab(browser)
        pages = app_pages()
        for page in pages:  # every page once, so that what a page loads is loaded
            open_app_page(tab, server, page)
        time.sleep(20)  # the bundled model's background work (test set, index, map)
        print("\nWarm page switch (sidebar click to settled page)", flush=True)
        switches: dict[str, list[float]] = {page.title: [] for page in pages}
        for _ in range(rounds):
            for page in pages:
                link = tab.locator("[data-testid=stSidebarNav] a", has_text=page.title).first
                switches[page.title].append(settle_time(tab, link.click)[0])
        for title, seconds in switches.items():
            report(title, seconds)
        floor_switches(browser, models.parent, log.with_name("bench-floor-server.log"), rounds)
        classify_clicks(tab, server, rounds)
        other_clicks(tab, server, rounds)
    finally:
        server.stop()


# The least a page switch costs on this machine: a Streamlit app of two pages that show a
# title and a line each, served with the app's own settings.
FLOOR_APP = """import streamlit as st


def alpha():
    st.title("Alpha")
    st.write("A page with a title and a line of text.")


def beta():
    st.title("Beta")
    st.write("Another page with a title and a line of text.")


st.navigation([st.Page(alpha, title="Alpha", default=True), st.Page(beta, title="Beta", url_path="beta")]).run()
"""


def floor_switches(browser, folder: Path, log: Path, rounds: int) -> None:
    app = folder / "floor_app.py"
    app.write_text(FLOOR_APP)
    server = AppServer(folder / "models", log, app=app)
    server.start()
    try:
        tab = new_tab(browser)
        open_app_page(tab, server, "")
        times = []
        for _ in range(rounds):
            for title in ("Beta", "Alpha"):
                link = tab.locator("[data-testid=stSidebarNav] a", has_text=title).first
                times.append(settle_time(tab, link.click)[0])
        report("(floor: a two-page app of titles only)", times)
    finally:
        server.stop()


def classify_clicks(tab, server, rounds: int) -> None:
    print("\nClassify (click to settled page; for the canvas also until the answer shows)", flush=True)
    open_app_page(tab, server, "classify")
    tab.get_by_role("tab", name="Test image").first.click()
    wait_until_idle(tab)
    number = tab.get_by_role("spinbutton", name="Test image number", exact=True)

    def enter(value: int) -> Callable[[], None]:
        return lambda: (number.fill(str(value)), number.press("Enter"))

    report("a test image number", [settle_time(tab, enter(100 + i))[0] for i in range(rounds)])
    random = tab.get_by_role("button", name="Random")
    report("Random", [settle_time(tab, random.click)[0] for _ in range(rounds)])

    tab.get_by_role("tab", name="Draw").first.click()
    wait_until_idle(tab)
    settled, shown = [], []
    for i in range(rounds):
        canvas = tab.locator(CANVAS).first
        box = canvas.bounding_box()
        before = prediction_heading(tab).all_inner_texts()

        x = box["x"] + box["width"] * (0.3 + 0.08 * i)
        tab.mouse.move(x, box["y"] + box["height"] * 0.15)
        tab.mouse.down()
        tab.mouse.move(x, box["y"] + box["height"] * 0.85, steps=8)

        def answer_changed(before=before):
            texts = prediction_heading(tab).all_inner_texts()
            return bool(texts) and texts != before

        total, seen = settle_time(tab, tab.mouse.up, answer_changed)  # from the pen's lift
        settled.append(total)
        shown.append(seen)
    report("a canvas stroke: settled", settled)
    report("a canvas stroke: answer visible", shown)

    photos = sample_photos(rounds)
    if photos:
        tab.get_by_role("tab", name="Upload photos").first.click()
        wait_until_idle(tab)
        upload = tab.locator(UPLOAD_INPUT).first
        report(
            "a phone photo upload", [settle_time(tab, lambda p=p: upload.set_input_files(str(p)))[0] for p in photos]
        )
    else:
        print("  (no photos found for the upload figure)")


def other_clicks(tab, server, rounds: int) -> None:
    print("\nOther pages", flush=True)
    open_app_page(tab, server, "dataset")
    shuffle = tab.get_by_role("button", name="Shuffle").first
    report("Dataset: Shuffle", [settle_time(tab, shuffle.click)[0] for _ in range(rounds)])
    open_app_page(tab, server, "evaluate")
    matrix = chart(tab, "eval_confusion_chart")
    cells = []
    for i in range(rounds):  # a different cell each time, on and off the diagonal
        xy = plotly_point_position(tab, matrix, trace=i % 2, point=i)
        cells.append(settle_time(tab, lambda xy=xy: tab.mouse.click(*xy))[0])
    report("Evaluate: a confusion-matrix cell", cells)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-cold", action="store_true", help="skip the fresh-server visits")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; {args.rounds} rounds.", flush=True)
    log = REPO_ROOT / "test-artifacts" / "bench-browser-clicks-server.log"
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        models = Path(folder) / "models"
        if not args.no_cold:
            cold_visits(browser, models, log)
        warm_clicks(browser, models, log, args.rounds)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
