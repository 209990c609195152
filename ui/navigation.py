"""The app's pages in one list: the router builds the navigation from it and Home links to
each page with its purpose."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageInfo:
    path: str  # relative to streamlit_app.py
    title: str
    icon: str
    purpose: str  # one line for the Home page

    @property
    def name(self) -> str:
        """The file's stem ("train"), which is also the page's URL path."""
        return self.path.rsplit("/", 1)[-1].removesuffix(".py")


PAGES: tuple[PageInfo, ...] = (
    PageInfo("pages/home.py", "Home", ":material/home:", "what this app does"),
    PageInfo(
        "pages/dataset.py",
        "Dataset",
        ":material/photo_library:",
        "browse the 70,000 images, class statistics and a 2-D map",
    ),
    PageInfo("pages/train.py", "Train", ":material/model_training:", "train a model and watch it learn, live"),
    PageInfo(
        "pages/evaluate.py",
        "Evaluate",
        ":material/analytics:",
        "click through the confusion matrix to the mistakes, compare models",
    ),
    PageInfo(
        "pages/classify.py",
        "Classify",
        ":material/photo_camera:",
        "classify your photos, drawings or test images, and see why",
    ),
    PageInfo(
        "pages/insights.py",
        "Insights",
        ":material/biotech:",
        "where images live in the model's mind, suspect labels, calibration",
    ),
    PageInfo(
        "pages/sweep.py", "Sweep", ":material/tune:", "search a model's training settings with Optuna, train the best"
    ),
    PageInfo("pages/models.py", "Models", ":material/inventory_2:", "choose your active model, rename, download"),
)


def path_of(name: str) -> str:
    """The script path of the page whose file is `name`.py, e.g. path_of("train")."""
    return next(page.path for page in PAGES if page.name == name)


ROUTED_KEY = "navigation_routed"  # set by the router for the page run it starts
RERAN_KEY = "navigation_reran"  # this session has rerun once to get routed


def mark_routed() -> None:
    """Called by streamlit_app.py just before it runs the page: this run went through it."""
    import streamlit as st

    st.session_state[ROUTED_KEY] = True


def ensure_routed() -> None:
    """Leave Streamlit's old folder-based multipage mode for good, and route a first visit
    that came in through it.

    Because the pages live in `pages/`, Streamlit 1.67 starts every server in that mode and
    leaves it only once some session has run `st.navigation`. Until then a request that names
    a page (a bookmark, a reload) runs that file without `streamlit_app.py`: the sidebar
    lists the files by name and the page misses the router's settings. Called first on every
    page, this ends the mode and, when the router did not start this run, reruns so that it
    does. A session reruns at most once, on its first run, so no click is dropped later
    (AppTest, which restarts the mode on every run, relies on this).
    """
    import streamlit as st
    from streamlit.runtime.pages_manager import PagesManager

    if st.session_state.pop(ROUTED_KEY, False):
        return
    PagesManager.uses_pages_directory = False
    if not st.session_state.get(RERAN_KEY):
        st.session_state[RERAN_KEY] = True
        st.rerun()
