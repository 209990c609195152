"""The HTML report: renders, holds its sections, references nothing outside itself,
escapes names; and the `report` command writes it."""

from __future__ import annotations

import re

import pytest

from fmnist_core import report

HOSTILE = '<img src=x onerror="alert(1)"></script><script>alert(2)</script>'


@pytest.fixture(scope="module")
def tiny_mlp():
    import keras

    from fmnist_core import zoo
    from fmnist_core.classifier import KerasClassifier

    keras.utils.set_random_seed(0)
    meta = {
        "config": {
            "kind": "mlp",
            "epochs": 2,
            "note": "<b>not bold</b>",
            "dropout": None,
            "augment": {"flip": True, "shift": 0.1},
        },
        "history": {
            "loss": [1.2, 0.8],
            "val_loss": [1.0, 0.9],
            "accuracy": [0.6, 0.7],
            "val_accuracy": [0.65, 0.68],
            "learning_rate": [0.001, 0.0005],
        },
    }
    return KerasClassifier(zoo.build_mlp(), "mlp", meta)


@pytest.fixture(scope="module")
def html(tiny_mlp, small_data) -> str:
    return report.build_report_html(tiny_mlp, small_data, name=HOSTILE)


@pytest.fixture(scope="module")
def own_html(html) -> str:
    """The report without the inlined plotly.js bundle, whose code holds URLs and handlers
    in strings (its logo link, map attributions) that no page element uses."""
    import plotly.offline

    bundle = plotly.offline.get_plotlyjs()
    assert html.count(bundle) == 1  # inlined, once
    return html.replace(bundle, "")


def test_report_has_every_section_and_its_content(html, tiny_mlp, small_data):
    from fmnist_core.evaluation import evaluate

    for heading in report.SECTIONS:
        assert f"<h2>{heading}</h2>" in html
    evaluation = evaluate(tiny_mlp.predict_proba(small_data.x_test), small_data.y_test)
    classes_right = sum(evaluation.confusion[c, c] > 0 for c in range(10))
    mistakes = min(report.EXAMPLES, int((evaluation.y_pred != evaluation.y_true).sum()))
    assert html.count('<div class="card"><img src="data:image/png;base64,') == (classes_right + mistakes)
    assert "Plotly.newPlot" in html and html.count("plotly-graph-div") == 3  # curves, matrix, refs
    assert "validation" in html and "epochs" in html  # curves and config
    assert all(group in html for group in report.CURVE_GROUPS)  # loss, accuracy, learning rate
    for reference in ("83.5%", "84.2%", "87.3%", "89.7%", "91.6% to 92.5%"):
        assert reference in html
    assert f"on {len(small_data.y_test):,} test images" in html


def test_report_is_self_contained(html, own_html):
    assert not re.search(r"<script[^>]*\ssrc\s*=", html, re.I)
    assert not re.search(r"<link[^>]*\shref\s*=", html, re.I)
    assert not re.search(r"https?:|(src|href)\s*=\s*[\"']?//", own_html, re.I)
    assert "@import" not in own_html and "url(" not in own_html


def test_user_strings_are_escaped(own_html):
    assert "<img src=x" not in own_html and "&lt;img src=x" in own_html  # the title
    assert "<script>alert(2)" not in own_html
    assert "<b>not bold</b>" not in own_html and "&lt;b&gt;not bold&lt;/b&gt;" in own_html


def test_scikit_learn_model_without_history_still_reports(small_data):
    from sklearn.dummy import DummyClassifier

    from fmnist_core.classifier import SklearnClassifier

    flat = small_data.x_train.reshape(len(small_data.x_train), -1)
    classifier = SklearnClassifier(DummyClassifier(strategy="prior").fit(flat, small_data.y_train), "sk_logreg")
    html = report.build_report_html(classifier, small_data, name="dummy")
    assert "No per-epoch history" in html and "No training configuration" in html
    assert "<h2>Compared with published results</h2>" in html


def test_report_filename_keeps_only_safe_characters():
    assert report.report_filename("my model/../x") == "report-my_model_.._x.html"


def test_cli_writes_the_report(tiny_mlp, models_dir, tmp_path, capsys, monkeypatch):
    from fmnist_core import registry
    from fmnist_core.cli import main

    registry.save(tiny_mlp, "tiny")
    monkeypatch.chdir(tmp_path)
    assert main(["report", "--model", "tiny"]) == 0
    written = tmp_path / "report-tiny.html"
    assert "report of tiny written to report-tiny.html" in capsys.readouterr().out
    text = written.read_text(encoding="utf-8")
    assert "<h1>Model report: tiny</h1>" in text and "<h2>Per-class metrics</h2>" in text


def test_cli_explains_a_missing_model(models_dir, tmp_path, capsys):
    from fmnist_core.cli import main

    out = tmp_path / "r.html"
    assert main(["report", "--model", "nosuch", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "no model named 'nosuch'" in err and "Traceback" not in err
    assert not out.exists()


def test_configuration_reads_as_words_not_json(html):
    config = html.split("<h2>Configuration</h2>", 1)[1].split("<h2>", 1)[0]
    assert "null" not in config and "{" not in config and "true" not in config
    assert "<td>dropout</td><td>model default</td>" in config
    assert "<td>augment</td><td>flip yes, shift 0.1</td>" in config


def _figures(html: str) -> list[dict]:
    """Every plotly figure of the report: (data, layout) as Plotly.newPlot receives them."""
    import json

    calls = re.findall(r'Plotly\.newPlot\(\s*"[^"]+",\s*(\[.*?\]),\s*(\{.*?\}),\s*\{"displaylogo"', html, re.S)
    return [{"data": json.loads(data), "layout": json.loads(layout)} for data, layout in calls]


def test_training_and_validation_curves_differ_and_each_has_one_legend_entry(own_html):
    curves = _figures(own_html)[0]
    by_role = {}
    for trace in curves["data"]:
        by_role.setdefault(trace["name"], []).append(trace)
    assert set(by_role) == {"training", "validation", "learning rate"}
    colours = {role: {t["line"]["color"] for t in traces} for role, traces in by_role.items()}
    assert all(len(c) == 1 for c in colours.values()) and len(set.union(*colours.values())) == 3
    assert [t.get("showlegend", True) for t in by_role["training"]].count(True) == 1


def test_the_comparison_chart_keeps_its_labels_whole(own_html):
    comparison = _figures(own_html)[-1]
    assert comparison["layout"]["yaxis"]["automargin"] is True
    assert all(figure["layout"]["template"]["layout"]["colorway"] for figure in _figures(own_html))


def test_every_model_card_is_written_by_one_function_from_the_meta():
    """The registry's card, `train --bundle`'s and `photo-model`'s share their layout."""
    import json

    from fmnist_core import registry
    from fmnist_core.cli import photo_model

    meta = {
        "kind": "sk_forest",
        "title": "Random forest",
        "description": "Trees, voting.",
        "params": 1234,
        "train_seconds": 12.3,
        "stop_reason": "stopped",
        "trees": 40,
        "train_images": 900,
        "validation_images": 100,
        "dataset_checksum": "abc",
        "metrics": {
            "accuracy": 0.81,
            "macro_f1": 0.8,
            "ece": 0.05,
            "per_class": {"Bag": {"precision": 0.9, "recall": 0.8, "f1": 0.85, "support": 100}},
        },
        "config": {"model": "sk_forest"},
    }
    card = report.model_card(meta, "Model card: forest", "python -m fmnist_core train")
    for line in (
        "# Model card: forest",
        "    python -m fmnist_core train",
        "Trees, voting.",
        "- trainable parameters: 1,234",
        "- trees grown: 40",
        "- training time: 12 s (stop reason: stopped)",
        "- training images: 900, held out for validation: 100",
        "## Test set (10,000 images)",
        "- accuracy: 0.8100",
        "| Bag | 0.9000 | 0.8000 | 0.8500 | 100 |",
        '  "model": "sk_forest"',
    ):
        assert line in card.splitlines(), line
    assert "\n\n\n" not in card and "# Model card: bare\n\n- kind: None\n" == report.model_card({}, "Model card: bare")

    shipped = json.loads((registry.photo_model_path() / "meta.json").read_text())
    photo_card = photo_model.model_card(shipped, "python -m fmnist_core photo-model")
    assert photo_card.startswith("# Bundled photo model")
    assert photo_card.index("## Development photos") < photo_card.index("## Test set (10,000 images)")
    assert f"(the model it was tuned from: {shipped['trunk_accuracy']:.4f})" in photo_card
