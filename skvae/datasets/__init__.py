"""Speech datasets (never imports torch).

:func:`fetch_fsdd` / :func:`find_fsdd_home` (Free Spoken Digit Dataset),
:func:`load_audio_folder` (your recordings), :func:`make_spoken_digits` /
:func:`make_spoken_words` (generated offline with eSpeak NG),
:func:`make_digit_strings` / :func:`spoken_form` (digit strings read aloud:
FSDD digits joined, or eSpeak NG reading them),
:func:`get_data_home`, and :func:`load_corpus` / :func:`resolve_corpus` /
:func:`split_corpus` (any source as one Bunch, as ``skvae train DATA`` loads).
"""

from ._base import get_data_home
from ._corpus import load_corpus, resolve_corpus, split_corpus
from ._folder import load_audio_folder
from ._fsdd import fetch_fsdd, find_fsdd_home
from ._strings import make_digit_strings, spoken_form
from ._synth import make_spoken_digits, make_spoken_words

__all__ = [
    "fetch_fsdd",
    "find_fsdd_home",
    "get_data_home",
    "load_corpus",
    "load_audio_folder",
    "make_digit_strings",
    "make_spoken_digits",
    "make_spoken_words",
    "resolve_corpus",
    "split_corpus",
    "spoken_form",
]
