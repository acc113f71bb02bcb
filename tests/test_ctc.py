"""CTCTranscriber, its NumPy twin, and the digit-accuracy score, on
synthetic frame sequences (a symbol is a bump in one feature)."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from skvae import CTCTranscriber
from skvae._edit import edit_counts, edit_operations, symbol_accuracy
from skvae._numpy_ctc import NumpyCTC

SYMBOLS = "abc"


def _sequence(text, rng, width=6, gap=4):
    """Frames of ``text``: noise, then per symbol a bump of ``width`` frames
    in its feature and ``gap`` frames of noise."""
    frames = [rng.normal(0, 0.1, (gap, len(SYMBOLS)))]
    for ch in text:
        bump = rng.normal(0, 0.1, (width, len(SYMBOLS)))
        bump[:, SYMBOLS.index(ch)] += 3.0
        frames += [bump, rng.normal(0, 0.1, (gap, len(SYMBOLS)))]
    return np.vstack(frames).astype(np.float32)


def _data(n, rng, max_len=5):
    y = []
    for _ in range(n):
        k = rng.randint(1, max_len + 1)
        if rng.uniform() < 0.3:  # runs of one symbol: counted, not merged
            y.append(rng.choice(list(SYMBOLS)) * k)
        else:
            y.append("".join(rng.choice(list(SYMBOLS), k)))
    return [_sequence(t, rng) for t in y], y


SMALL = dict(hidden_size=16, conv_channels=16, learning_rate_init=1e-2, max_iter=40)


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.RandomState(0)
    X, y = _data(300, rng)
    return CTCTranscriber(**SMALL, random_state=0).fit(X, y), rng


def test_learns_strings_and_keeps_repeated_symbols(fitted):
    model, rng = fitted
    texts = ["aaaa", "b", "cc", "abcabc", "ccca", "bbbbb"]
    X = [_sequence(t, rng) for t in texts]
    assert model.predict(X).tolist() == texts
    assert model.score(X, texts) == 1.0
    assert model.classes_.tolist() == list(SYMBOLS)
    assert model.best_validation_score_ > 0.95
    assert model.n_iter_ == len(model.history_) <= SMALL["max_iter"]


def test_a_sequence_alone_or_in_a_padded_batch_gets_the_same_output(fitted):
    model, rng = fitted
    X = [_sequence(t, rng) for t in ["a", "abcab", "cc", "b" * 7]]
    together = model.predict_log_proba(X)
    for seq, lp in zip(X, together):
        np.testing.assert_allclose(model.predict_log_proba([seq])[0], lp, atol=1e-5)


def test_align_places_each_symbol_inside_its_bump(fitted):
    model, rng = fitted
    text = "abca"
    seq = _sequence(text, rng)  # bumps at frames 4-9, 14-19, 24-29, 34-39
    (alignment,) = model.align([seq])
    assert "".join(s for s, _, _ in alignment) == text
    for k, (_, first, last) in enumerate(alignment):
        start = 4 + 10 * k
        assert first <= last
        assert start - 4 <= first and last <= start + 10, alignment


def test_same_seed_same_model_other_seed_other_model():
    rng = np.random.RandomState(1)
    X, y = _data(60, rng, max_len=3)
    params = dict(SMALL, max_iter=3)
    a = CTCTranscriber(**params, random_state=3).fit(X, y).predict_log_proba(X[:3])
    b = CTCTranscriber(**params, random_state=3).fit(X, y).predict_log_proba(X[:3])
    c = CTCTranscriber(**params, random_state=4).fit(X, y).predict_log_proba(X[:3])
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, atol=1e-5)
    assert max(np.abs(u - w).max() for u, w in zip(a, c)) > 1e-3


def test_numpy_twin_transcribes_as_the_torch_model(fitted):
    model, rng = fitted
    X = [_sequence(t, rng) for t in ["abc", "aaab", "c", "bcbcbcbc"]]
    twin = NumpyCTC.from_transcriber(model)
    assert twin.predict(X).tolist() == model.predict(X).tolist()
    for u, v in zip(twin.predict_log_proba(X), model.predict_log_proba(X)):
        np.testing.assert_allclose(u, v, atol=1e-4)
    back = pickle.loads(pickle.dumps(twin))
    assert back.predict(X).tolist() == model.predict(X).tolist()
    with pytest.raises(ValueError, match="features"):
        twin.predict([np.zeros((20, 5))])


def test_pickle_and_clone(fitted):
    model, rng = fitted
    X = [_sequence(t, rng) for t in ["abc", "bb"]]
    back = pickle.loads(pickle.dumps(model))
    assert back.predict(X).tolist() == model.predict(X).tolist()
    assert "module_" not in vars(clone(model))
    assert clone(model).get_params() == model.get_params()


def test_bad_input_is_named():
    rng = np.random.RandomState(2)
    X, y = _data(20, rng, max_len=2)
    model = CTCTranscriber(max_iter=1)
    with pytest.raises(NotFittedError):
        model.predict(X)
    with pytest.raises(TypeError, match=r"y\[0\] is a int"):
        model.fit(X, [12] + y[1:])
    with pytest.raises(TypeError, match="sequence of strings"):
        model.fit(X, "abc")
    with pytest.raises(ValueError, match="20 sequences but y 19"):
        model.fit(X, y[:-1])
    with pytest.raises(ValueError, match="only empty strings"):
        model.fit(X, [""] * len(X))
    short = [np.zeros((3, 3))] + X[1:]
    with pytest.raises(ValueError, match="sequence 0 has 3 frames .* too short"):
        model.fit(short, ["abab"] + y[1:])
    bad = [X[0].copy()] + X[1:]
    bad[0][2, 1] = np.nan
    with pytest.raises(ValueError, match="sequence 0 of X contains NaN"):
        model.fit(bad, y)
    with pytest.raises(ValueError, match="holds out none or all"):
        CTCTranscriber(validation_fraction=0.01).fit(X, y)
    fitted = CTCTranscriber(**dict(SMALL, max_iter=1), validation_fraction=None).fit(
        X, y
    )
    assert fitted.best_validation_score_ is None
    with pytest.raises(
        ValueError, match="has 4 features, but CTCTranscriber is expecting 3"
    ):
        fitted.predict([np.zeros((30, 4))])


def test_an_empty_string_is_a_valid_target():
    rng = np.random.RandomState(3)
    X, y = _data(40, rng, max_len=2)
    X.append(rng.normal(0, 0.1, (12, 3)).astype(np.float32))
    y.append("")
    model = CTCTranscriber(**dict(SMALL, max_iter=2), random_state=0).fit(X, y)
    assert model.predict(X[-1:]).dtype == object


def test_symbol_accuracy_counts_edits():
    assert edit_counts(["1234"], ["1234"]) == (0, 0, 0, 4)
    assert edit_counts(["1234"], ["1534"]) == (1, 0, 0, 4)
    assert edit_counts(["1234"], ["124"]) == (0, 1, 0, 4)
    assert edit_counts(["1234", "55"], ["12334", "555"]) == (0, 0, 2, 6)
    assert symbol_accuracy(["1234", "55"], ["1534", ""]) == pytest.approx(1 - 3 / 6)
    assert symbol_accuracy(["1"], ["2345"]) == pytest.approx(-3.0)  # can be < 0
    assert symbol_accuracy([""], [""]) == 1.0
    assert symbol_accuracy([""], ["7"]) == 0.0
    assert edit_operations("12", "132") == [("insert", "", "3")]
    with pytest.raises(ValueError, match="holds 1 strings but y_pred 2"):
        symbol_accuracy(["1"], ["1", "2"])
    with pytest.raises(TypeError, match="must hold strings"):
        symbol_accuracy([1234], ["1234"])


def test_spoken_digits_learns_double_and_oh_as_words_and_gives_digits():
    """targets="spoken-digits": "double" and "oh" are outputs of their own
    (here each word is a bump in its feature), predict gives digits."""
    from skvae._spoken import spoken_tokens

    tokens = "01do"
    names = {"0": "zero", "1": "one", "d": "double", "o": "oh"}

    def said(words, rng):
        frames = [rng.normal(0, 0.1, (4, 4))]
        for tok in spoken_tokens(words):
            bump = rng.normal(0, 0.1, (6, 4))
            bump[:, tokens.index(tok)] += 3.0
            frames += [bump, rng.normal(0, 0.1, (4, 4))]
        return np.vstack(frames).astype(np.float32)

    rng = np.random.RandomState(0)
    y = []
    for _ in range(300):
        words = [names[t] for t in rng.choice(list("01o"), rng.randint(1, 4))]
        if rng.uniform() < 0.4:
            words.insert(rng.randint(len(words)), "double")
        if words[-1] == "double":
            words.append("one")
        y.append(" ".join(words) if rng.uniform() < 0.8 else None)
    y = [t if t is not None else "0110" for t in y]  # digits are fine too
    X = [said(t, rng) for t in y]
    model = CTCTranscriber(**SMALL, targets="spoken-digits", random_state=0).fit(X, y)
    assert model.classes_.tolist() == ["0", "1", "d", "o"]
    tests = ["double one oh", "zero, double zero", "oh one"]
    X_test = [said(t, rng) for t in tests]
    assert model.predict(X_test).tolist() == ["110", "000", "01"]
    assert NumpyCTC.from_transcriber(model).predict(X_test).tolist() == [
        "110",
        "000",
        "01",
    ]
    assert model.score(X_test, ["110", "000", "01"]) == 1.0
    assert model.score(X_test, tests) == 1.0  # the words said, scored as digits
    assert [s for s, _, _ in model.align(X_test[:1])[0]] == ["d", "1", "o"]
    with pytest.raises(ValueError, match=r"y\[1\]: 'one sixty' is neither digits"):
        CTCTranscriber(targets="spoken-digits").fit(X[:2], ["one", "one sixty"])
