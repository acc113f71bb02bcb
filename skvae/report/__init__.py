"""The report of a trained speech recogniser: PNG figures and an HTML page.

:func:`write_recognizer_report` writes the report of a trained model
evaluated on a corpus (``skvae train``, ``skvae report``);
:func:`write_report` draws it from plain arrays and numbers, never a model;
:func:`check_available` raises ``ImportError`` with an install hint when
matplotlib (``pip install "skvae[report]"``) is missing. The figures use
matplotlib's object-oriented API (no pyplot, no GUI backend); importing
this package imports neither torch nor librosa.
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
