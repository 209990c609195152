"""The Classify page's examples: shipped with a licence, one click picks one, and each goes
through the path its kind needs."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from fmnist_core.paths import EXAMPLES_DIR
from ui.examples import example_input, load_examples


def _picker_script() -> None:
    import streamlit as st

    from ui.examples import example_picker

    chosen = example_picker("classify_example_test")
    st.markdown(f"chosen: {chosen.name if chosen else 'nothing'}")


def test_examples_are_shipped_with_their_licence_photos_and_drawings():
    examples = load_examples()
    photos = [e for e in examples if e.kind == "photo"]
    assert (EXAMPLES_DIR / "LICENSE").is_file() and (EXAMPLES_DIR / "README.md").is_file()
    assert len(photos) >= 12 and any(e.kind == "drawing" for e in examples)
    assert any(e.label == "hat" for e in photos)  # one has no Fashion-MNIST class
    readme = (EXAMPLES_DIR / "README.md").read_text()
    assert all(e.name in readme for e in examples)  # each says where it came from


def test_nothing_is_chosen_until_a_click_and_the_choice_survives_reruns():
    app = AppTest.from_function(_picker_script, default_timeout=60).run()
    assert not app.exception
    assert app.markdown[-1].value == "chosen: nothing"
    assert len(app.button) == len(load_examples())  # one button under each thumbnail
    drawing = next(e for e in load_examples() if e.kind == "drawing")
    app.button(key=f"classify_example_test_{drawing.name}").click().run()
    assert app.markdown[-1].value == f"chosen: {drawing.name}"
    assert app.session_state["classify_example_test"] == drawing.name
    app.run()  # another rerun, no click: still the same example
    assert app.markdown[-1].value == f"chosen: {drawing.name}"


def test_photos_take_the_photo_path_and_drawings_the_sketch_path():
    for example in load_examples():
        result = example_input(example)
        assert result.kind == ("sketch" if example.kind == "drawing" else "photo"), example.name
        assert result.image28.shape == (28, 28) and result.image28.max() > 100
