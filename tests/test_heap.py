"""Objects alive when the server has loaded its long-lived state stay out of collections."""

from __future__ import annotations

import gc

from ui.heap import freeze_long_lived


def test_long_lived_objects_are_left_out_of_collections():
    gc.unfreeze()
    try:
        kept = [[index] for index in range(50_000)]  # container objects the collector tracks
        before = gc.get_freeze_count()
        freeze_long_lived()
        assert gc.get_freeze_count() >= before + len(kept)
        assert all(gc.is_tracked(item) for item in kept[:10])
    finally:
        gc.unfreeze()


def test_streamlit_no_longer_resets_keras_after_a_run(monkeypatch):
    """The clean-up Streamlit runs after every script run leaves Keras alone."""
    import inspect

    import keras
    from streamlit.runtime.scriptrunner import script_runner

    from ui.heap import skip_keras_reset_after_runs

    # The premise: this Streamlit resets Keras after each run (if it stops, drop the skip).
    assert "clear_session()" in inspect.getsource(script_runner)
    resets = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: resets.append(1))
    monkeypatch.setattr(script_runner, "_clean_problem_modules", script_runner._clean_problem_modules)
    skip_keras_reset_after_runs()
    script_runner._clean_problem_modules()
    assert resets == []
    assert script_runner._clean_problem_modules.__module__ == "ui.heap"
