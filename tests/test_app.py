"""The app under real Streamlit (AppTest): every page runs without exception."""

from streamlit.testing.v1 import AppTest


def test_home_page_runs_and_names_the_source():
    app = AppTest.from_file("../streamlit_app.py", default_timeout=60).run()
    assert not app.exception
    assert any("dataset-fashion-mnist" in c.value for c in app.caption)
