"""Tables as the app shows them: one percent format, a dash for what is missing.

A model table mixes figures from several sources, so cells are often empty; pandas would
show those as "None" or "nan". Percentages get one decimal everywhere (90.8%, 94.7%), as
in the app's sentences, rather than each table's own default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler

if TYPE_CHECKING:  # what st.column_config's functions take and return (not re-exported there)
    from streamlit.elements.lib.column_types import ColumnConfig, ColumnWidth

MISSING = "—"
PERCENT = "{:.1%}"  # accuracies and other shares, everywhere in the app
ECE = "{:.3f}"  # the expected calibration error, as every page and the report write it
COUNT = "{:,.0f}"
SECONDS = "{:,.0f}"


def styled(table: pd.DataFrame, formats: Mapping[str, str]) -> Styler:
    """`table` with `formats` (column -> format string) and a dash in every empty cell;
    the values underneath stay numbers, so columns still sort as numbers."""
    return table.style.format(na_rep=MISSING).format(dict(formats), na_rep=MISSING)


def wide_text(width: ColumnWidth = "medium") -> ColumnConfig:
    """A text column wide enough for its longest value (a kind name, a reason)."""
    return st.column_config.TextColumn(width=width)
