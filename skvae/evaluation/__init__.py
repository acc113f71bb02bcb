"""How well a speech model does against same-run baselines: protocols, what
``skvae train`` prints and reports, and data helpers (noise, labelled subsets,
non-speech clips). ``random_state`` also takes a ``numpy.random.Generator``.
"""

from .._edit import digit_accuracy, transcription_scores
from ..datasets._noise import OUTLIER_KINDS, make_outlier_clips
from ._generation import (
    format_listening,
    generated_rate,
    generation_check,
    listening_check,
)
from ._judge import DIGIT_WORDS, judge_accuracy, judge_available, judge_digits
from ._open_set_check import format_open_set, open_set_check
from ._perturb import add_noise, hide_labels, stratified_subset
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
    "DIGIT_WORDS",
    "OUTLIER_KINDS",
    "add_noise",
    "baseline_scores",
    "compare_to_baselines",
    "digit_accuracy",
    "evaluate_recognizer",
    "few_label_scores",
    "format_listening",
    "format_open_set",
    "format_summary",
    "generated_rate",
    "generation_check",
    "hide_labels",
    "judge_accuracy",
    "judge_available",
    "judge_digits",
    "latent_map",
    "leave_one_speaker_out",
    "listening_check",
    "make_outlier_clips",
    "open_set_check",
    "recognizer_accuracies",
    "speaker_held_out",
    "stratified_subset",
    "transcription_scores",
]
