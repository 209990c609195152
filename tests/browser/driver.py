"""How the browser tests drive the app: find its pages, open one, wait for the script to
finish, read errors, upload files, draw on the canvas, click plotly points.

Plain functions over a Playwright `Page` (called `tab` here, so as not to clash with the
app's own pages); the fixtures that create the server and the browser are in conftest.py.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# The app's own modules (ui.navigation, fmnist_core) and the tests' shared paths (locations),
# also for the benchmarks that drive the browser.
for folder in (REPO_ROOT, REPO_ROOT / "tests"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from fmnist_core.classes import CLASS_NAMES  # noqa: E402

from locations import FIXTURE_PHOTOS_DIR  # noqa: E402

APP = "[data-testid=stApp]"
IDLE = f"{APP}[data-test-script-state=notRunning]"
ERROR_SELECTORS = ("[data-testid=stException]", "[data-testid=stAlertContentError]")
CANVAS = "[data-testid=stBidiComponentIsolated] canvas.upper-canvas"
UPLOAD_INPUT = "[data-testid=stFileUploaderDropzoneInput]"
SLOW = 120_000  # ms: the app shares 2 cores with training runs, so waits are generous
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1280, "height": 900}
SERVER_START_TIMEOUT = 180  # s: TensorFlow imports slowly while other work holds the CPUs


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def is_healthy(base_url: str, timeout: float = 10) -> bool:
    """True when the server answers `ok` on its health endpoint."""
    try:
        with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=timeout) as reply:
            return reply.status == 200 and reply.read().strip() == b"ok"
    except OSError:
        return False


APP_SERVER = "ui/app_server.py"  # what `make run` starts: ready once the bundled model is


class AppServer:
    """A running app server (`streamlit run ui/app_server.py`), its URL and its model folder."""

    def __init__(self, models_dir: Path, log_path: Path, app: str | Path = APP_SERVER):
        self.app = str(app)  # another app only for benchmarks (a floor to compare with)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.models_dir = models_dir
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = dict(
            os.environ,
            FMNIST_MODELS_DIR=str(self.models_dir),
            FMNIST_OFFLINE="1",
            FMNIST_SWEEPS_DIR=str(self.models_dir / ".sweeps"),  # hidden: never a model entry
            TF_CPP_MIN_LOG_LEVEL="2",
            PYTHONUNBUFFERED="1",
        )
        command = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            self.app,
            "--server.port",
            str(self.port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
            "--server.runOnSave",
            "false",
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed as one at the end
            )
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.process.returncode}:\n" + self.log_tail())
            if is_healthy(self.url, timeout=2):
                return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"streamlit not healthy after {SERVER_START_TIMEOUT} s:\n" + self.log_tail())

    def healthy(self) -> bool:
        return self.process is not None and self.process.poll() is None and is_healthy(self.url)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        pgid = os.getpgid(self.process.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=15)


SEED_MODEL = "browser-seed"


def train_seed_model(models_dir: Path, name: str = SEED_MODEL) -> str:
    """Train a small MLP (2 epochs, 6,000 images) with the CLI into `models_dir`."""
    command = [
        sys.executable,
        "-m",
        "fmnist_core",
        "train",
        "--model",
        "mlp",
        "--epochs",
        "2",
        "--train-limit",
        "6000",
        "--name",
        name,
    ]
    env = dict(os.environ, FMNIST_MODELS_DIR=str(models_dir), FMNIST_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"training the seed model failed:\n{result.stderr[-3000:]}")
    return name


@dataclass(frozen=True)
class AppPage:
    """One page routed by streamlit_app.py: its file, title and URL path."""

    file: str
    title: str
    url_path: str  # "" for the default page

    @property
    def name(self) -> str:
        return Path(self.file).stem


def app_pages() -> list[AppPage]:
    """The pages the router builds from `ui.navigation.PAGES` (the first is the default)."""
    from ui.navigation import PAGES

    return [
        AppPage(page.path, page.title, "" if position == 0 else Path(page.path).stem)
        for position, page in enumerate(PAGES)
    ]


def find_page(*names: str) -> AppPage:
    """The first routed page whose file stem or title contains one of `names`; the test
    fails, naming the routed pages, when there is none."""
    import pytest

    for page in app_pages():
        for name in names:
            if name.lower() in page.name.lower() or name.lower() in page.title.lower():
                return page
    pytest.fail(f"streamlit_app.py routes no page like {names}: {[p.file for p in app_pages()]}")


def wait_until_idle(tab, timeout_ms: int = SLOW, settle_s: float = 0.4) -> None:
    """Wait until the app's script has finished and stayed finished for `settle_s`.

    Right after an interaction the state can still read `notRunning` for a moment before
    the rerun starts, so one sighting is not enough: the state must hold.
    """
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        remaining = max(1, int((deadline - time.monotonic()) * 1000))
        tab.wait_for_selector(IDLE, state="attached", timeout=remaining)
        time.sleep(settle_s)
        if tab.locator(IDLE).count() == 1:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("the app's script kept running")


def open_app_page(tab, server, page: AppPage | str) -> None:
    """Navigate to one of the app's pages and wait for its script to finish."""
    url_path = page.url_path if isinstance(page, AppPage) else page
    tab.goto(f"{server.url}/{url_path}", wait_until="domcontentloaded", timeout=SLOW)
    tab.wait_for_selector(APP, timeout=SLOW)
    # The first run of a page can stall on a server-wide cache (dataset, model): wait for it.
    tab.wait_for_selector(f"{APP}[data-test-connection-state=CONNECTED]", timeout=SLOW)
    wait_until_idle(tab)


def error_texts(tab) -> list[str]:
    """The text of every exception box and `st.error` in the page."""
    texts = []
    for selector in ERROR_SELECTORS:
        texts += [t.strip() for t in tab.locator(selector).all_inner_texts()]
    return texts


def main_text(tab) -> str:
    """Everything the main area shows, as text."""
    return tab.locator("[data-testid=stMain]").inner_text()


def upload_files(tab, paths, index: int = 0) -> None:
    """Give files to the `index`-th file uploader of the page and wait for the rerun."""
    tab.locator(UPLOAD_INPUT).nth(index).set_input_files([str(p) for p in paths])
    wait_until_idle(tab)


def sample_photo(category: str = "t-shirt") -> Path:
    """A real photo of a garment, shipped with the tests (tests/fixtures/photos)."""
    photo = FIXTURE_PHOTOS_DIR / f"{category}.jpg"
    assert photo.is_file(), f"no photo {photo}"
    return photo


def draw_strokes(tab, strokes, canvas_index: int = 0) -> None:
    """Draw polylines on the drawable canvas; each stroke is a list of (x, y) in 0..1 of
    the canvas' size. Every stroke is sent to the script (a rerun) before the next starts:
    strokes drawn while the canvas re-renders can be lost."""
    canvas = tab.locator(CANVAS).nth(canvas_index)
    canvas.scroll_into_view_if_needed()
    for stroke in strokes:
        box = canvas.bounding_box()
        assert box, "the drawing canvas is not visible"
        points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
        tab.mouse.move(*points[0])
        tab.mouse.down()
        for point in points[1:]:
            tab.mouse.move(*point, steps=8)
        tab.mouse.up()
        wait_until_idle(tab)


def click_plotly_point(tab, chart, trace: int, point: int) -> None:
    """Click point `point` of trace `trace` in a plotly chart (a locator on its
    `stPlotlyChart` element) where it is drawn, and wait for the rerun."""
    tab.mouse.click(*plotly_point_position(tab, chart, trace, point))
    wait_until_idle(tab)


def plotly_point_position(tab, chart, trace: int, point: int) -> tuple[float, float]:
    """Where point `point` of trace `trace` is drawn on the screen, once the chart is."""
    chart.scroll_into_view_if_needed()
    tab.wait_for_function(
        "el => el.querySelector('.js-plotly-plot') && el.querySelector('.js-plotly-plot')._fullData",
        arg=chart.element_handle(),
        timeout=SLOW,
    )
    xy = chart.evaluate(
        """(el, [trace, point]) => {
            const gd = el.querySelector('.js-plotly-plot');
            const full = gd._fullData[trace];
            const xa = gd._fullLayout[full.xaxis.replace('x', 'xaxis')];
            const ya = gd._fullLayout[full.yaxis.replace('y', 'yaxis')];
            const x = xa.l2p(xa.d2l(full.x[point])) + xa._offset;
            const y = ya.l2p(ya.d2l(full.y[point])) + ya._offset;
            const box = gd.getBoundingClientRect();
            return [box.left + x, box.top + y];
        }""",
        [trace, point],
    )
    return xy[0], xy[1]


def choose_option(tab, label: str, option: str) -> None:
    """Pick the option whose text contains `option` in the select box labelled `label`."""
    tab.get_by_role("combobox", name=label, exact=True).click()
    tab.get_by_role("option", name=option).first.click()
    wait_until_idle(tab)


def chart(tab, key: str):
    """The plotly chart made with `st.plotly_chart(..., key=key)`."""
    return tab.locator(f".st-key-{key} [data-testid=stPlotlyChart]").first


def plotly_point_count(chart_locator) -> int:
    """How many points every trace of a plotly chart draws together (0 before it exists)."""
    return chart_locator.evaluate(
        """el => {
            const gd = el.querySelector('.js-plotly-plot');
            if (!gd || !gd._fullData) return 0;
            // _length: the decoded length (plotly sends big arrays as base64 typed arrays)
            return gd._fullData.reduce((n, t) => n + (t._length || 0), 0);
        }"""
    )


def fill_number(tab, label: str, value: float) -> None:
    """Type a value into the number input labelled `label` (committed on blur or submit)."""
    field = tab.get_by_role("spinbutton", name=label, exact=True)
    field.fill(str(value))
    field.press("Tab")


def wait_for_visible(tab, locator, timeout_ms: int = SLOW) -> None:
    """Wait until `locator` is visible; fail at once, with the page's message, if the page
    shows an error or an exception meanwhile."""
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        if locator.count() and locator.first.is_visible():
            return
        errors = error_texts(tab)
        if errors:
            raise AssertionError(f"the page shows an error instead: {errors}")
        time.sleep(0.5)
    raise AssertionError(
        f"{locator} did not appear within {timeout_ms / 1000:.0f} s; the page says: {main_text(tab)[:1500]}"
    )


def use_model(tab, name: str, label: str = "Model") -> None:
    """Pick a saved model by name in the page's model picker."""
    choose_option(tab, label, name)


PREDICTION = re.compile(r"^(" + "|".join(re.escape(name) for name in CLASS_NAMES) + r") · \d+\.\d%$")


def prediction_heading(tab):
    """The headline of a shown prediction: 'Class · 97.3%'."""
    return tab.get_by_role("heading", level=3).filter(has_text=PREDICTION)


def open_tab(tab, label: str) -> None:
    """Open the `st.tabs` tab whose label contains `label` and wait for the rerun."""
    tab.get_by_role("tab", name=label).first.click()
    wait_until_idle(tab)


def wait_for_condition(
    check, timeout_s: float = SLOW / 1000, what: str = "the condition", every_s: float = 0.5
) -> None:
    """Poll `check()` until it is true; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout_s:.0f} s")
        time.sleep(every_s)


# Waiting for the rerun an action causes: an observer on the app's script state, armed
# before the action, records that a run started; the run is over when the state is back
# to notRunning after that. With `quiet_ms` > 0, a run so short that the page never showed
# it as running (or no run at all) counts as over once `quiet_ms` have passed since the
# action; 0 insists on seeing the run. (Used by crowd.py's many-users scenario.)
ARM_RERUN_WATCH = """() => {
    const app = document.querySelector('[data-testid=stApp]');
    window.__fmnistRan = false;
    window.__fmnistArmedAt = Date.now();
    if (!window.__fmnistWatch) {
        // Records, not the attribute now: a run shorter than one observer callback shows
        // up only as a record whose old value was 'running'.
        window.__fmnistWatch = new MutationObserver((records) => {
            if (app.getAttribute('data-test-script-state') === 'running'
                || records.some((record) => record.oldValue === 'running')) window.__fmnistRan = true;
        });
        window.__fmnistWatch.observe(app, {attributes: true, attributeOldValue: true,
                                           attributeFilter: ['data-test-script-state']});
    }
}"""
RERUN_DONE = """(quietMs) => document.querySelector('[data-testid=stApp]').getAttribute(
    'data-test-script-state') === 'notRunning'
    && (window.__fmnistRan || (quietMs > 0 && Date.now() - window.__fmnistArmedAt > quietMs))"""
