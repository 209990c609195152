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
    PageInfo("pages/dataset.py", "Dataset", ":material/photo_library:",
             "browse the 70,000 images, class statistics and a 2-D map"),
    PageInfo("pages/train.py", "Train", ":material/model_training:",
             "train a model and watch it learn, live"),
    PageInfo("pages/evaluate.py", "Evaluate", ":material/analytics:",
             "click through the confusion matrix to the mistakes, compare models"),
    PageInfo("pages/classify.py", "Classify", ":material/photo_camera:",
             "classify your photos, drawings or test images, and see why"),
    PageInfo("pages/insights.py", "Insights", ":material/biotech:",
             "where images live in the model's mind, suspect labels, calibration"),
    PageInfo("pages/models.py", "Models", ":material/inventory_2:",
             "choose your active model, rename, download"),
)


def path_of(name: str) -> str:
    """The script path of the page whose file is `name`.py, e.g. path_of("train")."""
    return next(page.path for page in PAGES if page.name == name)


def ensure_routed() -> None:
    """Leave Streamlit's old folder-based multipage mode for good.

    Because the pages live in `pages/`, Streamlit 1.67 starts every server in that mode and
    leaves it only once some session has run `st.navigation`. Until then a request that names
    a page (a bookmark, a reload) runs that file without `streamlit_app.py`: the sidebar
    lists the files by name and the page misses the router's settings. Called first on every
    page, this ends the mode, and on a session's first run reruns at once so that the first
    visit is routed too. Later runs never rerun here: that would drop the click that started
    them (AppTest, which restarts the mode on every run, relies on this).
    """
    import streamlit as st
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        if "navigation_routed" not in st.session_state:
            st.session_state.navigation_routed = True
            st.rerun()
