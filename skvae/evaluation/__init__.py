"""How well a speech model does, measured against baselines in the same run.

- Protocols: :func:`baseline_scores` and :func:`recognizer_accuracies` (PCA
  and raw-feature baselines with the same classifier, on the same split),
  :func:`speaker_held_out` and :func:`leave_one_speaker_out` (speakers not
  heard in training), :func:`few_label_scores` (a representation fitted
  without labels, a classifier on a few of them).
- What ``skvae train`` prints and reports: :func:`evaluate_recognizer`,
  :func:`generation_check`, :func:`open_set_check`, :func:`latent_map` and
  the summary lines (:func:`format_summary`, :func:`compare_to_baselines`).
  They take the recogniser of :func:`skvae.recipes.make_recognizer` and
  read its ``"features"`` and ``"model"`` steps.
- Data for the benchmarks and examples: :func:`add_noise` (noise at an
  SNR), :func:`stratified_subset` and :func:`hide_labels` (a labelled
  subset), :func:`make_outlier_clips` (non-speech clips as long and loud as
  speech).

``random_state`` follows scikit-learn and also accepts a
``numpy.random.Generator``, used and advanced as is.
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
