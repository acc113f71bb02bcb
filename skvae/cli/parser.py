"""The ``skvae`` command line's options and help texts (standard library only)."""

import argparse

from .. import __version__

DEFAULT_OUT = "skvae-run"
GENERATED_SPEAKERS = 12
GENERATED_REPEATS = 20


def _number(kind, ok, what):
    """An argparse type: ``kind(text)``, which must satisfy ``ok``."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_fraction = _number(float, lambda v: 0 < v < 1, "a number in (0, 1)")
_positive_float = _number(
    float, lambda v: 0 < v < float("inf"), "a positive finite number"
)
_seed = _number(int, lambda v: 0 <= v < 2**32, "an integer in [0, 2**32 - 1]")
_jobs = _number(int, lambda v: v != 0, "a positive integer or -1 (all cores)")
_N = {"type": _positive_int, "metavar": "N"}
_FLAG = argparse.BooleanOptionalAction

_MAIN_HELP = """\
Variational autoencoders as scikit-learn estimators, for speech.

One command trains a spoken-digit recogniser and writes a report; the others
use the saved model:

  skvae train                         FSDD if available offline, else a
                                      generated corpus; writes skvae-run/
  skvae predict skvae-run a.wav b.wav label and probability of each file
  skvae sample skvae-run --digit 3 -n 5 --out samples
                                      new utterances of "three" as WAV files
  skvae report skvae-run              redraw skvae-run/report/index.html
  skvae train --task transcribe -o digits-run
                                      a transcriber of numbers read aloud
  skvae transcribe digits-run call.wav
                                      the digits said in each file
"""

_MAIN_EPILOG = """\
Run 'skvae COMMAND --help' for a command's options.
Exit codes: 0 success, 1 failure while running (e.g. unreadable audio, a
model file that cannot be loaded), 2 bad command line (including a DATA
folder or MODEL that does not exist, an --out that cannot be written, a
--device this machine lacks), 130 interrupted (Ctrl-C; 143: SIGTERM).
Outputs are swapped in when complete: an interrupted or failed command
leaves its output folder as it was.
"""

_TRAIN_HELP = """\
Fit the recommended pipeline (SpeechFeatures -> SequenceVAE -> SVC; --vae
picks another VAE step; the labels' words said by 48 generated voices are
added to the training audio, see --augment), evaluate it on held-out
utterances against PCA and raw-feature baselines with the same classifier
(trained on the recordings alone), save it, and write a report. The front
end brings every utterance to the same level and learns the bandwidth of
the training audio (wider band recordings are band-limited to it when
recognised).

DATA is one of:
  (nothing)   FSDD if it is already on this machine (in --data-home,
              $SKVAE_DATA or scikit-learn's data home), else a generated
              corpus; no network needed
  fsdd        the Free Spoken Digit Dataset (downloaded unless --offline)
  generated   spoken digits synthesised offline with eSpeak NG (several
              accents and voices; see --synth-speakers, --synth-repeats)
  FOLDER      your own recordings, any sample rate, searched recursively,
              labelled by file name ('7_alice_0.wav' is label 7, speaker
              alice) or by sub-folder (--label-from parent)

Held-out split (--split auto): FSDD's official split (repetitions 0-4) plus
a second fit with one speaker held out; else whole speakers held out when
the file names give speakers; else a random stratified split.

Writes OUT/model.skops (the recogniser and the generator that 'sample'
uses; loads without pickle), OUT/model.safetensors (the VAE alone,
weights-only) and OUT/report/ (index.html, PNGs, samples/*.wav), swapped
into OUT at the end: a failed or interrupted run (Ctrl-C, exit 130) leaves
OUT as it was. Other files in OUT stay (a note names an earlier run's).
"""

_TRAIN_EPILOG = """\
examples:
  skvae train                                # the main job: on FSDD about
                                             # 1.5 min on 2 idle CPU cores
  skvae train fsdd --out runs/fsdd --seed 1
  skvae train ~/recordings --label-from parent --split random
  skvae train generated --quick -q           # a fast smoke test
  skvae train --reject                       # also say "not a word I know"
"""

_MODEL_HELP = """\
MODEL is the --out folder of 'skvae train' or its model.skops file, read
with skops.io, never with pickle, trusting only Python's built-in types,
NumPy and SciPy arrays, scikit-learn's estimators and skvae's own
(skvae.recipes.trusted_types()); any other type, or an edited or damaged
file, is refused.
"""

_PREDICT_HELP = """\
Recognise recordings with a trained model. Prints one tab-separated line per
file: path, predicted label, its probability (with -v: the top 3 labels).
A model trained with --reject answers -1 (or <unknown>) for a word it does
not know, and adds the in-vocabulary score. Files may have any sample rate
and level, or be folders (searched for audio files). Unreadable files are
reported on stderr, the others still processed; the exit code is then 1.

FILE '-' streams paths from standard input, one per line, answering each at
once with one flushed line ('PATH<TAB>error<TAB>REASON' for a file it cannot
read, a folder, or a line longer than a path can be) until the input ends.

Loading is fast: the VAE's encoder runs with NumPy (no torch), and the
model is kept in a private cache ($SKVAE_CACHE_DIR, else
~/.cache/skvae/predictors; 'skvae train' fills it) that later calls read.

"""

_SAMPLE_HELP = """\
Generate new utterances with a trained model as WAV files LABEL_skvae_I.wav:
its conditional VAE decodes a latent code drawn from the label's prior to a
log-mel spectrogram, which Griffin-Lim turns into audio. Prints the paths,
and how many of the files the model recognises as the requested label.

"""

_REPORT_HELP = """\
Write the report of a trained model again (accuracy against the PCA and
raw-feature baselines, confusion matrix, latent space, reconstructions,
generated spectrograms and WAV files, training curves) on the data and split
recorded in the model, or on DATA ('fsdd', 'generated' or a folder, as for
'skvae train'). The model is not retrained; the baselines are refitted.

"""


# Options as (flags, keyword arguments of add_argument), one table per group.
# fmt: off
_COMMON = [
    ("-q --quiet", dict(action="store_true", default=argparse.SUPPRESS,
                        help="print only results and errors (no progress bars)")),
    ("-v --verbose", dict(action="count", default=argparse.SUPPRESS,
                          help="print more detail (and tracebacks of errors)")),
]
_CACHE = [
    ("--no-cache", dict(action="store_true", help="neither read nor fill the "
                        "private cache of predict-only models (~/.cache/skvae/"
                        "predictors, or $SKVAE_CACHE_DIR): load MODEL itself")),
]
_DATA = [
    ("--label-from", dict(choices=("filename", "parent"), default="filename",
                          help="for a DATA folder: label = file name up to the first "
                          "'_' (default) or the name of the sub-folder")),
    ("--data-home", dict(metavar="DIR", help="folder holding fsdd/recordings/ "
                         "(default: $SKVAE_DATA, else scikit-learn's data "
                         "home)")),
    ("--offline", dict(action="store_true", help="never download; fail instead")),
    ("--synth-speakers", dict(_N, default=GENERATED_SPEAKERS, help="speakers of the "
                              f"generated corpus (default {GENERATED_SPEAKERS})")),
    ("--synth-repeats", dict(_N, default=GENERATED_REPEATS, help="repetitions of "
                             "every digit by every generated speaker "
                             f"(default {GENERATED_REPEATS})")),
    ("--test-size", dict(type=_fraction, default=0.25, metavar="F", help="fraction "
                         "of speakers or utterances held out by --split "
                         "speaker/random (default 0.25)")),
    ("--n-jobs", dict(type=_jobs, default=1, metavar="N", help="processes for "
                      "feature extraction (-1: all cores; default 1)")),
    ("--n-check", dict(_N, default=30, help="utterances generated per label for the "
                       "recognition and listening checks (default 30)")),
    ("--report-samples", dict(_N, default=3, help="generated WAV files per label "
                              "linked from the report (default 3)")),
]
_SPLITS = ("auto", "official", "speaker", "random")
_TRAIN = [
    ("--task", dict(choices=("recognize", "transcribe"), default="recognize",
                    help="recognize: one word per file (default); transcribe: "
                    "the digit string of a number read aloud (phone numbers, "
                    "PINs), trained on FSDD's digits joined into strings and "
                    "eSpeak NG voices reading numbers; see 'skvae transcribe'")),
    ("--split", dict(choices=_SPLITS, default="auto", help="held-out test set: the "
                     "dataset's official split, whole speakers, or random "
                     "utterances (default: auto, as described above)")),
    ("-o --out", dict(default=DEFAULT_OUT, metavar="DIR",
                      help=f"output folder (default ./{DEFAULT_OUT})")),
    ("--n-components", dict(_N, default=16, metavar="K", help="dimension of the "
                            "VAE's latent code, and of the PCA baseline (default 16)")),
    ("--n-mels", dict(_N, default=40, help="mel bands (default 40)")),
    ("--n-frames", dict(_N, default=32, help="frames per utterance after time "
                        "resampling (default 32)")),
    ("--max-iter", dict(_N, default=None, help="maximum VAE epochs (default 300; "
                        "early stopping usually ends sooner; 10 with --quick); "
                        "with --task transcribe the transcriber's (default 12, "
                        "3 with --quick)")),
    ("--quick", dict(action="store_true",
                     help="a fast, rough run (10 epochs, no augmentation): "
                     "for smoke tests")),
    ("--seed", dict(type=_seed, default=0, help="random seed (default 0)")),
    ("--device", dict(default="cpu", help="torch device of the VAE: cpu, cuda, "
                      "cuda:N, mps or auto (default cpu); checked before training")),
    ("--threads", dict(_N, default=None, help="torch CPU threads, at most the "
                       "number of CPUs (default: torch's setting)")),
    ("--speaker-eval", dict(action=_FLAG, default=None, help="also train once more "
                            "without one speaker and test on that speaker (default: "
                            "when the split is not already by speaker)")),
    ("--report", dict(action=_FLAG, default=True,
                      help="write OUT/report/ (default: yes; needs matplotlib)")),
    ("--vae", dict(choices=("flat", "sequence", "none"), default=None, help="the "
                   "VAE step: on each utterance's row of --n-frames frames "
                   "(flat), on its frames at their natural length (sequence), "
                   "or none (default: that of skvae.recipes.make_recognizer)")),
    ("--cmvn", dict(choices=("none", "mean", "meanvar"), default=None, help="remove "
                    "each utterance's mean (and variance) over time from its "
                    "features (default: that of skvae.recipes.make_recognizer)")),
    ("--head", dict(choices=("ovr", "ovo"), default=None, help="the classifier: "
                    "one-vs-rest SVCs with calibrated probabilities (ovr) or "
                    "one-vs-one SVC (ovo) (default: that of "
                    "skvae.recipes.make_recognizer)")),
    ("--augment", dict(choices=("none", "voices", "perturb", "voices+perturb",
                                "filler", "voices+filler"),
                       default=None, help="add training utterances: every label "
                       "said by generated voices (voices), two voice-perturbed "
                       "copies of each (perturb), other words said by generated "
                       "voices as the filler class of --reject (filler), or "
                       "combinations (default: that of "
                       "skvae.recipes.make_recognizer, voices, voices+filler "
                       "with --reject; none, filler with --reject, with --quick "
                       "or the generated corpus)")),
    ("--weights", dict(action=_FLAG, default=None, help="also save the VAE as "
                       "OUT/model.safetensors (default: yes, unless --vae none)")),
    ("--reject", dict(action=_FLAG, default=False, help="learn to answer -1 (or "
                      "<unknown>) for words that are not among the labels: a "
                      "filler class of other words said by generated voices, "
                      "rejected when the classifier gives it too much "
                      "probability; trains the recogniser twice (default: no)")),
    ("--false-rejection", dict(type=_fraction, default=0.05, metavar="F",
                               help="with --reject: the fraction of known words "
                               "it may reject (default 0.05)")),
]
_SAMPLE = [
    ("-d --digit --label", dict(action="append", metavar="LABEL", help="label to "
                                "generate (repeatable; default: every label)")),
    ("-n", dict(type=_positive_int, default=5,
                help="utterances per label (default 5)")),
    ("-o --out", dict(default="skvae-samples", metavar="DIR",
                      help="output folder (default ./skvae-samples)")),
    ("--seed", dict(type=_seed, default=None, help="random seed (default: none, "
                    "different utterances each time)")),
    ("--temperature", dict(type=_positive_float, default=None, help="scale of the "
                           "latent spread: <1 typical, >1 varied (default 0.5, "
                           "chosen with an independent recogniser)")),
]
_REPORT = [
    ("--split", dict(choices=_SPLITS, default="auto", help="held-out test set: the "
                     "dataset's official split, whole speakers, or random "
                     "utterances (default: auto, the split recorded in the "
                     "model)")),
    ("-o --out", dict(default=None, metavar="DIR",
                      help="output folder (default: report/ beside the model)")),
    ("--seed", dict(type=_seed, default=0, help="random seed of a split not "
                    "recorded in the model (default 0)")),
]
_TRANSCRIBE_HELP = """\
Transcribe numbers read aloud (phone numbers, PINs, codes: digits run
together, "oh" for zero, "double five") with a model of 'skvae train --task
transcribe'. Prints one tab-separated line per file: path and the digits
heard (empty if none). Files may have any sample rate, level and length.
Unreadable files are reported on stderr ('PATH<TAB>error<TAB>REASON' when
streaming), the others still processed; the exit code is then 1.

FILE '-' streams paths from standard input, one per line, answering each
batch of lines as it arrives. The model runs with NumPy (no torch) and is
kept in the prediction cache, as for 'skvae predict'.

"""

_COMMANDS = [  # name, help, description, epilog, positionals, options
    ("train",
     "train a recogniser on DATA, evaluate it, save it, write a report",
     _TRAIN_HELP, _TRAIN_EPILOG,
     [("data", "a folder of labelled audio, 'fsdd' or 'generated' (see above)")],
     _DATA + _TRAIN + _CACHE),
    ("predict", "recognise recordings with a trained model",
     _PREDICT_HELP + _MODEL_HELP,
     "examples:\n  skvae predict skvae-run recordings/*.wav\n"
     "  find recordings -name '*.wav' | skvae predict skvae-run -",
     [("model", "the --out folder of 'skvae train', or its model.skops"),
      ("files", "audio files or folders; '-': paths from standard input")],
     _CACHE),
    ("transcribe", "transcribe numbers read aloud with a trained transcriber",
     _TRANSCRIBE_HELP + _MODEL_HELP,
     "examples:\n  skvae transcribe digits-run call.wav\n"
     "  find calls -name '*.wav' | skvae transcribe digits-run -",
     [("model", "the --out folder of 'skvae train --task transcribe'"),
      ("files", "audio files; '-': paths from standard input")],
     _CACHE),
    ("sample", "generate new utterances of a label as WAV files",
     _SAMPLE_HELP + _MODEL_HELP,
     "example:\n  skvae sample skvae-run --digit 3 -n 5 --out samples",
     [("model", "the --out folder of 'skvae train', or its model.skops")],
     _SAMPLE),
    ("report", "write the report of a trained model (again)",
     _REPORT_HELP + _MODEL_HELP, "example:\n  skvae report skvae-run --out /tmp/report",
     [("model", "the --out folder of 'skvae train', or its model.skops"),
      ("data", "data to evaluate on (default: the model's training data)")],
     _DATA + _REPORT),
]
# fmt: on
_POSITIONALS = {
    "data": {"nargs": "?", "metavar": "DATA"},
    "model": {"metavar": "MODEL"},
    "files": {"nargs": "+", "metavar": "FILE"},
}


def build_parser(prog="skvae", commands=None):
    """The argparse parser of the ``skvae`` command.

    Parameters
    ----------
    prog : str, default="skvae"
        Program name shown in the help.
    commands : dict or None, default=None
        Command name -> the function that runs it (``func(args, console)``),
        stored as ``args.func``; None stores None (parsing only).

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    commands = commands or {}
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog=prog, description=_MAIN_HELP, epilog=_MAIN_EPILOG, formatter_class=fmt
    )
    parser.add_argument("--version", action="version", version=f"skvae {__version__}")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print only results and errors"
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="print more detail"
    )
    parser.set_defaults(func=None)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name, help, description, epilog, positionals, options in _COMMANDS:
        p = sub.add_parser(
            name, help=help, description=description, epilog=epilog, formatter_class=fmt
        )
        for dest, text in positionals:
            p.add_argument(dest, help=text, **_POSITIONALS[dest])
        for flags, kwargs in options + _COMMON:
            p.add_argument(*flags.split(), **kwargs)
        p.set_defaults(func=commands.get(name), parser=p)
    return parser
