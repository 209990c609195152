"""A model's report as ONE self-contained HTML file: opens in any browser, offline, no server;
and its model card, in Markdown (`model_card`).

plotly.js is inlined once in the head and every image is a base64 PNG data URI, so the
file references nothing outside itself. Every string a user controls (model name, config
values) goes through html.escape.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

import numpy as np

from fmnist_core.classes import CLASS_NAMES
from fmnist_core.classifier import Classifier
from fmnist_core.data import Dataset
from fmnist_core.references import REFERENCE_ACCURACY

EXAMPLES = 10  # right and wrong predictions shown
SECTIONS = (
    "Configuration",
    "Training curves",
    "Confusion matrix",
    "Per-class metrics",
    "Right and wrong predictions",
    "Compared with published results",
)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
td, th { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.gallery { display: flex; flex-wrap: wrap; gap: 0.8rem; }
.card { width: 150px; font-size: 0.8rem; }
.card img { width: 84px; height: 84px; image-rendering: pixelated; display: block; }
.wrong { color: #b00020; }
"""


def png_data_uri(image: np.ndarray) -> str:
    """A (28, 28) image in 0..255 as a data URI (CSS scales it up without blurring)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(fig: Any) -> str:
    """A figure's div, with its own template: a process's default one (Streamlit sets its
    own) drew every series black in a file opened without Streamlit."""
    fig.update_layout(template="plotly_white")
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})


def _table(header: list[str], rows: list[list[str]], numeric: tuple[int, ...] = ()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="num">{cell}</td>' if i in numeric else f"<td>{cell}</td>" for i, cell in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _config_section(meta: dict[str, Any]) -> str:
    config = meta.get("config") or {}
    if not isinstance(config, dict) or not config:
        return "<p>No training configuration was recorded with this model.</p>"
    rows = [[escape(str(key).replace("_", " ")), escape(_setting(key, value))] for key, value in config.items()]
    return _table(["Setting", "Value"], rows)


# What an empty setting means, in the Train page's words; any other is "—".
UNSET = {
    "dropout": "model default",
    "l2": "model default",
    "train_limit": "all images",
    "early_stopping_patience": "off",
    "devices": "automatic",
    "cv_folds": "none",
}


def _setting(key: str, value: Any) -> str:
    """A configuration value for a person: no `null`, no JSON braces."""
    if value is None:
        return UNSET.get(key, "—")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')} {_setting(k, v)}" for k, v in value.items()) or "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(_setting(key, v) for v in value) or "—"
    return str(value)


CURVE_GROUPS = ("Loss", "Accuracy", "Other (e.g. learning rate)")
CURVE_STYLES = {"training": dict(color="#1f77b4"), "validation": dict(color="#ff7f0e", dash="dash")}
OTHER_STYLE = dict(color="#7f7f7f")  # the learning rate: neither training nor validation


def _curve_group(key: str) -> str:
    if key.endswith("loss"):
        return CURVE_GROUPS[0]
    return CURVE_GROUPS[1] if "acc" in key else CURVE_GROUPS[2]


def _curves_section(meta: dict[str, Any]) -> str:
    """One panel per kind of series (loss, accuracy, the rest), so scales do not clash."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    history = meta.get("history")
    series = {k: v for k, v in history.items() if isinstance(v, list) and v} if isinstance(history, dict) else {}
    if not series:
        return "<p>No per-epoch history was recorded (scikit-learn models train in one pass).</p>"
    used = {_curve_group(key) for key in series}
    groups = [group for group in CURVE_GROUPS if group in used]
    fig = make_subplots(rows=1, cols=len(groups), subplot_titles=groups)
    shown = set()
    for key, values in series.items():
        group = _curve_group(key)
        role = (
            escape(str(key).replace("_", " "))
            if group == CURVE_GROUPS[2]
            else "validation"
            if str(key).startswith("val_")
            else "training"
        )
        fig.add_trace(
            go.Scatter(
                x=list(range(1, len(values) + 1)),
                y=values,
                mode="lines+markers",
                name=role,
                legendgroup=role,
                showlegend=role not in shown,
                line=CURVE_STYLES.get(role, OTHER_STYLE),
            ),
            row=1,
            col=groups.index(group) + 1,
        )
        shown.add(role)
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(height=380, margin=dict(t=40, b=40))
    return _figure(fig)


def _confusion_section(confusion: np.ndarray) -> str:
    import plotly.graph_objects as go

    fig = go.Figure(
        go.Heatmap(
            z=confusion,
            x=list(CLASS_NAMES),
            y=list(CLASS_NAMES),
            colorscale="Blues",
            text=confusion,
            texttemplate="%{text}",
            hovertemplate="true %{y}<br>predicted %{x}<br>%{z} images<extra></extra>",
        )
    )
    fig.update_layout(
        height=560,
        xaxis_title="predicted class",
        yaxis_title="true class",
        yaxis_autorange="reversed",
        margin=dict(t=20),
    )
    return _figure(fig)


def _metrics_section(evaluation: Any) -> str:
    rows = [
        [
            escape(name),
            f"{evaluation.precision[c]:.3f}",
            f"{evaluation.recall[c]:.3f}",
            f"{evaluation.f1[c]:.3f}",
            str(evaluation.support[c]),
        ]
        for c, name in enumerate(CLASS_NAMES)
    ]
    rows.append(
        [
            "<b>macro average</b>",
            f"{evaluation.macro_precision:.3f}",
            f"{evaluation.macro_recall:.3f}",
            f"{evaluation.macro_f1:.3f}",
            str(sum(evaluation.support)),
        ]
    )
    return _table(["Class", "Precision", "Recall", "F1", "Test images"], rows, (1, 2, 3, 4))


def _card(image: np.ndarray, true: int, proba: np.ndarray) -> str:
    predicted = int(np.argmax(proba))
    top = np.argsort(-proba, kind="stable")[:3]
    odds = "<br>".join(f"{escape(CLASS_NAMES[c])}: {proba[c]:.1%}" for c in top)
    verdict = "" if predicted == true else ' class="wrong"'
    return (
        f'<div class="card"><img src="{png_data_uri(image)}" alt="test image">'
        f"<b>true:</b> {escape(CLASS_NAMES[true])}<br>"
        f"<b{verdict}>predicted:</b> {escape(CLASS_NAMES[predicted])}<br>{odds}</div>"
    )


def _examples_section(evaluation: Any, images: np.ndarray) -> str:
    """The surest right answer of every class, then the surest mistakes."""
    right = [evaluation.cell_indices(c, c)[:1] for c in range(len(CLASS_NAMES))]
    right_indices = np.concatenate(right)[:EXAMPLES].astype(int)
    wrong_indices = evaluation.most_confident_mistakes(EXAMPLES)
    parts = []
    for title, indices in (
        ("Right (the surest of each class)", right_indices),
        ("Wrong (the surest mistakes)", wrong_indices),
    ):
        cards = "".join(_card(images[i], int(evaluation.y_true[i]), evaluation.proba[i]) for i in indices)
        parts.append(f"<h3>{title}</h3><div class='gallery'>{cards or '<p>None.</p>'}</div>")
    return "".join(parts)


def _references_section(accuracy: float, name: str) -> str:
    import plotly.graph_objects as go

    rows = [[escape(ref.name), ref.label, escape(ref.source)] for ref in REFERENCE_ACCURACY]
    rows.append([f"<b>{escape(name)} (this model)</b>", f"<b>{accuracy:.1%}</b>", "this report"])
    # plotly renders a little HTML in labels, so the name goes in escaped there too
    names = [ref.name for ref in REFERENCE_ACCURACY] + [f"{escape(name)} (this model)"]
    lows = [ref.low for ref in REFERENCE_ACCURACY] + [accuracy]
    spans = [ref.high - ref.low or None for ref in REFERENCE_ACCURACY] + [None]  # ranges only
    colours = ["#9aa5b1"] * len(REFERENCE_ACCURACY) + ["#d62728"]
    fig = go.Figure(
        go.Bar(
            y=names,
            x=lows,
            orientation="h",
            marker_color=colours,
            error_x=dict(type="data", array=spans, arrayminus=[None] * len(spans), symmetric=False),
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    low_end = min(lows) - 0.05
    fig.update_layout(
        height=320,
        xaxis=dict(range=[low_end, 1.0], tickformat=".0%", title="test accuracy"),
        yaxis=dict(automargin=True),
        margin=dict(t=20, l=10),
    )  # whole names
    return _table(["Model", "Test accuracy", "Source"], rows, (1,)) + _figure(fig)


def report_filename(name: str) -> str:
    """report-<name>.html, with anything unusual in the name replaced by "_"."""
    return "report-" + re.sub(r"[^A-Za-z0-9._-]", "_", name) + ".html"


def model_title(classifier: Classifier, name: str | None = None) -> str:
    """The name a report shows: the given one, else the registry's, else the kind."""
    return name or str(classifier.meta.get("name") or classifier.kind)


def build_report_html(
    classifier: Classifier,
    data: Dataset,
    name: str | None = None,
    proba: np.ndarray | None = None,
) -> str:
    """The whole report of `classifier` on the test set of `data`, as one HTML string.

    Pass `proba` (the model's test-set probabilities) when already computed, e.g. cached
    in the app, to skip one pass over the 10,000 test images.
    """
    import plotly.offline

    from fmnist_core.evaluation import evaluate

    title = model_title(classifier, name)
    if proba is None:
        proba = classifier.predict_proba(data.x_test)
    evaluation = evaluate(proba, data.y_test)
    meta = classifier.meta or {}
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    summary = (
        f"<p>Kind <b>{escape(str(classifier.kind))}</b>, {classifier.params:,} parameters. "
        f"Test accuracy <b>{evaluation.accuracy:.2%}</b>, macro F1 {evaluation.macro_f1:.3f}, "
        f"expected calibration error {evaluation.ece:.3f}, on {len(data.y_test):,} test images "
        f"from {escape(data.source)}. Report made {made}.</p>"
    )
    bodies = (
        _config_section(meta),
        _curves_section(meta),
        _confusion_section(evaluation.confusion),
        _metrics_section(evaluation),
        _examples_section(evaluation, data.x_test),
        _references_section(evaluation.accuracy, title),
    )
    sections = "".join(
        f'<section id="section-{i}"><h2>{heading}</h2>{body}</section>'
        for i, (heading, body) in enumerate(zip(SECTIONS, bodies), start=1)
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Fashion-MNIST model report: {escape(title)}</title>"
        f"<style>{_STYLE}</style>"
        f"<script type='text/javascript'>{plotly.offline.get_plotlyjs()}</script></head>"
        f"<body><h1>Model report: {escape(title)}</h1>{summary}{sections}</body></html>"
    )


# ---------------------------------------------------------------- model card (Markdown)


def model_card(
    meta: dict[str, Any],
    title: str,
    command: str | None = None,
    about: str = "",
    facts: Sequence[str] = (),
    sections: Sequence[str] = (),
    footer: str = "",
) -> str:
    """A model's card, every figure from its meta: what it is, how it was made, how well it
    does on the test set class by class, and its training configuration. Its maker adds what
    only it knows: the `command` that made it, `about` text, more `facts` (bullets), whole
    `sections` (before the test set's) and a `footer`."""
    from fmnist_core.evaluation import cross_validation_text, per_class_rows

    blocks = [f"# {title}"]
    if command:
        blocks.append(f"Made by one command, from the repository root:\n\n    {command}")
    blocks += [text for text in (meta.get("description"), about) if isinstance(text, str) and text]
    blocks.append("\n".join([*_card_facts(meta), *(f"- {fact}" for fact in facts)]))
    blocks += sections
    metrics = meta.get("metrics") or {}
    if metrics:
        blocks += [
            "## Test set (10,000 images)",
            *_card_scores(meta, metrics),
            "| class | precision | recall | F1 | support |\n|---|---|---|---|---|\n"
            + per_class_rows(metrics.get("per_class") or {}),
        ]
    if isinstance(meta.get("cross_validation"), dict):
        blocks += ["## Cross-validation", cross_validation_text(meta["cross_validation"])]
    if meta.get("config"):
        blocks += [
            "## Training configuration",
            f"Model kind `{meta.get('kind')}` (see `fmnist_core/zoo.py`). Validation images "
            "are held out from the 60,000 training images with the seed; the test set is "
            "used only for the figures above.",
            f"```json\n{json.dumps(meta['config'], indent=2)}\n```",
        ]
    blocks.append(footer)
    return "\n\n".join(block.strip("\n") for block in blocks if block.strip()) + "\n"


def _card_facts(meta: dict[str, Any]) -> list[str]:
    """The card's bullets of what the model is and how it was trained, those meta has."""
    facts = [f"- kind: {meta.get('kind')}" + (f" ({meta['title']})" if meta.get("title") else "")]
    if isinstance(meta.get("params"), (int, float)):
        facts.append(f"- trainable parameters: {meta['params']:,.0f}")
    for key in ("created", "saved_at"):
        if meta.get(key):
            facts.append(f"- {'saved' if key == 'saved_at' else key}: {meta[key]}")
    if isinstance(meta.get("train_seconds"), (int, float)):
        epochs = len((meta.get("history") or {}).get("loss", []))
        how = ([f"{epochs} epochs"] if epochs else []) + [f"stop reason: {meta.get('stop_reason')}"]
        facts.append(f"- training time: {meta['train_seconds']:.0f} s ({'; '.join(how)})")
    if "train_images" in meta:
        facts.append(
            f"- training images: {meta['train_images']}, held out for validation: {meta.get('validation_images', 0)}"
        )
    if "trees" in meta:  # a stopped forest has fewer than its description says
        facts.append(f"- trees grown: {meta['trees']}")
    if meta.get("dataset_checksum"):
        facts.append(f"- dataset checksum: `{meta['dataset_checksum']}`")
    return facts


def _card_scores(meta: dict[str, Any], metrics: dict[str, Any]) -> list[str]:
    """The card's test-set figures (bullets), and what mirror averaging did."""

    def figure(value: Any) -> str:
        return f"{value:.4f}" if isinstance(value, (int, float)) else "not recorded"

    scores = [
        f"- accuracy: {figure(metrics.get('accuracy'))}"
        + (f" (the model it was tuned from: {figure(meta['trunk_accuracy'])})" if "trunk_accuracy" in meta else ""),
        f"- macro F1: {figure(metrics.get('macro_f1'))}",
    ]
    if "2" in (metrics.get("top_k") or {}):
        scores.append(f"- top-2 accuracy: {figure(metrics['top_k']['2'])}")
    scores.append(f"- expected calibration error: {figure(metrics.get('ece'))}")
    blocks = ["\n".join(scores)]
    if meta.get("flip_tta"):
        without = f" Without it: {figure(meta['accuracy_without_tta'])}." if "accuracy_without_tta" in meta else ""
        blocks.append(
            "Predictions average each image with its mirror image (flip test-time "
            "augmentation, `flip_tta: true` in meta.json; the app does the same)." + without
        )
    return blocks
