"""Models: every saved model with its metrics; make one active, rename, delete, download."""

import pandas as pd
import streamlit as st

from fmnist_core import registry
from ui import charts
from ui.models import (
    BUNDLED,
    SESSION,
    SESSION_MODEL_KEY,
    model_options,
    replace_gone_active_model,
    set_active,
)
from ui.navigation import ensure_routed
from ui.registry_views import (
    REGISTRY_COLUMNS,
    REGISTRY_FORMATS,
    SELECTED_KEY,
    all_entries,
    confirm_delete_key,
    delete_model,
    folder_stamp,
    folder_zip,
    history_table,
    model_card,
    new_name_key,
    registry_table,
    rename_model,
    show_outcome,
)
from ui.tables import styled
from ui.text import escape_markdown

ensure_routed()

st.title("Models")
show_outcome()
entries = all_entries()
options = model_options()
active = replace_gone_active_model(options)

active_label = options.get(active)
if active_label:
    st.success(
        f"Your active model: **{escape_markdown(active_label)}**. Classify and Evaluate "
        "start with it; it is yours alone, other users keep their own.",
        icon=":material/star:",
    )
else:
    st.warning("You have no usable active model yet: pick one below or train one.", icon=":material/explore:")
if st.session_state.get(SESSION_MODEL_KEY) is not None and active != SESSION:
    st.button(
        "Use the unsaved model from the Train page", key="models_use_session", on_click=set_active, args=(SESSION,)
    )

if not entries:
    st.info(
        "No saved model and no bundled model yet: train one on the **Train** page and save it.",
        icon=":material/explore:",
    )
    st.stop()

table = registry_table(entries, active)
st.dataframe(styled(table, REGISTRY_FORMATS), hide_index=True, column_config=REGISTRY_COLUMNS)
for broken in (entry for entry in entries.values() if entry.broken):
    st.warning(
        f"**{escape_markdown(broken.name)}** is broken: {escape_markdown(broken.broken)}",
        icon=":material/heart_broken:",
    )
st.caption("Saved models are shared by everyone using this server.")

keys = list(entries)
if st.session_state.get(SELECTED_KEY) not in entries:
    st.session_state[SELECTED_KEY] = active if active in entries else keys[0]
chosen = st.selectbox("Manage", keys, key=SELECTED_KEY, format_func=lambda key: table.loc[keys.index(key), "name"])
entry = entries[chosen]
is_bundled = chosen == BUNDLED
name = "the bundled model" if is_bundled else entry.name

if entry.broken:
    st.error(
        f"**{escape_markdown(name)}** is broken and cannot be used: "
        f"{escape_markdown(entry.broken)}. Delete it, or replace its folder with a "
        "working copy.",
        icon=":material/heart_broken:",
    )
else:
    info_col, action_col = st.columns([2, 1])
    with info_col:
        history = history_table(entry.meta or {})
        if len(history):
            empty_batches = pd.DataFrame(columns=["epoch", "loss", "accuracy"])
            loss_col, accuracy_col = st.columns(2)
            loss_col.plotly_chart(
                charts.training_curves_figure(empty_batches, history, "loss", "Loss during training"), key="models_loss"
            )
            accuracy_col.plotly_chart(
                charts.training_curves_figure(empty_batches, history, "accuracy", "Accuracy during training"),
                key="models_accuracy",
            )
        with st.expander("Training configuration"):
            st.json((entry.meta or {}).get("config") or {})
    with action_col:
        if chosen == active:
            st.button("This is your active model", icon=":material/star:", disabled=True, key="models_is_active")
        else:
            st.button(
                "Make it my active model",
                icon=":material/star:",
                type="primary",
                key="models_make_active",
                on_click=set_active,
                args=(chosen,),
            )

with st.container(horizontal=True):
    st.download_button(
        "Download the model (zip)",
        icon=":material/download:",
        data=folder_zip(str(entry.path), folder_stamp(entry.path)),
        file_name=f"{entry.path.name}.zip",
        mime="application/zip",
        key="models_download_zip",
        on_click="ignore",
    )
    st.download_button(
        "Download its card (Markdown)",
        icon=":material/description:",
        data=model_card(entry),
        file_name=f"{entry.path.name}-card.md",
        mime="text/markdown",
        key="models_download_card",
        on_click="ignore",
    )

if is_bundled:
    st.caption("The bundled model ships with the app: it cannot be renamed or deleted here.")
    st.stop()

rename_col, delete_col = st.columns(2)
with rename_col.form("models_rename_form"):
    st.text_input("New name", value=entry.name, max_chars=registry.MAX_NAME, key=new_name_key(entry.name))
    st.form_submit_button("Rename", on_click=rename_model, args=(entry.name,))
with delete_col.form("models_delete_form"):
    st.checkbox(f"Yes, delete {escape_markdown(entry.name)} for everyone", key=confirm_delete_key(entry.name))
    st.form_submit_button("Delete", icon=":material/delete:", on_click=delete_model, args=(entry.name,))
