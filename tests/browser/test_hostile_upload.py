"""Hostile files through the Classify page's upload box, all at once: each gets a clear
message (or a prediction when it is a valid picture), the server stays up with bounded
memory, and file names are shown as text, never as HTML."""

from __future__ import annotations

import re

import pytest

from ui.classify import short_name

from driver import CLASS_NAMES, UPLOAD_INPUT, open_app_page, use_model, wait_for_condition, wait_until_idle

pytestmark = pytest.mark.browser

# A decode past the pixel limit would show here: the 150-megapixel bomb alone is 450 MB as
# RGB, the 60,000 x 60,000 header 3.6 GB even as grayscale.
MAX_SERVER_GROWTH_MB = 300
REFUSAL = re.compile(r"(?m)^(?P<name>.+?) cannot be classified: (?P<reason>.+)")
PREDICTION_LINE = re.compile(r"^\*?\*?(" + "|".join(re.escape(name) for name in CLASS_NAMES) + r")\*?\*? \d+%")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from hostile import make_hostile_corpus

    return make_hostile_corpus(tmp_path_factory.mktemp("hostile"))


def peak_memory_mb(pid: int) -> float:
    """The process' peak resident memory (VmHWM) so far."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc")


def shown_outcomes(tab) -> dict[str, str]:
    """File name -> what the page says about it: a refusal by the upload box, an error
    message, or a gallery caption's prediction."""
    outcomes = {}
    for chip in tab.locator("[data-testid=stFileChip]").all():
        if chip.locator("[data-testid=stFileChipIconError]").count():
            name = chip.locator("[data-testid=stFileChipName]").inner_text().strip()
            outcomes[name] = "refused by the upload box: " + chip.inner_text()
    for error in tab.locator("[data-testid=stAlertContentError]").all_inner_texts():
        refused = REFUSAL.search(error)  # after the alert's icon, which reads as text
        if refused:
            outcomes[refused["name"].strip()] = "error: " + refused["reason"]
    for caption in tab.locator("[data-testid=stImageCaption]").all_inner_texts():
        name, _, rest = caption.strip().rpartition(": ")  # "short name: Sneaker 97%"
        if PREDICTION_LINE.match(rest.strip()):
            outcomes[name.strip()] = "prediction: " + rest.strip()
    return outcomes


def gallery_name(case) -> str:
    """How the page names a file: in full in its messages, shortened under a thumbnail."""
    return short_name(case.path.name) if case.valid else case.path.name


def test_every_hostile_file_gets_a_clear_answer(page, app_server, seed_model, corpus, screenshots):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    open_app_page(page, app_server, "classify")
    use_model(page, seed_model)
    memory_before = peak_memory_mb(app_server.process.pid)

    page.locator(UPLOAD_INPUT).first.set_input_files([str(case.path) for case in corpus])
    names = {gallery_name(case) for case in corpus}
    wait_for_condition(
        lambda: names <= set(shown_outcomes(page)),
        timeout_s=240,
        what="a message or a prediction for every uploaded file",
    )
    wait_until_idle(page)
    outcomes = shown_outcomes(page)

    for case in corpus:
        said = outcomes[gallery_name(case)]
        if case.valid:
            assert said.startswith("prediction: "), (case.name, said)
        else:
            assert said.startswith(("error: ", "refused by the upload box: ")), (case.name, said)
            assert len(said.split(": ", 1)[1]) > 15, (case.name, said)  # a reason, not a shrug
    assert app_server.healthy()
    assert peak_memory_mb(app_server.process.pid) - memory_before < MAX_SERVER_GROWTH_MB
    # Names with HTML are text: nothing was injected, no script ran.
    assert dialogs == []
    assert page.evaluate("document.querySelectorAll('[onerror], img[src=\"x\"]').length") == 0
    screenshots(page, "classify-hostile-uploads")
