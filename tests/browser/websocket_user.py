"""A user who speaks Streamlit's own websocket protocol instead of driving a browser.

A browser on the server's two cores spends far more CPU drawing pages than the server
spends making them (bench/RESULTS.md: 144 s against 7 s for sixteen users), which a real
room does on sixteen laptops. This client sends what a browser sends (a rerun with the
widget values, the fragment a widget lives in, the timed reruns a fragment asks for),
reads what comes back and fetches the pictures, so a crowd of them loads the server as
browsers would and costs almost nothing itself. Used by bench/concurrency.py
(`--client websocket`) and tested by test_websocket_user.py.

Protocol facts (Streamlit 1.67): the socket is `/_stcore/stream` with the subprotocol
`streamlit`; a session's first message is a `rerun_script` naming the page by its URL path;
each run ends with `script_finished` (0 done, 2 ended early for another run, 3 a fragment's
run done); widgets are told apart by their `id`; a fragment's widgets carry its id, which
the rerun they cause must name.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

from crowd import Answer, CrowdReport

FINISHED_EARLY_FOR_RERUN = 2
SLOW_S = 120.0


@dataclass
class Widget:
    """A widget as the last run drew it."""

    id: str
    kind: str  # the element's type: number_input, selectbox, button, tab_container, ...
    fragment_id: str
    options: list[str] = field(default_factory=list)


@dataclass
class Run:
    """What one script run showed: its texts, errors and how long until it finished."""

    texts: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0  # from sending the rerun to `script_finished`
    settled_seconds: float = 0.0  # ...and until its pictures were fetched, as a browser would


class WebsocketUser:
    """One Streamlit session. `open(page)` first, then `set_number`, `choose`, `click`,
    `open_tab`; each returns the `Run` it caused. `close()` at the end."""

    def __init__(self, url: str):
        self.base = url.rstrip("/")
        self.widgets: dict[str, Widget] = {}  # by label
        self.page_hash = ""
        self.last_texts: list[str] = []  # every run's texts, the newest run last
        self._socket = None
        self._reader: asyncio.Task | None = None
        self._timers: dict[str, asyncio.Task] = {}  # fragment id -> its timed reruns
        self._tab_containers: dict[tuple[int, ...], Widget] = {}  # by path in the page
        self._tab_names: dict[tuple[int, ...], list[str]] = {}  # container path -> its tabs
        self._states: dict[str, WidgetState] = {}  # values set so far, sent with every rerun
        self._run = Run()
        self._done: asyncio.Future | None = None
        self._fetches: list[asyncio.Task] = []

    async def open(self, page: str) -> Run:
        import websockets

        host = self.base.split("://", 1)[1]
        self._socket = await websockets.connect(
            f"ws://{host}/_stcore/stream", subprotocols=["streamlit"], origin=self.base, max_size=None
        )
        self._reader = asyncio.ensure_future(self._read())
        message = BackMsg()
        message.rerun_script.page_name = page
        message.rerun_script.query_string = ""
        return await self._send_and_wait(message)

    async def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        if self._reader is not None:
            self._reader.cancel()
        if self._socket is not None:
            await self._socket.close()

    async def set_number(self, label: str, value: float) -> Run:
        return await self._rerun(self.widgets[label], WidgetState(double_value=value))

    async def choose(self, label: str, option_text: str) -> Run:
        """Pick the option whose text contains `option_text`."""
        option = next(o for o in self.widgets[label].options if option_text in o)
        return await self._rerun(self.widgets[label], WidgetState(string_value=option))

    async def click(self, label: str) -> Run:
        widget = self.widgets[label]
        run = await self._rerun(widget, WidgetState(trigger_value=True))
        self._states.pop(widget.id, None)  # a click is sent once
        return run

    async def open_tab(self, label: str) -> Run:
        """Open the tab whose label ends with `label` (tabs may start with an icon)."""
        for path, names in self._tab_names.items():
            full = next((name for name in names if name.endswith(label)), None)
            if full is not None:
                return await self._rerun(self._tab_containers[path], WidgetState(string_value=full))
        raise KeyError(f"no tab {label!r} on the page")

    async def wait_for_text(self, needle: str, timeout_s: float = SLOW_S) -> str:
        """The newest text containing `needle`, waiting for timed reruns to show it."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for text in reversed(self.last_texts):
                if needle in text:
                    return text
            await asyncio.sleep(0.2)
        raise AssertionError(f"no {needle!r} within {timeout_s:.0f} s; last texts: {self.last_texts[-5:]}")

    # ------------------------------------------------------------------ the protocol

    async def _rerun(self, widget: Widget, state: WidgetState) -> Run:
        state.id = widget.id
        self._states[widget.id] = state
        message = BackMsg()
        client = message.rerun_script
        client.query_string = ""
        client.page_script_hash = self.page_hash
        client.widget_states.widgets.extend(self._states.values())
        if widget.fragment_id:
            client.fragment_id = widget.fragment_id
        return await self._send_and_wait(message)

    async def _send_and_wait(self, message: BackMsg) -> Run:
        self._run = Run()
        self._done = asyncio.get_running_loop().create_future()
        start = time.perf_counter()
        await self._socket.send(message.SerializeToString())
        await asyncio.wait_for(self._done, SLOW_S)
        run = self._run
        run.seconds = time.perf_counter() - start
        if self._fetches:
            await asyncio.gather(*self._fetches)
            self._fetches = []
        run.settled_seconds = time.perf_counter() - start
        return run

    async def _read(self) -> None:
        async for raw in self._socket:
            message = ForwardMsg()
            message.ParseFromString(raw)
            kind = message.WhichOneof("type")
            if kind == "new_session":
                self.page_hash = message.new_session.page_script_hash
            elif kind == "navigation":
                self.page_hash = message.navigation.page_script_hash or self.page_hash
            elif kind == "delta":
                self._on_delta(message)
            elif kind == "auto_rerun":
                self._start_timer(message.auto_rerun.fragment_id, message.auto_rerun.interval)
            elif kind == "stop_auto_rerun":
                timer = self._timers.pop(message.stop_auto_rerun.fragment_id, None)
                if timer is not None:
                    timer.cancel()
            elif kind == "script_finished":
                if message.script_finished != FINISHED_EARLY_FOR_RERUN and self._done and not self._done.done():
                    self._done.set_result(message.script_finished)

    def _on_delta(self, message: ForwardMsg) -> None:
        delta = message.delta
        path = tuple(message.metadata.delta_path)
        if delta.WhichOneof("type") == "add_block":
            block = delta.add_block
            if block.WhichOneof("type") == "tab_container" and block.id:
                self._tab_containers[path] = Widget(block.id, "tab_container", delta.fragment_id)
                self._tab_names[path] = []
            elif block.WhichOneof("type") == "tab" and path[:-1] in self._tab_names:
                self._tab_names[path[:-1]].append(block.tab.label)
            return
        if delta.WhichOneof("type") != "new_element":
            return
        kind = delta.new_element.WhichOneof("type")
        element = getattr(delta.new_element, kind)
        if kind == "exception":
            self._run.errors.append(f"{element.type}: {element.message}")
        elif kind == "alert" and element.format == element.ERROR:
            self._run.errors.append(element.body)
        if kind == "imgs":
            self._fetches.extend(asyncio.ensure_future(self._fetch(image.url)) for image in element.imgs)
        for attribute in ("body", "text"):
            text = getattr(element, attribute, "")
            if isinstance(text, str) and text:
                self._run.texts.append(text)
                self.last_texts.append(text)
        del self.last_texts[:-200]
        widget_id = getattr(element, "id", "")
        label = getattr(element, "label", "")
        if widget_id and label:
            options = list(getattr(element, "options", []))
            self.widgets[label] = Widget(widget_id, kind, delta.fragment_id, options)

    async def _fetch(self, url: str) -> None:
        if url.startswith("/"):
            await asyncio.to_thread(lambda: urllib.request.urlopen(self.base + url, timeout=SLOW_S).read())

    def _start_timer(self, fragment_id: str, interval: float) -> None:
        """A fragment with `run_every`: the browser reruns it on a timer, so do we."""
        if fragment_id in self._timers:
            return

        async def tick() -> None:
            while True:
                await asyncio.sleep(interval)
                message = BackMsg()
                message.rerun_script.page_script_hash = self.page_hash
                message.rerun_script.fragment_id = fragment_id
                message.rerun_script.is_auto_rerun = True
                message.rerun_script.widget_states.widgets.extend(self._states.values())
                await self._socket.send(message.SerializeToString())

        self._timers[fragment_id] = asyncio.ensure_future(tick())


# ---------------------------------------------------------------------- a crowd of them

HEADLINE = "### "  # the Classify page's answer: "### Sneaker · 97.1%"
TRUE_CLASS = re.compile(r"True class: \*\*(.+?)\*\*")
TRAINING_RATE = re.compile(r"([\d,]+) images/s")


async def classify_test_images(
    url: str, user: int, model: str, indices: Iterator[int], at_least: int, until: float = 0, think: float = 0
) -> list[Answer]:
    """One user: the Classify page, a model, the Test image tab, then image after image by
    number, `at_least` of them and more until the clock (time.monotonic) reaches `until`,
    looking at each answer for `think` seconds before the next."""
    session = WebsocketUser(url)
    try:
        await session.open("classify")
        if model not in session.widgets["Model"].options[0]:
            await session.choose("Model", model)
        await session.open_tab("Test image")
        answers: list[Answer] = []
        for index in indices:
            if len(answers) >= at_least and time.monotonic() >= until:
                break
            run = await session.set_number("Test image number", index)
            if run.errors:
                raise AssertionError(f"user {user}, image {index}: the page shows {run.errors}")
            shown = next(t for t in run.texts if t.startswith(HEADLINE))[len(HEADLINE) :].split(" · ")[0]
            true_class = next((m[1] for t in run.texts if (m := TRUE_CLASS.search(t))), "")
            answers.append(Answer(user, index, shown, true_class, run.seconds))
            await asyncio.sleep(think)
        return answers
    finally:
        await session.close()


async def start_training(url: str, preset: str) -> WebsocketUser:
    """The trainer: the Train page, a preset, Start training, until its first step shows."""
    session = WebsocketUser(url)
    await session.open("train")
    await session.choose("Start from a preset", f"{preset}:")
    await session.click("Start training")
    await session.wait_for_text("images/s", timeout_s=300)
    return session


async def training_rates(trainer: WebsocketUser, seconds: float, until: asyncio.Event | None = None) -> list[float]:
    """The trainer's images per second as its page shows them, every two seconds, for
    `seconds` or until `until` is set."""
    rates: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (until and until.is_set()):
        found = TRAINING_RATE.findall(await trainer.wait_for_text("images/s"))
        rates.append(float(found[-1].replace(",", "")))
        await asyncio.sleep(2.0)
    return rates


async def websocket_crowd(
    url: str,
    model: str,
    users: int,
    images_per_user: int,
    trainer_preset: str | None,
    alone_seconds: float = 0,
    clicking_seconds: float = 0,
    think: float = 0,
) -> CrowdReport:
    """crowd.crowd's scenario with websocket users and a websocket trainer (a preset). The
    users click `images_per_user` images each, and go on for `clicking_seconds` at least, so
    that the trainer's speed can be sampled while they click; each looks at an answer for
    `think` seconds before the next click (0: the busiest a room can be)."""
    report = CrowdReport()
    trainer = await start_training(url, trainer_preset) if trainer_preset else None
    try:
        if trainer is not None and alone_seconds:
            report.training_rates_alone = await training_rates(trainer, alone_seconds)
        until = time.monotonic() + clicking_seconds
        done = asyncio.Event()
        sampler = asyncio.ensure_future(training_rates(trainer, 1e9, done)) if trainer and alone_seconds else None
        results = await asyncio.gather(
            *(
                # Distinct images per user, so an answer meant for another session would show.
                classify_test_images(url, user, model, itertools.count(1 + user, users), images_per_user, until, think)
                for user in range(users)
            )
        )
        done.set()
        if sampler is not None:
            report.training_rates_loaded = await sampler
        report.answers = [answer for answers in results for answer in answers]
        if trainer is not None:
            recent = " ".join(trainer.last_texts[-20:])
            report.trained_throughout = "images/s" in recent and "Done:" not in recent
            await trainer.click("Stop")
    finally:
        if trainer is not None:
            await trainer.close()
    return report
