"""Insights: where the test images live in the model's mind, which labels look wrong, how
well its confidence is calibrated, and its report to share."""

import streamlit as st

from ui import insights
from ui.layout import lazy_tabs
from ui.models import model_picker
from ui.navigation import ensure_routed
from ui.resources import dataset_or_stop

ensure_routed()

st.title("Insights")
st.write(
    "Look inside a trained model: a map of its features, the labels it doubts, "
    "whether its confidence can be trusted, and a report you can send to anyone."
)

dataset_or_stop()
model = model_picker("Model", key="insights_model")
if model is None:
    st.stop()

classifier, fingerprint = model.classifier, model.fingerprint
lazy_tabs(
    "insights_tab",
    {
        "Embedding map": lambda: insights.embedding_map_panel(classifier, fingerprint),
        "Suspect labels": lambda: insights.suspects_panel(classifier, fingerprint),
        "Calibration": lambda: insights.calibration_panel(classifier, fingerprint),
        "Report": lambda: insights.report_panel(classifier, fingerprint, insights.report_name(model)),
    },
)
