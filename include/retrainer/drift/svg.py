"""A matplotlib figure as inline SVG for a self-contained HTML page: no URL, no timestamp."""

from __future__ import annotations

import io
import re

# The plots' own namespace declarations and metadata are the only URLs matplotlib writes; inline SVG in
# HTML needs neither, so the page holds no URL at all and renders the same offline, years later.
_SVG_NOISE = re.compile(r'<metadata>.*?</metadata>|\s+xmlns(:\w+)?="[^"]*"', re.DOTALL)


def inline_svg(fig) -> str:
    """The figure's SVG element (closed afterwards), ready to paste into an HTML page."""
    from matplotlib import pyplot as plt

    buffer = io.StringIO()
    fig.tight_layout()
    fig.savefig(buffer, format="svg", metadata={"Date": None})  # no timestamp: same data, same page
    plt.close(fig)
    text = buffer.getvalue()
    return _SVG_NOISE.sub("", text[text.index("<svg") :])
