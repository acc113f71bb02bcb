"""The report of a trained speech recogniser: PNG figures and an HTML page.

Used by ``skvae train`` and ``skvae report`` (see :mod:`skvae.cli`).

- :func:`write_recognizer_report`: the report of a saved model
  (:mod:`skvae.recipes`) evaluated on a corpus (:mod:`skvae.evaluation`):
  writes the generated WAV files, then calls :func:`write_report`.
- :func:`write_report`: draws the figures and the page from plain NumPy
  arrays and numbers, never a model.
- :func:`check_available`: raises ``ImportError`` with an install hint when
  matplotlib is missing.

This module imports neither torch nor librosa at module level. Figures are
made with matplotlib's object-oriented API (``matplotlib.figure.Figure``,
rendered by Agg), so no GUI backend is selected and pyplot's global state is
not touched.

matplotlib is an optional dependency: ``pip install "skvae[report]"``.
"""

from ._figures import INSTALL_HINT as INSTALL_HINT
from ._figures import check_available
from ._figures import plot_accuracy as plot_accuracy
from ._figures import plot_confusion as plot_confusion
from ._figures import plot_generated as plot_generated
from ._figures import plot_latent as plot_latent
from ._figures import plot_loss as plot_loss
from ._figures import plot_open_set as plot_open_set
from ._figures import plot_reconstructions as plot_reconstructions
from ._page import FIGURES as FIGURES
from ._page import OPEN_SET_FIGURE as OPEN_SET_FIGURE
from ._page import write_recognizer_report, write_report

# the plot_* functions, INSTALL_HINT, FIGURES and OPEN_SET_FIGURE are
# reachable as skvae.report.<name>
__all__ = ["check_available", "write_recognizer_report", "write_report"]
