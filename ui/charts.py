"""Figures for every page: pure functions from arrays and tables to plotly figures, and
to HTML where a plotly chart would cost the browser more than it shows.

No Streamlit here, so each figure can be built and checked in a plain test.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from fmnist_core import calibration
from fmnist_core.classes import CLASS_NAMES

# Ten colours people can tell apart (plotly's qualitative "Plotly" palette has ten).
# Tableau 10: a palette made for ten categories, whose colours stay apart (Plotly's own
# put near-identical reds, purples and blues side by side on the map).
CLASS_COLORS: dict[str, str] = dict(zip(CLASS_NAMES, px.colors.qualitative.T10))
COMPACT_MARGIN = dict(l=10, r=10, t=40, b=10)


def image_figure(image: np.ndarray, size: int = 280, title: str = "") -> go.Figure:
    """One 28x28 image as a grey heatmap: square pixels, value on hover."""
    figure = go.Figure(
        go.Heatmap(
            z=np.asarray(image)[::-1],
            colorscale="gray",
            zmin=0,
            zmax=255,
            showscale=False,
            hovertemplate="row %{customdata[0]}, column %{x}: %{z}<extra></extra>",
            customdata=np.repeat(np.arange(27, -1, -1)[:, None, None], 28, axis=1),
        )
    )
    figure.update_xaxes(visible=False, constrain="domain")
    figure.update_yaxes(visible=False, scaleanchor="x")
    figure.update_layout(width=size, height=size, margin=dict(l=0, r=0, t=30 if title else 0, b=0), title=title or None)
    return figure


def class_counts_figure(counts: pd.DataFrame) -> go.Figure:
    """Grouped bars of images per class; `counts` has columns class, split, images."""
    figure = px.bar(
        counts, x="class", y="images", color="split", barmode="group", category_orders={"class": list(CLASS_NAMES)}
    )
    figure.update_layout(margin=COMPACT_MARGIN, xaxis_title=None, legend_title=None)
    return figure


def mean_images_figure(means: np.ndarray) -> go.Figure:
    """The mean image of every class side by side (means: (10, 28, 28))."""
    figure = px.imshow(
        means, facet_col=0, facet_col_wrap=5, color_continuous_scale="gray", zmin=0, zmax=255, aspect="equal"
    )
    for annotation in figure.layout.annotations:
        label = int(annotation.text.split("=")[-1])
        annotation.text = CLASS_NAMES[label]
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    figure.update_layout(coloraxis_showscale=False, margin=COMPACT_MARGIN, height=380)
    return figure


def intensity_histogram_figure(histogram: pd.DataFrame, log_scale: bool) -> go.Figure:
    """Share of pixels at each intensity; `histogram` has columns intensity, share, group."""
    figure = px.line(
        histogram, x="intensity", y="share", color="group", log_y=log_scale, color_discrete_map=CLASS_COLORS
    )
    figure.update_layout(
        margin=COMPACT_MARGIN,
        yaxis_title="share of pixels",
        xaxis_title="pixel intensity (0 black .. 255 white)",
        legend_title=None,
    )
    return figure


def map_figure(
    points: np.ndarray,
    indices: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray | None = None,
    star: np.ndarray | None = None,
    title: str | None = None,
) -> go.Figure:
    """A 2-D map of test images: one trace per true class; with `predicted`, the prediction
    on hover and crosses on the misclassified points; an optional star (a new image).
    customdata of every point is [its test index] (a plain list, see `confusion_figure`),
    which `clicked_index` reads back from a click."""
    figure = go.Figure()
    for label, name in enumerate(CLASS_NAMES):
        rows = np.flatnonzero(labels == label)
        said = name if predicted is None else f"true: {name}<br>predicted: %{{text}}"
        figure.add_trace(
            go.Scatter(
                x=points[rows, 0],
                y=points[rows, 1],
                mode="markers",
                name=name,
                marker=dict(size=6, color=CLASS_COLORS[name], opacity=0.75),
                customdata=[[int(i)] for i in indices[rows]],
                text=None if predicted is None else [CLASS_NAMES[p] for p in predicted[rows]],
                hovertemplate=f"test image %{{customdata[0]}}<br>{said}<extra></extra>",
            )
        )
    if predicted is not None:
        wrong = np.flatnonzero(labels != predicted)
        figure.add_trace(
            go.Scatter(
                x=points[wrong, 0],
                y=points[wrong, 1],
                mode="markers",
                name="misclassified",
                marker=dict(symbol="x-thin", size=7, line=dict(width=1.5, color="black")),
                customdata=[[int(i)] for i in indices[wrong]],
                text=[f"{CLASS_NAMES[labels[r]]} → {CLASS_NAMES[predicted[r]]}" for r in wrong],
                hovertemplate="test image %{customdata[0]}<br>%{text}<extra>misclassified</extra>",
            )
        )
    if star is not None:
        figure.add_trace(
            go.Scatter(
                x=[star[0]],
                y=[star[1]],
                mode="markers",
                name="your image",
                marker=dict(symbol="star", size=20, color="gold", line=dict(width=1.5, color="black")),
                hovertemplate="your image<extra></extra>",
            )
        )
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    figure.update_layout(
        title=title, height=600, margin=COMPACT_MARGIN, legend_title=None, clickmode="event+select", dragmode="pan"
    )
    return figure


def clicked_index(state: Any) -> int | None:
    """The index (customdata) of the point clicked on a `map_figure`, from the chart's
    selection state; None before any click or on the star."""
    try:
        points = state["selection"]["points"]
    except (KeyError, TypeError):
        return None
    for point in points:
        custom = point.get("customdata")
        if custom is not None:
            return int(custom[0] if isinstance(custom, list) else custom)
    return None


def probability_figure(probabilities: Sequence[float] | np.ndarray, top_k: int = 10) -> go.Figure:
    """Horizontal bars of the `top_k` most likely classes, the most likely on top."""
    order = np.argsort(probabilities)[::-1][:top_k]
    names = [CLASS_NAMES[i] for i in order][::-1]
    values = [float(probabilities[i]) for i in order][::-1]
    figure = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            text=[f"{v:.1%}" for v in values],
            textposition="auto",
            marker_color=[CLASS_COLORS[n] for n in names],
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    figure.update_layout(
        margin=COMPACT_MARGIN, height=40 + 28 * len(names), xaxis=dict(range=[0, 1], tickformat=".0%", title=None)
    )
    return figure


def probability_bars(probabilities: Sequence[float] | np.ndarray, top_k: int = 5) -> str:
    """`probability_figure`'s bars as plain HTML, for the answer shown on every click: the
    browser draws them at once, where a plotly chart is a library call of its own after
    every answer."""
    order = np.argsort(probabilities)[::-1][:top_k]
    rows = "".join(
        '<div style="display:flex;align-items:center;gap:0.5rem;margin:0.2rem 0">'
        f'<span style="flex:0 0 6.5rem;text-align:right">{CLASS_NAMES[i]}</span>'
        '<span style="flex:1;background:#eef0f4;border-radius:3px;height:1.25rem">'
        f'<span style="display:block;height:100%;border-radius:3px;width:{float(probabilities[i]):.2%};'
        f'background:{CLASS_COLORS[CLASS_NAMES[i]]}"></span></span>'
        f'<span style="flex:0 0 3.5rem;font-variant-numeric:tabular-nums">{float(probabilities[i]):.1%}</span>'
        "</div>"
        for i in order
    )
    return f'<div role="list" aria-label="Most likely classes">{rows}</div>'


def confusion_figure(matrix: np.ndarray, normalised: bool, selected: tuple[int, int] | None = None) -> go.Figure:
    """The confusion matrix as square scatter markers, so a click on a cell is reported.

    Plotly heatmaps give Streamlit an empty selection; scatter points give their
    customdata [true, predicted, count, share]. It must be a plain list: plotly sends NumPy
    arrays as base64 typed arrays, which come back from a click as an undecoded dict.
    Rows are true classes (top to bottom), columns predictions. Right answers are green by
    share of their class; mistakes are orange, scaled to the worst mistake so small ones show.
    """
    counts = np.asarray(matrix)
    shares = counts / counts.sum(axis=1, keepdims=True).clip(min=1)
    true_labels, predicted_labels = (labels.ravel() for labels in np.indices(counts.shape))
    diagonal = true_labels == predicted_labels
    worst_mistake = max(float(shares.ravel()[~diagonal].max()), 1e-9)
    figure = go.Figure()
    for right, scale, ceiling in ((True, "Greens", 1.0), (False, "Oranges", worst_mistake)):
        cells = diagonal == right
        intensity = shares.ravel()[cells] / ceiling
        figure.add_trace(
            go.Scatter(
                x=[CLASS_NAMES[p] for p in predicted_labels[cells]],
                y=[CLASS_NAMES[t] for t in true_labels[cells]],
                mode="markers+text",
                text=[
                    f"{v:.0%}" if normalised else f"{int(v)}" for v in (shares if normalised else counts).ravel()[cells]
                ],
                textfont=dict(size=11, color=np.where(intensity > 0.6, "white", "#1f2333")),
                marker=dict(
                    symbol="square", size=44, color=intensity, colorscale=scale, cmin=0, cmax=1, line=dict(width=0)
                ),
                customdata=[
                    [int(t), int(p), int(c), float(s)]
                    for t, p, c, s in zip(
                        true_labels[cells], predicted_labels[cells], counts.ravel()[cells], shares.ravel()[cells]
                    )
                ],
                hovertemplate=(
                    "true %{y}<br>predicted %{x}<br>%{customdata[2]} images "
                    "(%{customdata[3]:.1%} of the true class)<extra></extra>"
                ),
            )
        )
    if selected is not None:
        figure.add_trace(
            go.Scatter(
                x=[CLASS_NAMES[selected[1]]],
                y=[CLASS_NAMES[selected[0]]],
                mode="markers",
                marker=dict(symbol="square-open", size=50, color="#e11d48", line=dict(width=3)),
                hoverinfo="skip",
            )
        )
    figure.update_xaxes(
        title="predicted",
        side="top",
        categoryorder="array",
        categoryarray=list(CLASS_NAMES),
        tickangle=-35,
        showgrid=False,
    )
    figure.update_yaxes(title="true", categoryorder="array", categoryarray=list(CLASS_NAMES)[::-1], showgrid=False)
    figure.update_layout(
        height=620,
        margin=dict(l=10, r=10, t=90, b=10),
        showlegend=False,
        clickmode="event+select",
        dragmode=False,
        plot_bgcolor="white",
    )
    return figure


def per_class_metrics_figure(metrics: pd.DataFrame) -> go.Figure:
    """Grouped bars of precision, recall and F1 per class; `metrics` indexed by class name."""
    long = (
        metrics[["precision", "recall", "f1"]]
        .reset_index(names="class")
        .melt(id_vars="class", var_name="metric", value_name="value")
    )
    figure = px.bar(long, x="class", y="value", color="metric", barmode="group")
    figure.update_layout(
        margin=COMPACT_MARGIN,
        yaxis=dict(range=[0, 1], tickformat=".0%"),
        xaxis_title=None,
        legend_title=None,
        height=340,
    )
    return figure


def training_curves_figure(batches: pd.DataFrame, epochs: pd.DataFrame, metric: str, title: str) -> go.Figure:
    """Per-batch training values as a thin line, per-epoch train and validation as markers."""
    figure = go.Figure()
    if not batches.empty:
        figure.add_trace(
            go.Scatter(
                x=batches["epoch"],
                y=batches[metric],
                name="train (batches)",
                mode="lines",
                line=dict(width=1, color="#a5b4fc"),
            )
        )
    if not epochs.empty:
        figure.add_trace(
            go.Scatter(
                x=epochs["epoch"],
                y=epochs[metric],
                name="train (epoch)",
                mode="lines+markers",
                line=dict(color="#4f46e5"),
            )
        )
        validation = epochs[f"val_{metric}"]
        if validation.notna().any():
            figure.add_trace(
                go.Scatter(
                    x=epochs["epoch"], y=validation, name="validation", mode="lines+markers", line=dict(color="#f97316")
                )
            )
    figure.update_layout(
        title=title,
        margin=COMPACT_MARGIN,
        height=300,
        xaxis_title="epoch",
        legend=dict(orientation="h", y=-0.3),
        yaxis_tickformat=".0%" if metric == "accuracy" else None,
    )
    return figure


def learning_rate_figure(batches: pd.DataFrame) -> go.Figure:
    """The learning rate the optimiser used at every reported step (shows the schedule)."""
    figure = go.Figure(
        go.Scatter(
            x=batches["epoch"],
            y=batches["learning rate"],
            mode="lines",
            line=dict(color="#059669"),
            name="learning rate",
        )
    )
    figure.update_layout(
        title="Learning rate", margin=COMPACT_MARGIN, height=300, xaxis_title="epoch", yaxis_exponentformat="e"
    )
    return figure


def comparison_figure(table: pd.DataFrame) -> go.Figure:
    """Test accuracy of each row, this app's models in colour and published figures in grey."""
    rows = table.dropna(subset=["accuracy"]).sort_values("accuracy")
    ours = rows["source"] == "this app"
    figure = go.Figure(
        go.Bar(
            x=rows["accuracy"],
            y=rows["model"],
            orientation="h",
            marker_color=np.where(ours, "#4f46e5", "#9ca3af"),
            text=[f"{v:.1%}" for v in rows["accuracy"]],
            textposition="auto",
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    # From zero: a cut axis makes a weak model's bar look empty and small gaps look large.
    figure.update_layout(
        margin=COMPACT_MARGIN,
        height=80 + 32 * len(rows),
        xaxis=dict(range=[0, 1], tickformat=".0%", title="test accuracy"),
        title="Test accuracy (grey: published reference figures)",
    )
    return figure


def per_class_f1_figure(table: pd.DataFrame) -> go.Figure:
    """F1 per class, one line per model: where models differ is where they learnt differently."""
    figure = px.line(
        table, x="class", y="f1", color="model", markers=True, category_orders={"class": list(CLASS_NAMES)}
    )
    figure.update_layout(
        margin=COMPACT_MARGIN, height=360, xaxis_title=None, yaxis=dict(tickformat=".0%", title="F1"), legend_title=None
    )
    return figure


def activation_figure(values: np.ndarray, height: int = 170) -> go.Figure:
    """A dense layer's activations as bars, one per unit. Built from one dict: plotly's
    update_* calls cost three times as much, and this is drawn for every image."""
    return go.Figure(
        {
            "data": [
                {
                    "type": "bar",
                    "x": np.arange(len(values)),
                    "y": np.asarray(values, np.float32),
                    "marker": {"color": "#636efa"},
                    "hovertemplate": "unit %{x}: %{y:.3f}<extra></extra>",
                }
            ],
            "layout": {
                "height": height,
                "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
                "bargap": 0.1,
                "xaxis": {"title": {"text": "unit", "standoff": 0}},
            },
        }
    )


def reliability_figure(study: calibration.TemperatureStudy) -> go.Figure:
    """Accuracy against confidence per bin, before and after temperature scaling, above
    how many images each bin holds."""
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.05)
    figure.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated", line=dict(dash="dot", color="grey")),
        row=1,
        col=1,
    )
    for name, curve, colour in (
        ("before", study.before, "#1f77b4"),
        (f"after (T = {study.temperature:.2f})", study.after, "#d62728"),
    ):
        filled = curve.count > 0
        figure.add_trace(
            go.Scatter(
                x=curve.confidence[filled],
                y=curve.accuracy[filled],
                mode="lines+markers",
                name=name,
                customdata=curve.count[filled].tolist(),
                line=dict(color=colour),
                hovertemplate="confidence %{x:.1%}<br>accuracy %{y:.1%}<br>%{customdata} images",
            ),
            row=1,
            col=1,
        )
        centres = (curve.edges[:-1] + curve.edges[1:]) / 2
        figure.add_trace(
            go.Bar(
                x=centres, y=curve.count, name=f"images, {name}", marker_color=colour, showlegend=False, opacity=0.6
            ),
            row=2,
            col=1,
        )
    figure.update_xaxes(range=[0, 1], tickformat=".0%", title_text="confidence", row=2, col=1)
    figure.update_yaxes(range=[0, 1], tickformat=".0%", title_text="accuracy", row=1, col=1)
    figure.update_yaxes(title_text="images", row=2, col=1)
    figure.update_layout(height=560, margin=COMPACT_MARGIN, barmode="group")
    return figure
