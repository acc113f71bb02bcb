"""How well a speech model does, measured against baselines in the same run.

Protocols (``_protocols``):

- :func:`baseline_scores`, :func:`recognizer_accuracies`: a model's
  accuracy next to PCA and raw-feature baselines with the same classifier,
  on the same split.
- :func:`speaker_held_out`: train again without one speaker and test on
  that speaker (what ``skvae train`` reports); :func:`leave_one_speaker_out`:
  every speaker in turn (mean and worst speaker).
- :func:`few_label_scores`: a representation fitted on all training inputs
  without labels, a classifier on a stratified few of the labels.

What ``skvae train`` prints and reports: :func:`evaluate_recognizer`,
:func:`latent_map`, :func:`format_summary`, :func:`compare_to_baselines`
(``_summary``); :func:`generation_check`, :func:`generated_rate`
(``_generation``); :func:`open_set_check`, :func:`format_open_set`
(``_open_set_check``). They take the recogniser of
:func:`skvae.recipes.make_recognizer` and read its ``"features"`` and
``"model"`` steps.

Data helpers shared by the benchmarks and examples (``_perturb``):

- :func:`add_noise`: noise at a given signal-to-noise ratio;
- :func:`stratified_subset`, :func:`hide_labels`: a labelled subset;
- :func:`make_outlier_clips`: non-speech clips as long and loud as speech.

``random_state`` follows scikit-learn (None, an int seeding a
``RandomState``, or a ``RandomState``) and also accepts a
``numpy.random.Generator``; an instance is used and advanced as is.
"""

from ._generation import generated_rate, generation_check
from ._open_set_check import format_open_set, open_set_check
from ._perturb import (
    OUTLIER_KINDS,
    add_noise,
    hide_labels,
    make_outlier_clips,
    stratified_subset,
)
from ._protocols import (
    baseline_scores,
    few_label_scores,
    leave_one_speaker_out,
    recognizer_accuracies,
    speaker_held_out,
)
from ._summary import (
    compare_to_baselines,
    evaluate_recognizer,
    format_summary,
    latent_map,
)

__all__ = [
    "OUTLIER_KINDS",
    "add_noise",
    "baseline_scores",
    "compare_to_baselines",
    "evaluate_recognizer",
    "few_label_scores",
    "format_open_set",
    "format_summary",
    "generated_rate",
    "generation_check",
    "hide_labels",
    "latent_map",
    "leave_one_speaker_out",
    "make_outlier_clips",
    "open_set_check",
    "recognizer_accuracies",
    "speaker_held_out",
    "stratified_subset",
]
