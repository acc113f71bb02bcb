"""The report of a trained speech recogniser: PNG figures and an HTML page,
drawn with matplotlib (``pip install "skvae[report]"``); importing it imports
neither torch nor librosa.
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
from ._page import LISTEN_PAGE as LISTEN_PAGE
from ._page import OPEN_SET_FIGURE as OPEN_SET_FIGURE
from ._page import write_listening_page, write_recognizer_report, write_report
from ._transcription import write_transcription_report

__all__ = [
    "check_available",
    "write_listening_page",
    "write_recognizer_report",
    "write_report",
    "write_transcription_report",
]
