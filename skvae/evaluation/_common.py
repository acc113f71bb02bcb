"""Helpers shared by the evaluation modules: random states, progress."""

import sys

import numpy as np
from sklearn.utils import check_random_state


def _rng(random_state):
    if isinstance(random_state, np.random.Generator):
        return random_state
    return check_random_state(random_state)


def _bar(verbose, **kwargs):
    """A tqdm bar on stderr, shown when ``verbose`` and stderr is a terminal."""
    from tqdm.auto import tqdm

    return tqdm(disable=None if verbose else True, file=sys.stderr, **kwargs)


def _info(verbose, msg):
    if verbose:
        print(msg, file=sys.stderr, flush=True)
