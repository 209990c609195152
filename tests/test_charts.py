"""Figures that are HTML rather than plotly: what they say is what the numbers say."""

from __future__ import annotations

import re

import numpy as np

from fmnist_core.classes import CLASS_NAMES
from ui.charts import CLASS_COLORS, probability_bars


def test_probability_bars_list_the_likeliest_classes_first_with_their_share():
    probabilities = np.array([0.02, 0.0, 0.6, 0.0, 0.3, 0.0, 0.08, 0.0, 0.0, 0.0])
    html = probability_bars(probabilities, top_k=3)
    names = re.findall(r'text-align:right">([^<]+)<', html)
    assert names == [CLASS_NAMES[2], CLASS_NAMES[4], CLASS_NAMES[6]]
    assert re.findall(r"width:([\d.]+)%", html) == ["60.00", "30.00", "8.00"]
    assert re.findall(r">([\d.]+%)<", html) == ["60.0%", "30.0%", "8.0%"]
    assert CLASS_COLORS[CLASS_NAMES[2]] in html and CLASS_COLORS[CLASS_NAMES[0]] not in html
