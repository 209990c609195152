"""Many users at once: N browser sessions classify test images on the Classify page while
another session trains on the Train page; then every session says which model is its
active one. Used by test_concurrency.py (correctness) and bench/concurrency.py (latency).

Async Playwright, one Chromium with one context (own cookies, own Streamlit session) per
user. `run_crowd` runs the whole scenario in a thread of its own (`run_in_thread`), so it
can be called from code that already drives a sync Playwright browser.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from dataclasses import dataclass, field

from driver import (
    ARM_RERUN_WATCH,
    CHROMIUM,
    CHROMIUM_ARGS,
    ERROR_SELECTORS,
    IDLE,
    PREDICTION,
    RERUN_DONE,
    SLOW,
    VIEWPORT,
)

TRAINING_WAIT_MS = 300_000
TRUE_CLASS = re.compile(r"True class: (.+?) [✅❌]")
# The `src` of the image captioned "What the model sees (28x28)", or null.
PREVIEW_SRC = """() => {
    const box = [...document.querySelectorAll('[data-testid=stImage]')].find(
        el => el.innerText.includes('What the model sees (28x28)'));
    const img = box && box.querySelector('img');
    return img ? img.src : null;
}"""


@dataclass(frozen=True)
class Answer:
    """What one session was shown for one test image, and how long it waited."""

    user: int
    index: int  # test image number
    shown: str  # the predicted class in the page's headline
    true_class: str  # the page's "True class" line
    seconds: float  # from committing the number to the end of the script run


@dataclass
class CrowdReport:
    answers: list[Answer] = field(default_factory=list)
    trained_throughout: bool | None = None  # None: nobody trained
    # The trainer's images per second, sampled from its page alone and while users click.
    training_rates_alone: list[float] = field(default_factory=list)
    training_rates_loaded: list[float] = field(default_factory=list)
    trainer_view: str = ""  # the trainer's Models page, active-model line
    user_views: list[str] = field(default_factory=list)  # the same for every classifier


async def _settle(page) -> None:
    """The script has finished and stays finished for a moment (see driver.wait_until_idle)."""
    while True:
        await page.wait_for_selector(IDLE, state="attached", timeout=SLOW)
        await asyncio.sleep(0.4)
        if await page.locator(IDLE).count() == 1:
            return


async def _rerun_after(page, action, quiet_ms: int = 0) -> float:
    """Run `action` (a coroutine function), wait for the script run it triggers (see
    driver.RERUN_DONE for `quiet_ms`); return the seconds it took."""
    await page.evaluate(ARM_RERUN_WATCH)
    start = time.perf_counter()
    await action()
    await page.wait_for_function(RERUN_DONE, arg=quiet_ms, timeout=SLOW, polling=50)
    return time.perf_counter() - start


async def _open(context, url: str, path: str):
    page = await context.new_page()
    page.set_default_timeout(SLOW)
    await page.goto(f"{url}/{path}", wait_until="domcontentloaded")
    await _settle(page)
    return page


async def _choose(page, label: str, option: str) -> None:
    box = page.get_by_role("combobox", name=label, exact=True)
    if option in await box.input_value():
        return  # already chosen: choosing it again would not rerun the script

    async def pick():
        await box.click()
        await page.get_by_role("option", name=option).first.click()

    await _rerun_after(page, pick, quiet_ms=3000)
    await _settle(page)


async def classify_test_images(context, url: str, user: int, model: str, indices: list[int]) -> list[Answer]:
    """One user: the Classify page, a model, the Test image tab, then each image by number."""
    page = await _open(context, url, "classify")
    await _choose(page, "Model", model)
    await page.get_by_role("tab", name="Test image").first.click()
    field_ = page.get_by_role("spinbutton", name="Test image number", exact=True)
    await field_.wait_for()
    # The tab's run is over once it has drawn test image #0's preview and finished.
    await page.wait_for_function(
        f"() => ({PREVIEW_SRC})() !== null && document.querySelector("
        f"'[data-testid=stApp]').getAttribute('data-test-script-state') === 'notRunning'",
        timeout=2 * SLOW,
        polling=100,
    )
    await _settle(page)
    answers = []
    for index in indices:
        before = await page.evaluate(PREVIEW_SRC)
        start = time.perf_counter()
        await field_.fill(str(index))
        await field_.press("Enter")
        # Done when the 28x28 preview shows another image and the script has finished.
        await page.wait_for_function(
            f"(before) => ({PREVIEW_SRC})() !== before && document.querySelector("
            f"'[data-testid=stApp]').getAttribute('data-test-script-state') === 'notRunning'",
            arg=before,
            timeout=2 * SLOW,
            polling=50,
        )  # queued behind 8 users and a run
        seconds = time.perf_counter() - start
        heading = page.get_by_role("heading", level=3).filter(has_text=PREDICTION)
        shown = (await heading.first.inner_text()).split(" · ")[0].strip()
        true_class = TRUE_CLASS.search(await page.locator("[data-testid=stMain]").inner_text())
        answers.append(Answer(user, index, shown, true_class[1] if true_class else "", seconds))
    return answers


async def start_training(context, url: str, preset: str | None = None):
    """The trainer: a preset's run (all 60,000 images), or by default a long CNN run (100
    epochs, about half an hour), left running. Training has a process of its own, so an MLP
    on 10,000 images had ended before eight slow users were done."""
    page = await _open(context, url, "train")
    if preset:
        await _choose(page, "Start from a preset", preset)
    else:
        await _choose(page, "Model", "Simple CNN")
        for label, value in (("Epochs", "100"), ("Training images", "60000")):
            number = page.get_by_role("spinbutton", name=label, exact=True)
            await number.fill(value)
            await number.press("Tab")
    await page.get_by_role("button", name="Start training").click()
    await _wait_for_text(page, re.compile(r"Epoch \d+ of \d+ · step"), TRAINING_WAIT_MS)
    return page


TRAINING_RATE = re.compile(r"([\d,]+) images/s")


async def sample_training_rates(page, until: asyncio.Event, every_s: float = 2.0) -> list[float]:
    """The trainer's images per second as its page shows them, every `every_s` seconds
    until `until` is set (or the run has ended)."""
    rates: list[float] = []
    while not until.is_set():
        found = TRAINING_RATE.findall(await page.locator("[data-testid=stMain]").inner_text())
        if found:
            rates.append(float(found[-1].replace(",", "")))
        if not await page.get_by_role("button", name="Stop").count():
            break
        try:
            await asyncio.wait_for(until.wait(), every_s)
        except TimeoutError:
            pass
    return rates


async def _rates_for(page, seconds: float) -> list[float]:
    done = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, done.set)
    return await sample_training_rates(page, done)


async def _wait_for_text(page, text, timeout_ms: int) -> None:
    """Wait for `text` (a string or a regex) in the page; fail at once, with the page's
    message, if the page shows an error meanwhile."""
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        if await page.get_by_text(text).count():
            return
        errors = await page.locator(", ".join(ERROR_SELECTORS)).all_inner_texts()
        if errors:
            raise AssertionError(f"the page shows an error instead: {errors}")
        await asyncio.sleep(0.5)
    main = await page.locator("[data-testid=stMain]").inner_text()
    raise AssertionError(f"no {text!r} within {timeout_ms / 1000:.0f} s; the page says: {main[-1500:]}")


async def stop_and_use_unsaved(page) -> None:
    """Stop the run, then make its (unsaved) model this session's active model."""
    await page.get_by_role("button", name="Stop").click()
    await _wait_for_text(page, "Done:", TRAINING_WAIT_MS)
    await _settle(page)
    await _rerun_after(page, page.get_by_role("button", name="Use it now without saving").click, quiet_ms=3000)


async def active_model_line(page) -> str:
    """The Models page's line naming this session's active model. Reached through the
    navigation, in the same session: loading its URL would start a new session."""
    await page.locator("[data-testid=stSidebarNav] a", has_text="Models").click()
    await page.get_by_role("heading", name="Models").first.wait_for()
    await _settle(page)
    line = page.locator("[data-testid=stAlertContentSuccess], [data-testid=stAlertContentWarning]")
    return (await line.first.inner_text()).strip()


async def crowd(
    url: str,
    model: str,
    users: int = 8,
    images_per_user: int = 4,
    train: bool = True,
    trainer_preset: str | None = None,
    alone_seconds: float = 0,
) -> CrowdReport:
    """`alone_seconds`: how long to sample the trainer's speed before the users come."""
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import async_playwright

    report = CrowdReport()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            trainer = None
            if train:
                trainer = await start_training(await browser.new_context(viewport=VIEWPORT), url, trainer_preset)
                if alone_seconds:
                    report.training_rates_alone = await _rates_for(trainer, alone_seconds)
            contexts = [await browser.new_context(viewport=VIEWPORT) for _ in range(users)]
            # Distinct images per user, so an answer meant for another session would show.
            plans = [[1 + user + users * k for k in range(images_per_user)] for user in range(users)]
            users_done = asyncio.Event()
            sampler = (
                asyncio.ensure_future(sample_training_rates(trainer, users_done))
                if trainer is not None and alone_seconds
                else None
            )
            results = await asyncio.gather(
                *(
                    classify_test_images(context, url, user, model, plan)
                    for user, (context, plan) in enumerate(zip(contexts, plans))
                )
            )
            users_done.set()
            if sampler is not None:
                report.training_rates_loaded = await sampler
            report.answers = [answer for answers in results for answer in answers]
            if trainer is not None:
                report.trained_throughout = await trainer.get_by_role("button", name="Stop").count() > 0
                try:
                    await stop_and_use_unsaved(trainer)
                    report.trainer_view = await active_model_line(trainer)
                    report.user_views = list(
                        await asyncio.gather(*(active_model_line(context.pages[0]) for context in contexts))
                    )
                except (AssertionError, PlaywrightError) as exc:  # the answers still count
                    report.trainer_view = f"the trainer's epilogue failed: {exc}"
        finally:
            await browser.close()
    return report


def run_crowd(**kwargs) -> CrowdReport:
    """`crowd(**kwargs)`, from code that may already run an event loop."""
    return run_in_thread(crowd(**kwargs))


def run_in_thread(coroutine):
    """Run `coroutine` in a thread with its own event loop and return its result (or raise
    its exception): callers that already run a loop, as sync Playwright does, can use it."""
    outcome: dict[str, object] = {}

    def target():
        try:
            outcome["result"] = asyncio.run(coroutine)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="crowd")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]
