"""What the benchmarks share: their command line, FSDD and smoke-run output.

A benchmark imports this module as ``_common``: run as ``python
benchmarks/bench_x.py``, Python puts the script's folder on ``sys.path``.
Everything a user of skvae could also want (noise at an SNR, labelled
subsets, outlier clips, baselines) lives in :mod:`skvae.evaluation` instead.
"""

import argparse
import sys

from skvae.datasets import fetch_fsdd

#: Printed at the start and the end of a ``--quick`` run, instead of verdicts.
SMOKE_RUN = (
    "SMOKE RUN (--quick): it only checks that the benchmark runs; its numbers "
    "(few epochs, seeds and rows) measure nothing, so no goal is judged."
)


def make_parser(doc):
    """An argument parser described by the first paragraph of ``doc``.

    Parameters
    ----------
    doc : str
        The benchmark's module docstring; its first paragraph (up to the
        first blank line) is the description that ``--help`` prints.

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    first = doc.strip().split("\n\n")[0]
    return argparse.ArgumentParser(
        description=" ".join(first.split()),
        epilog="What is measured, how, and the results: benchmarks/README.md.",
    )


def add_quick(parser, what):
    """Add ``--quick``: a smoke run that prints no verdict.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    what : str
        How the smoke run is smaller, e.g. ``"one seed, 5 epochs"``.
    """
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run ({what}): checks that the benchmark runs; its numbers "
        "mean nothing and no goal is judged",
    )


def add_data_home(parser):
    """Add ``--data-home``, the folder that holds FSDD."""
    parser.add_argument(
        "--data-home",
        metavar="DIR",
        default=None,
        help="folder holding fsdd/recordings/*.wav (default: $SKVAE_DATA, else "
        "scikit-learn's data home); nothing is downloaded",
    )


def load_fsdd(data_home, **kwargs):
    """FSDD from ``data_home`` or wherever it is found; exit if it is not there.

    Parameters
    ----------
    data_home : str or None
        ``--data-home``; None looks where
        :func:`skvae.datasets.find_fsdd_home` looks.
    **kwargs
        Other arguments of :func:`skvae.datasets.fetch_fsdd`.

    Returns
    -------
    fsdd : sklearn.utils.Bunch
    """
    try:
        return fetch_fsdd(data_home, download_if_missing=False, **kwargs)
    except OSError as exc:
        sys.exit(f"cannot load FSDD: {exc} (--data-home DIR or $SKVAE_DATA)")
