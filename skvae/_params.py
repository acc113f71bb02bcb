"""The parameters and fitted attributes the VAE estimators share, written once:
:func:`vae_parameters` makes an estimator's ``__init__`` and docstring."""

import inspect
import re
import textwrap
from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ._vae import ACTIVATIONS, LIKELIHOODS

__all__ = ["SHARED_PARAMETERS", "vae_parameters"]

_POSITIVE_INT = [Interval(Integral, 1, None, closed="left")]
_NON_NEGATIVE = [Interval(Real, 0, None, closed="left")]

#: name -> (default, constraints) of the parameters every VAE estimator has
SHARED_PARAMETERS = {
    "hidden_layer_sizes": ((256, 128), ["array-like", *_POSITIVE_INT]),
    "frame_shape": (None, [tuple, list, None]),
    "activation": ("relu", [StrOptions(set(ACTIVATIONS))]),
    "likelihood": ("gaussian", [StrOptions(set(LIKELIHOODS))]),
    "beta": (1.0, _NON_NEGATIVE),
    "kl_warmup": (0, [Interval(Integral, 0, None, closed="left")]),
    "standardize": ("auto", ["boolean", StrOptions({"auto"})]),
    "learning_rate_init": (1e-3, [Interval(Real, 0, None, closed="neither")]),
    "batch_size": (256, _POSITIVE_INT),
    "max_iter": (200, _POSITIVE_INT),
    "tol": (1e-4, _NON_NEGATIVE),
    "early_stopping": (False, ["boolean"]),
    "validation_fraction": (0.1, [Interval(Real, 0, 1, closed="neither")]),
    "n_iter_no_change": (10, _POSITIVE_INT),
    "alpha": (0.0, _NON_NEGATIVE),
    "warm_start": (False, ["boolean"]),
    "random_state": (None, ["random_state"]),
    "device": ("cpu", [str, torch.device]),
    "n_threads": (None, [*_POSITIVE_INT, StrOptions({"tune"}), None]),
    "inference_batch_size": (4096, _POSITIVE_INT),
    "verbose": (0, ["verbose"]),
}

#: their documentation, in the same order
_SHARED_DOCS = """\
hidden_layer_sizes : array-like of int or int, default=(256, 128)
    Widths of the hidden layers of each encoder (and of a classifier's
    network); the decoder mirrors them.
frame_shape : tuple of (int, int) or None, default=None
    ``(n_frames, n_coefficients)`` of rows that are flattened frame-major
    time-frequency matrices (:class:`~skvae.features.SpeechFeatures`): the
    row encoder then starts with two 1-D convolutions over time (kernel 5,
    stride 2, ``hidden_layer_sizes[0]`` channels). None: MLP encoders.
activation : {"relu", "tanh", "logistic", "elu", "gelu", "silu"}, default="relu"
    Non-linearity after every hidden layer.
likelihood : {"gaussian", "bernoulli"}, default="gaussian"
    Observation model: Gaussian with a learned per-feature variance, or
    Bernoulli (data in [0, 1]).
beta : float, default=1.0
    Weight of the KL terms (beta-VAE); ``beta=1`` is the true ELBO.
kl_warmup : int, default=0
    Epochs over which the KL weight rises linearly to ``beta``; 0: none.
standardize : bool or "auto", default="auto"
    Standardise features inside the estimator (outputs and likelihoods stay
    in the caller's units; float64 input in float64; constant features are
    reproduced exactly). ``"auto"``: True for the Gaussian likelihood.
learning_rate_init : float, default=1e-3
    Learning rate of the Adam optimizer.
batch_size : int, default=256
    Mini-batch size for training; clipped to the number of samples.
max_iter : int, default=200
    Maximum number of epochs (passes over the training data).
tol : float, default=1e-4
    Improvement per sample, in nats, of the training loss (with early
    stopping: the validation score) that counts as progress.
early_stopping : bool, default=False
    Hold out ``validation_fraction`` of the rows, stop after
    ``n_iter_no_change`` epochs without progress on them, and restore the
    best validation epoch's weights.
validation_fraction : float, default=0.1
    Fraction of rows held out when ``early_stopping=True``.
n_iter_no_change : int, default=10
    Epochs without improvement by ``tol`` before training stops.
alpha : float, default=0.0
    L2 penalty (weight decay) of the optimizer.
warm_start : bool, default=False
    ``fit`` continues from the previous weights, optimizer state and
    standardisation.
random_state : int, RandomState instance or None, default=None
    Seeds initialisation, shuffling, noise and the validation split (never
    torch's global RNG): an int gives bitwise-identical fits on one machine
    and torch build (unless ``n_threads="tune"``).
device : str or torch.device, default="cpu"
    ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or ``"auto"`` (CUDA, then
    MPS, else CPU). Models are saved with CPU tensors.
n_threads : int, "tune" or None, default=None
    Torch CPU threads inside this estimator's methods, capped by the CPUs
    the process may use (with a warning). None: ``fit`` uses one thread per
    about 33 million multiply-adds of a training step (within those CPUs,
    ``cpu_count // n_jobs`` in joblib workers); inference keeps torch's
    setting. ``"tune"``: ``fit`` times 1, half and all threads and keeps the
    fastest, faster on a busy machine but load-dependent weights.
inference_batch_size : int, default=4096
    Rows per chunk in inference and sampling; bounds their memory.
verbose : int, default=0
    If > 0, show a progress bar with the per-epoch loss."""

_SHARED_ATTRIBUTES = """\
n_features_in_ : int
    Number of features seen during fit.
feature_names_in_ : ndarray of shape (n_features_in_,)
    Names of features seen during fit, when X has string column names.
mean_, scale_ : ndarray of shape (n_features_in_,)
    Per-feature mean subtracted and scale divided out before encoding
    (zeros and ones when not standardising).
history_ : list of dict
    Per epoch, in the standardised space: ``epoch``, ``beta``, ``loss``
    (beta-weighted negative ELBO per sample), ``reconstruction``, ``kl``
    and, with early stopping, ``validation_score``, ``validation_*``.
loss_curve_ : list of float
    Training loss of each epoch.
validation_scores_ : list of float or None
    Validation score (negative loss) of each epoch with early stopping.
best_loss_ : float
    Lowest training loss reached.
best_validation_score_ : float or None
    Best validation score with early stopping, else None.
n_iter_ : int
    Number of epochs run (cumulative over ``partial_fit`` and warm starts).
device_ : torch.device
    Device the fitted module lives on."""


def vae_parameters(**own):
    """Class decorator: the ``__init__`` and docstring of a VAE estimator.

    ``own``: the class's own parameters and defaults, in order (the first may
    be positional), then the shared ones but those named in ``_exclude``;
    ``__init__`` stores each unchanged.
    The docstring lines ``{shared_parameters}`` and ``{shared_attributes}``
    are replaced by the shared documentation.

    Examples
    --------
    >>> from skvae._params import vae_parameters
    >>> @vae_parameters(n_components=2)
    ... class Tiny:
    ...     '''A tiny estimator.'''
    >>> Tiny(3, beta=0.5).n_components, Tiny().beta
    (3, 1.0)
    """
    exclude = set(own.pop("_exclude", ()))
    first, *rest = own
    kind = inspect.Parameter
    params = [
        kind("self", kind.POSITIONAL_OR_KEYWORD),
        kind(first, kind.POSITIONAL_OR_KEYWORD, default=own[first]),
        *(kind(n, kind.KEYWORD_ONLY, default=own[n]) for n in rest),
        *(
            kind(n, kind.KEYWORD_ONLY, default=spec[0])
            for n, spec in SHARED_PARAMETERS.items()
            if n not in exclude
        ),
    ]
    signature = inspect.Signature(params)

    def __init__(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)

    __init__.__signature__ = signature

    def decorate(cls):
        __init__.__qualname__ = f"{cls.__qualname__}.__init__"
        __init__.__module__ = cls.__module__
        cls.__init__ = __init__
        doc = cls.__doc__ or ""
        # a parameter's entry: its unindented line and the indented ones after it
        entries = re.split(r"\n(?=\S)", _SHARED_DOCS)
        shared = "\n".join(e for e in entries if e.split(" :")[0] not in exclude)
        for marker, text in (
            ("{shared_parameters}", shared),
            ("{shared_attributes}", _SHARED_ATTRIBUTES),
        ):
            line = next((ln for ln in doc.splitlines() if ln.strip() == marker), None)
            if line is not None:
                indent = line[: len(line) - len(line.lstrip())]
                doc = doc.replace(line, textwrap.indent(text, indent))
        cls.__doc__ = doc
        return cls

    return decorate
