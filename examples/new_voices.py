"""Recognising a voice never heard: speaker factorisation and voice augmentation.

A recogniser trained on five FSDD speakers is tested on the sixth (nicolas,
the hardest of the six). The example shows the tools of ``skvae`` for
voices a model has not heard, all as scikit-learn steps:

- :class:`~skvae.augment.VoicePerturbation`, an imbalanced-learn sampler:
  at fit time (never at predict time) every training utterance gets copies
  with its vocal tract made 10 % shorter and longer (formants moved, pitch
  and duration kept; Praat through parselmouth);
- :class:`~skvae.augment.ResamplingPipeline`: an imbalanced-learn pipeline
  whose ``groups`` (here the speakers) follow the rows a sampler adds, so
  that speaker CMVN (:class:`~skvae.features.GroupStandardScaler`) and the
  speaker-factorised VAE after the sampler get groups aligned with them;
- :class:`~skvae.FactorizedVAE`: a group (voice) latent per speaker and a
  content latent per utterance, inferred given the voice;
  ``transform(X, groups=speaker)`` infers a new speaker's voice from its own
  unlabelled utterances and encodes their content with it;
- what the two latents hold, measured on the held-out speaker: which
  training speaker each utterance's voice latent is nearest to, and voice
  conversion (``convert``) of the held-out speaker's utterances into a
  training speaker's voice, recognised by the same classifier.

It prints accuracies for the baseline (speaker CMVN + SVC on the features)
and for the pipeline with augmentation and the factorised VAE. Which one
wins on each benchmark column is measured, over all six held-out speakers
and other corpora, by ``benchmarks/bench_generalization.py`` (README,
"Recognising new speakers"); one speaker here is an illustration, not a
measurement.

Run from the repository root (about 2 minutes on two CPU cores; needs
``pip install "skvae[augment]"``)::

    python examples/new_voices.py [--data-home ../shared/data]
"""

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import sklearn
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from skvae import FactorizedVAE
from skvae.augment import ResamplingPipeline, VoicePerturbation
from skvae.datasets import fetch_fsdd
from skvae.features import GroupStandardScaler, SpeechFeatures

FEATURES = dict(
    kind="mfcc", sr=8000, n_mfcc=20, n_mels=40, n_frames=32, top_db=30,
    preemphasis=0.97,
)  # fmt: skip
HELD_OUT = "nicolas"


def grouped(step):
    """``step`` with groups requested at fit and transform."""
    return step.set_fit_request(groups=True).set_transform_request(groups=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-home",
        metavar="DIR",
        default=None,
        help="folder holding fsdd/recordings (default: $SKVAE_DATA, then "
        "scikit-learn's data home)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=60,
        help="training epochs of each VAE (default: 60)",
    )
    args = parser.parse_args(argv)
    sklearn.set_config(enable_metadata_routing=True)

    fsdd = fetch_fsdd(args.data_home, load_audio=True, download_if_missing=False)
    audio = np.asarray(fsdd.data, dtype=object)
    digit, speaker = np.asarray(fsdd.target), np.asarray(fsdd.speaker)
    test = speaker == HELD_OUT
    train = ~test
    print(f"train: {train.sum()} utterances of 5 speakers; test: {test.sum()} "
          f"of {HELD_OUT}, never heard in training")  # fmt: skip

    # the baseline: per-speaker CMVN of the features, then an SVC
    baseline = make_pipeline(
        SpeechFeatures(**FEATURES), grouped(GroupStandardScaler()), SVC()
    )
    baseline.fit(audio[train], digit[train], groups=speaker[train])
    base_acc = baseline.score(audio[test], digit[test], groups=speaker[test])
    print(f"speaker CMVN + SVC:                               {base_acc:.3f}")

    # voice augmentation at fit time, speaker CMVN, speaker-factorised VAE
    fhvae = FactorizedVAE(
        n_components=16, n_group_components=8, max_iter=args.epochs,
        corruption_std=1.0, random_state=0,
    )  # fmt: skip
    perturb = VoicePerturbation(sr=8000, speed=(), vtlp=(0.9, 1.1), random_state=0)
    pipe = ResamplingPipeline(
        [
            ("perturb", perturb),
            ("features", SpeechFeatures(**FEATURES)),
            ("cmvn", grouped(GroupStandardScaler())),
            ("fhvae", grouped(fhvae)),
            ("svc", SVC()),
        ]
    )
    start = time.perf_counter()
    pipe.fit(audio[train], digit[train], groups=speaker[train])
    n_rows = len(pipe.named_steps["perturb"].sample_indices_)
    seconds = time.perf_counter() - start
    acc = pipe.score(audio[test], digit[test], groups=speaker[test])
    print(f"+ VTLP copies -> speaker CMVN -> FactorizedVAE + SVC: {acc:.3f}  "
          f"({n_rows} training rows, fit {seconds:.0f} s)")  # fmt: skip

    # what the latents hold, on the held-out speaker's rows
    features, cmvn = pipe.named_steps["features"], pipe.named_steps["cmvn"]
    fhvae, svc = pipe.named_steps["fhvae"], pipe.named_steps["svc"]
    rows = cmvn.transform(features.transform(audio[test]), groups=speaker[test])
    voices = fhvae.group_latent(rows)  # each utterance alone: its own voice
    known = fhvae.group_latents_
    nearest = fhvae.groups_[
        np.argmin(((voices[:, None, :] - known[None]) ** 2).sum(-1), axis=1)
    ]
    names, counts = np.unique(nearest, return_counts=True)
    print(f"nearest training voice of each {HELD_OUT} utterance: "
          + ", ".join(f"{n} {c}" for n, c in zip(names, counts)))  # fmt: skip
    target = fhvae.groups_[0]
    converted = fhvae.convert(
        rows, np.full(len(rows), HELD_OUT), target_groups=np.full(len(rows), target)
    )
    Z = fhvae.transform(converted, groups=np.full(len(rows), target))
    print(f"{HELD_OUT}'s utterances converted to {target}'s voice, recognised: "
          f"{np.mean(svc.predict(Z) == digit[test]):.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
