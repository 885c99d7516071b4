"""`prox report`: a self-contained HTML page that shows what a refining run did, and two runs side by side.

- `documents`: an output folder read back, streaming: its account and each document with its replayed programs.
- `view`: one document as the viewer shows it (removed lines, normalize edits as an inline diff, the result).
- `tally`: what one pass counts (fixed-bin histograms, counts) and the reproducible sample for the viewer.
- `plots`: matplotlib figures as inline SVG (the `report` extra).
- `page`: the HTML page: template, styles and the viewer's script from `assets/`, tables.
- `build`: the report on one run; `compare`: two runs over the same input.
"""

from prox.report.build import DEFAULT_SAMPLE, build_report
from prox.report.compare import build_comparison

__all__ = ["DEFAULT_SAMPLE", "build_comparison", "build_report"]
