"""Speech datasets: FSDD, a folder of recordings, a generated digit corpus.

Never imports torch.

- :func:`fetch_fsdd`: the Free Spoken Digit Dataset, downloaded (verified)
  and cached, or read from a data home that already holds it.
- :func:`load_audio_folder`: a folder of your own recordings, labelled by
  file name or by sub-folder.
- :func:`make_spoken_digits`: an offline, generated multi-speaker spoken
  digit corpus (eSpeak NG), deterministic for a ``random_state``;
  :func:`make_spoken_words`: other words by the same kind of speakers.
- :func:`find_fsdd_home`: the data home that already holds FSDD, if any.
- :func:`get_data_home`: where datasets are cached (``$SKVAE_DATA``).
- :func:`load_corpus`: any of these sources as one Bunch with the same
  fields (what ``skvae train DATA`` loads); :func:`resolve_corpus` says
  which source would be used, :func:`split_corpus` holds out a test set.
"""

from ._base import get_data_home
from ._corpus import load_corpus, resolve_corpus, split_corpus
from ._folder import load_audio_folder
from ._fsdd import fetch_fsdd, find_fsdd_home
from ._synth import make_spoken_digits, make_spoken_words

__all__ = [
    "fetch_fsdd",
    "find_fsdd_home",
    "get_data_home",
    "load_corpus",
    "load_audio_folder",
    "make_spoken_digits",
    "make_spoken_words",
    "resolve_corpus",
    "split_corpus",
]
