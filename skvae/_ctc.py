"""CTCTranscriber: strings (digit strings, say) from variable-length
sequences of frames, trained with CTC, no alignment needed."""

import copy
import time
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._ctc_module import CTCModule
from ._device import device_available, resolve_device
from ._edit import symbol_accuracy
from ._segments import _check_sequences
from ._serialize import build_module
from ._spoken import spoken_tokens, tokens_to_digits
from ._threads import torch_threads
from ._version import __version__

__all__ = ["CTCTranscriber"]

_POSITIVE_INT = [Interval(Integral, 1, None, closed="left")]
#: frames of one inference batch (all sequences together, padded)
_INFERENCE_FRAMES = 200_000


def _check_targets(y, n):
    """``y`` as a list of ``n`` str."""
    if isinstance(y, str) or not hasattr(y, "__len__"):
        raise TypeError(
            "y must be a sequence of strings (one per sequence), "
            f"got {type(y).__name__}"
        )
    out = []
    for i, t in enumerate(y):
        if not isinstance(t, str | np.str_):
            raise TypeError(
                f"y[{i}] is a {type(t).__name__} ({t!r}), not a string; pass "
                "the transcripts as strings (e.g. '0123', not 123, which "
                "would lose the leading 0)"
            )
        out.append(str(t))
    if len(out) != n:
        raise ValueError(f"X holds {n} sequences but y {len(out)} strings")
    return out


def _spec_augment(x, lengths, rng):
    """Masks of SpecAugment on the standardised batch ``x`` (in place):
    two bands of up to 1/8 of the features and two spans of up to 5 % of
    each sequence's frames (at most 10) set to 0 (the mean)."""
    batch, _, n_features = x.shape
    for b in range(batch):
        n = int(lengths[b])
        for _ in range(2):
            width = rng.randint(0, max(1, n_features // 8) + 1)
            start = rng.randint(0, n_features - width + 1)
            x[b, :n, start : start + width] = 0.0
            span = rng.randint(0, min(10, max(1, n // 20)) + 1)
            begin = rng.randint(0, max(1, n - span + 1))
            x[b, begin : begin + span] = 0.0
    return x


class CTCTranscriber(BaseEstimator):
    """Transcribe sequences of frames into strings, trained with CTC.

    A sequence model for connected words: each sequence (the frames of one
    utterance, e.g. ``SpeechFeatures(output="sequence")``) gets a string
    (e.g. the digits of a phone number) without any alignment of symbols to
    frames in training. The network: two 1-D convolutions over frames (the
    second with ``stride``), ``n_layers`` bidirectional GRU layers and a
    softmax over the symbols of ``y`` and the CTC blank [1]_; training
    minimises :func:`torch.nn.functional.ctc_loss`; :meth:`predict`
    decodes the best path (the most likely symbol of each step, repeats
    merged, blanks dropped).

    Parameters
    ----------
    conv_channels : int, default=128
        Channels of both convolutions.
    hidden_size : int, default=128
        GRU units per direction.
    n_layers : int, default=2
        Bidirectional GRU layers.
    stride : int, default=2
        Frames per output step. A sequence needs at least as many steps as
        its string has symbols (plus one per repeated symbol).
    dropout : float, default=0.1
        Dropout after each convolution and between GRU layers.
    targets : {"symbols", "spoken-digits"}, default="symbols"
        What ``y`` holds and :meth:`predict` gives. "symbols": any strings,
        one output per character. "spoken-digits": digit strings, learned
        as the words said: each ``y`` is digits (``"8885112931"``, each said
        as its word) or the words said (``"triple eight, five double one,
        ..."``: zero-nine, "oh", "double", "triple"); the network has one
        output per word ("oh" its own, "double"/"triple" their own), and
        :meth:`predict` turns them back into digits ("double five": "55").
    spec_augment : bool, default=True
        SpecAugment masks in training: two feature bands (up to 1/8 of the
        features) and two short time spans per sequence set to the mean.
    learning_rate_init : float, default=2e-3
        Adam's learning rate at the start; it decays to 0 on a cosine over
        ``max_iter`` epochs.
    batch_size : int, default=32
        Sequences per mini-batch (batches hold sequences of similar length).
    max_iter : int, default=30
        Most epochs.
    validation_fraction : float or None, default=0.1
        Sequences held out to choose the epoch: training stops after
        ``n_iter_no_change`` epochs without a better symbol accuracy on them
        and keeps the best epoch's weights. None: no hold-out, the last
        epoch is kept.
    n_iter_no_change : int, default=5
        Epochs without progress before stopping.
    device : str or torch.device, default="cpu"
        "cpu", "cuda", "cuda:1", "mps" or "auto". A model trained on a GPU
        loads on a machine without one (on the CPU).
    n_threads : int or None, default=None
        torch threads (None: torch's setting, capped by the CPUs).
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, dropout, masks, batches and the hold-out.
    verbose : int, default=0
        Print each epoch's loss and validation accuracy.

    Attributes
    ----------
    classes_ : ndarray of str
        The symbols (every character of the training strings; with
        "spoken-digits", the digits and "o", "d", "t" for "oh", "double",
        "triple"), sorted; output ``i + 1`` of the network is
        ``classes_[i]``, 0 the blank.
    n_features_in_ : int
        Features per frame.
    mean_, scale_ : ndarray of shape (n_features_in_,)
        Standardisation of the frames (from the training frames).
    module_ : skvae._ctc_module.CTCModule
        The fitted network.
    n_iter_ : int
        Epochs run.
    history_ : list of dict
        Per epoch: ``loss`` (mean CTC loss per symbol), ``validation_score``
        (symbol accuracy on the hold-out, or None) and ``seconds``.
    best_validation_score_ : float or None
        The best hold-out symbol accuracy (the epoch kept).

    See Also
    --------
    skvae.recipes.make_transcriber : Audio to digit strings (the front end
        and this model).
    skvae.evaluation.digit_accuracy : The score.

    References
    ----------
    .. [1] A. Graves et al., "Connectionist temporal classification:
       labelling unsegmented sequence data with recurrent neural networks",
       ICML 2006.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae import CTCTranscriber
    >>> rng = np.random.RandomState(0)
    >>> # symbol "a" is a bump in feature 0, "b" in feature 1
    >>> def seq(text):
    ...     frames = [rng.normal(0, 0.1, (4, 3))]
    ...     for ch in text:
    ...         bump = np.zeros((6, 3))
    ...         bump[:, "ab".index(ch)] = 3.0
    ...         frames += [bump, rng.normal(0, 0.1, (4, 3))]
    ...     return np.vstack(frames)
    >>> y = ["".join(rng.choice(list("ab"), rng.randint(1, 4))) for _ in range(200)]
    >>> X = [seq(t) for t in y]
    >>> model = CTCTranscriber(hidden_size=16, conv_channels=16, max_iter=40,
    ...                        random_state=0).fit(X, y)
    >>> model.classes_
    array(['a', 'b'], dtype='<U1')
    >>> model.predict([seq("abba"), seq("b")]).tolist()
    ['abba', 'b']
    """

    _parameter_constraints: dict = {
        "conv_channels": _POSITIVE_INT,
        "hidden_size": _POSITIVE_INT,
        "n_layers": _POSITIVE_INT,
        "stride": _POSITIVE_INT,
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "targets": [StrOptions({"symbols", "spoken-digits"})],
        "spec_augment": ["boolean"],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "batch_size": _POSITIVE_INT,
        "max_iter": _POSITIVE_INT,
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "n_iter_no_change": _POSITIVE_INT,
        "device": [str, torch.device],
        "n_threads": [*_POSITIVE_INT, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        conv_channels=128,
        hidden_size=128,
        n_layers=2,
        stride=2,
        dropout=0.1,
        targets="symbols",
        spec_augment=True,
        learning_rate_init=2e-3,
        batch_size=32,
        max_iter=30,
        validation_fraction=0.1,
        n_iter_no_change=5,
        device="cpu",
        n_threads=None,
        random_state=None,
        verbose=0,
    ):
        self.conv_channels = conv_channels
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.stride = stride
        self.dropout = dropout
        self.targets = targets
        self.spec_augment = spec_augment
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    def _symbols(self, y):
        """``y`` as output symbols (the words said, for "spoken-digits")."""
        if self.targets == "symbols":
            return y
        out = []
        for i, t in enumerate(y):
            try:
                out.append(spoken_tokens(t))
            except ValueError as exc:
                raise ValueError(f"y[{i}]: {exc}") from None
        return out

    def _output(self, strings):
        """Decoded symbols as :meth:`predict` gives them."""
        if self.targets == "symbols":
            return strings
        return np.array([tokens_to_digits(s) for s in strings], dtype=object)

    def _encode_targets(self, y):
        index = {c: i + 1 for i, c in enumerate(self.classes_)}
        return [np.array([index[c] for c in t], dtype=np.int64) for t in y]

    def _check_lengths(self, seqs, targets):
        """ValueError naming the first sequence too short for its string."""
        for i, (s, t) in enumerate(zip(seqs, targets)):
            need = len(t) + int(np.sum(t[1:] == t[:-1]))
            steps = (len(s) - 1) // self.stride + 1
            if steps < need:
                raise ValueError(
                    f"sequence {i} has {len(s)} frames ({steps} steps of "
                    f"stride={self.stride}) for a string of {len(t)} symbols "
                    f"that needs {need}: the sequence is too short for its "
                    "string, or stride too large"
                )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train on sequences ``X`` and their strings ``y``.

        Parameters
        ----------
        X : list of array-like of shape (n_frames_i, n_features)
            One array per sequence.
        y : sequence of str
            The string of each sequence (may be empty: nothing said).

        Returns
        -------
        self : CTCTranscriber
        """
        seqs = _check_sequences(X, name="X", owner="CTCTranscriber")
        y = self._symbols(_check_targets(y, len(seqs)))
        symbols = sorted(set("".join(y)))
        if not symbols:
            raise ValueError("y holds only empty strings: there is nothing to learn")
        self.classes_ = np.array(symbols)
        targets = self._encode_targets(y)
        self._check_lengths(seqs, targets)
        self.n_features_in_ = seqs[0].shape[1]
        frames = np.concatenate(seqs)
        self.mean_ = frames.mean(axis=0)
        self.scale_ = frames.std(axis=0)
        self.scale_[self.scale_ < 1e-8] = 1.0
        rng = check_random_state(self.random_state)
        device = resolve_device(self.device)
        n = len(seqs)
        order = rng.permutation(n)
        n_val = (
            0
            if self.validation_fraction is None
            else int(round(self.validation_fraction * n))
        )
        if self.validation_fraction is not None and (n_val < 1 or n_val >= n):
            raise ValueError(
                f"validation_fraction={self.validation_fraction} of {n} "
                "sequences holds out none or all of them; pass more sequences "
                "or validation_fraction=None"
            )
        val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
        seed = int(rng.randint(np.iinfo(np.int32).max))
        with torch_threads(self.n_threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.module_ = CTCModule(
                self.n_features_in_,
                len(self.classes_),
                conv_channels=self.conv_channels,
                hidden_size=self.hidden_size,
                n_layers=self.n_layers,
                stride=self.stride,
                dropout=self.dropout,
            ).to(device)
            self._train(seqs, targets, train, val, rng, device)
        self.device_ = device
        return self

    def _batches(self, index, lengths, rng):
        """Mini-batches of ``index`` of similar lengths, in random order."""
        jitter = rng.uniform(0, 1, size=len(index))  # ties broken at random
        ordered = index[np.lexsort((jitter, lengths[index]))]
        size = min(self.batch_size, len(ordered))
        batches = [ordered[i : i + size] for i in range(0, len(ordered), size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    def _padded(self, seqs, rows, device):
        lengths = torch.tensor([len(seqs[i]) for i in rows], dtype=torch.int64)
        x = np.zeros((len(rows), int(lengths.max()), self.n_features_in_), np.float32)
        for j, i in enumerate(rows):
            x[j, : len(seqs[i])] = (seqs[i] - self.mean_) / self.scale_
        return x, lengths

    def _train(self, seqs, targets, train, val, rng, device):
        module = self.module_
        lengths = np.array([len(s) for s in seqs])
        opt = torch.optim.Adam(module.parameters(), lr=self.learning_rate_init)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt,
            lambda e: 0.5 * (1 + np.cos(np.pi * min(e, self.max_iter) / self.max_iter)),
        )
        self.history_, best, best_state, stale = [], (-np.inf, -np.inf), None, 0
        best_score, best_loss = -np.inf, np.inf
        for epoch in range(self.max_iter):
            start = time.perf_counter()
            module.train()
            total, n_symbols = 0.0, 0
            for rows in self._batches(train, lengths, rng):
                x, lens = self._padded(seqs, rows, device)
                if self.spec_augment:
                    _spec_augment(x, lens, rng)
                tgt = [targets[i] for i in rows]
                tgt_lens = torch.tensor([len(t) for t in tgt], dtype=torch.int64)
                flat = torch.from_numpy(np.concatenate(tgt)).to(device)
                logp, steps = module(torch.from_numpy(x).to(device), lens)
                loss = torch.nn.functional.ctc_loss(
                    logp.transpose(0, 1),
                    flat,
                    steps,
                    tgt_lens,
                    blank=0,
                    reduction="sum",
                    zero_infinity=True,
                )
                count = max(1, int(tgt_lens.sum()))
                opt.zero_grad()
                (loss / count).backward()
                torch.nn.utils.clip_grad_norm_(module.parameters(), 5.0)
                opt.step()
                total += float(loss.detach())
                n_symbols += count
            sched.step()
            score = val_loss = None
            if len(val):
                score, val_loss = self._validate(seqs, targets, val)
            self.history_.append(
                {
                    "loss": total / max(1, n_symbols),
                    "validation_loss": val_loss,
                    "validation_score": score,
                    "seconds": time.perf_counter() - start,
                }
            )
            if self.verbose:
                print(
                    f"epoch {epoch + 1}: loss {total / max(1, n_symbols):.4f}"
                    + (
                        f", validation loss {val_loss:.4f}, accuracy {score:.4f}"
                        if score is not None
                        else ""
                    )
                )
            if score is None:
                continue
            # progress: a better accuracy, or (before the accuracy moves, as
            # CTC first learns blanks) a lower validation loss
            better = (score, -val_loss) > best
            if better:
                best_state = copy.deepcopy(module.state_dict())
                best = (score, -val_loss)
            if score > best_score or val_loss < best_loss - 1e-3:
                stale = 0
            else:
                stale += 1
                if stale >= self.n_iter_no_change:
                    break
            best_score, best_loss = max(best_score, score), min(best_loss, val_loss)
        self.n_iter_ = len(self.history_)
        self.best_validation_score_ = None if best_state is None else float(best[0])
        if best_state is not None:
            module.load_state_dict(best_state)
        module.eval()

    def _validate(self, seqs, targets, val):
        """(symbol accuracy, CTC loss per symbol) on the hold-out rows."""
        held = [seqs[i] for i in val]
        logps = self._log_probs(held)
        loss, n_symbols = 0.0, 0
        for lp, i in zip(logps, val):
            t = torch.from_numpy(targets[i])
            loss += float(
                torch.nn.functional.ctc_loss(
                    torch.from_numpy(lp)[:, None, :],
                    t[None, :],
                    torch.tensor([len(lp)]),
                    torch.tensor([len(t)]),
                    blank=0,
                    reduction="sum",
                    zero_infinity=True,
                )
            )
            n_symbols += len(t)
        truth = ["".join(self.classes_[targets[i] - 1]) for i in val]
        score = symbol_accuracy(truth, self._best_path(logps))
        return score, loss / max(1, n_symbols)

    # -------------------------------------------------------------- predict
    def _validated(self, X):
        check_is_fitted(self)
        return _check_sequences(
            X, self.n_features_in_, name="X", owner="CTCTranscriber"
        )

    def _log_probs(self, seqs):
        """Per sequence, the (steps, n_symbols + 1) log-probabilities."""
        module = self.module_
        was_training = module.training
        module.eval()
        order = np.argsort([len(s) for s in seqs], kind="stable")
        out = [None] * len(seqs)
        device = next(module.parameters()).device
        try:
            with torch_threads(self.n_threads, keep_default=True), torch.no_grad():
                i = 0
                while i < len(order):
                    j = i + 1
                    while (
                        j < len(order)
                        and (j - i + 1) * len(seqs[order[j]]) <= _INFERENCE_FRAMES
                    ):
                        j += 1
                    rows = order[i:j]
                    x, lens = self._padded(seqs, rows, device)
                    logp, steps = module(torch.from_numpy(x).to(device), lens)
                    logp = logp.cpu().numpy()
                    for k, r in enumerate(rows):
                        out[r] = logp[k, : int(steps[k])]
                    i = j
        finally:
            module.train(was_training)
        return out

    def _paths(self, seqs):
        return [lp.argmax(axis=1) for lp in self._log_probs(seqs)]

    def _decode(self, seqs):
        return self._best_path(self._log_probs(seqs))

    def _best_path(self, log_probs):
        out = []
        for path in (lp.argmax(axis=1) for lp in log_probs):
            keep = path[(path != 0) & np.r_[True, path[1:] != path[:-1]]]
            out.append("".join(self.classes_[keep - 1]))
        return np.array(out, dtype=object)

    def predict(self, X):
        """The string of each sequence (best-path decoding).

        Parameters
        ----------
        X : list of array-like of shape (n_frames_i, n_features)

        Returns
        -------
        y : ndarray of str objects, shape (n_sequences,)
        """
        return self._output(self._decode(self._validated(X)))

    def predict_log_proba(self, X):
        """Per sequence, the log-probabilities of each output step (rows:
        steps of ``stride`` frames; columns: the blank, then ``classes_``)."""
        return self._log_probs(self._validated(X))

    def align(self, X):
        """Where each decoded symbol was heard.

        Returns
        -------
        alignments : list of list of (str, int, int)
            Per sequence, each output symbol (``classes_``: with
            "spoken-digits", "d" for "double", "o" for "oh") with the first
            and last frame (input frames, inclusive) of its run of best-path
            steps.
        """
        out = []
        for path in self._paths(self._validated(X)):
            symbols, start = [], 0
            for k in range(1, len(path) + 1):
                if k == len(path) or path[k] != path[start]:
                    if path[start] != 0:
                        first = start * self.stride
                        last = k * self.stride - 1
                        symbols.append(
                            (str(self.classes_[path[start] - 1]), first, last)
                        )
                    start = k
            out.append(symbols)
        return out

    def score(self, X, y):
        """Symbol accuracy: 1 - (substitutions + deletions + insertions) /
        symbols of ``y``, over all sequences (for digit strings: digit
        accuracy)."""
        seqs = self._validated(X)
        truth = self._output(self._symbols(_check_targets(y, len(seqs))))
        return symbol_accuracy(list(truth), list(self._output(self._decode(seqs))))

    # ---------------------------------------------------------- persistence
    def __getstate__(self):
        state = dict(self.__dict__)
        state["_skvae_version"] = __version__
        module = state.pop("module_", None)
        if module is not None:
            state["device_"] = str(state["device_"])
            state["_module_config"] = module.config()
            state["_module_state"] = {
                k: v.detach().cpu().numpy().copy()
                for k, v in module.state_dict().items()
            }
        return state

    def __setstate__(self, state):
        state = dict(state)
        state.pop("_skvae_version", None)
        config = state.pop("_module_config", None)
        weights = state.pop("_module_state", None)
        self.__dict__.update(state)
        if config is None:
            return
        saved = torch.device(state.get("device_", "cpu"))
        device = saved if device_available(saved) else torch.device("cpu")
        module = build_module(CTCModule, config, weights, device=device)
        if module.n_features != self.n_features_in_ or module.n_symbols != len(
            self.classes_
        ):
            raise ValueError("damaged file (the network does not fit the symbols)")
        self.module_ = module.eval()
        self.device_ = device

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.target_tags.required = True
        tags.non_deterministic = False
        return tags
