"""Showing strings that come from users (file names, model names) safely in Markdown."""

from __future__ import annotations

import re

# Everything Streamlit's Markdown gives a meaning to: CommonMark punctuation, `:emoji:` and
# `:color[...]` directives, `$` LaTeX, and `<` HTML-looking text.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&\"'])")


def escape_markdown(text: str) -> str:
    """`text` shown literally wherever Streamlit renders Markdown (captions, labels, write)."""
    single_line = " ".join(str(text).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", single_line)


def unbroken(name: str) -> str:
    """A class name that a narrow caption wraps only at its spaces: "T-shirt/top" broke
    into "T-", "shirt/" and "top". Non-breaking hyphen; a word joiner after the slash."""
    return name.replace("-", "\u2011").replace("/", "/\u2060")
