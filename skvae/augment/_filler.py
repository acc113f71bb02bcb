"""FillerWords: words outside the vocabulary, said by generated voices, as
one "filler" class (a keyword spotter's garbage model).

Never imports torch.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_consistent_length, column_or_1d

from .._openset import resolve_filler_label
from ..audio import check_utterances
from ..datasets._noise import make_outlier_clips
from ..datasets._synth import _draw_speakers, _say
from ._synth import MAX_SR, MIN_SR, N_VOICES, _SpeakingSampler

#: FillerWords' default words: 490 common English words. None is a digit,
#: sounds like one ("oh", "won", "to", "for", "ate"), is one of the 40 words
#: of :func:`~skvae.datasets.make_spoken_words` (the open-set benchmark's
#: unknown words) or one of the 35 words of the Speech Commands corpus, so
#: that unknown-word tests on those measure words the filler never said.
#: the clips that are not speech among the filler (``noise``)
NOISE_KINDS = ("white noise", "pink noise", "tone", "chirp")

# fmt: off
FILLER_WORDS = (
    "time", "year", "people", "way", "day", "man", "thing", "woman", "life",
    "child", "world", "school", "state", "family", "student", "group", "country",
    "problem", "hand", "part", "place", "case", "week", "company", "system",
    "program", "question", "work", "government", "number", "night", "point",
    "home", "room", "mother", "area", "money", "story", "fact", "month", "lot",
    "study", "book", "eye", "job", "word", "business", "issue", "side", "kind",
    "head", "service", "friend", "father", "power", "hour", "game", "line", "end",
    "member", "law", "car", "city", "community", "name", "president", "team",
    "minute", "idea", "kid", "body", "information", "parent", "face", "level",
    "office", "door", "health", "person", "art", "war", "history", "party",
    "result", "change", "reason", "research", "girl", "guy", "moment", "air",
    "teacher", "force", "education", "foot", "boy", "age", "policy", "process",
    "market", "sense", "nation", "plan", "college", "interest", "death",
    "experience", "effect", "class", "control", "field", "role", "effort", "rate",
    "heart", "drug", "show", "leader", "light", "voice", "wife", "police", "mind",
    "price", "report", "decision", "son", "view", "town", "road", "arm", "value",
    "building", "action", "model", "season", "society", "tax", "director",
    "position", "player", "record", "paper", "space", "ground", "form", "event",
    "matter", "center", "couple", "site", "project", "activity", "star", "need",
    "court", "oil", "situation", "cost", "industry", "figure", "street", "image",
    "phone", "data", "picture", "practice", "piece", "land", "product", "doctor",
    "wall", "patient", "worker", "news", "test", "movie", "north", "south", "east",
    "west", "love", "support", "technology", "step", "baby", "type", "attention",
    "film", "source", "hair", "evidence", "population", "truth", "song", "summer",
    "winter", "spring", "autumn", "river", "mountain", "ocean", "island", "forest",
    "garden", "flower", "grass", "stone", "sand", "snow", "rain", "wind", "cloud",
    "storm", "thunder", "fire", "smoke", "metal", "silver", "gold", "iron",
    "glass", "bottle", "cup", "plate", "spoon", "knife", "fork", "bread", "butter",
    "cheese", "milk", "sugar", "salt", "pepper", "rice", "soup", "chicken", "beef",
    "fish", "egg", "orange", "lemon", "banana", "grape", "cherry", "potato",
    "tomato", "onion", "carrot", "salad", "pizza", "dinner", "lunch", "breakfast",
    "kitchen", "bedroom", "bathroom", "garage", "chair", "sofa", "lamp", "clock",
    "mirror", "pillow", "blanket", "jacket", "shirt", "shoe", "sock", "hat",
    "glove", "pocket", "button", "zipper", "ribbon", "ring", "necklace", "watch",
    "wallet", "ticket", "letter", "package", "envelope", "pencil", "eraser",
    "ruler", "camera", "radio", "television", "speaker", "printer", "keyboard",
    "mouse", "screen", "battery", "cable", "engine", "wheel", "bicycle", "truck",
    "train", "plane", "boat", "bridge", "tunnel", "airport", "station", "hotel",
    "hospital", "library", "museum", "theater", "church", "castle", "village",
    "farm", "barn", "horse", "cow", "sheep", "goat", "pig", "rabbit", "turtle",
    "snake", "lion", "tiger", "bear", "monkey", "elephant", "zebra", "giraffe",
    "camel", "whale", "shark", "dolphin", "eagle", "owl", "parrot", "spider",
    "beetle", "butterfly", "purple", "brown", "black", "white", "pink", "golden",
    "bright", "dark", "quiet", "loud", "quick", "slow", "strong", "weak", "heavy",
    "early", "late", "young", "old", "new", "small", "large", "short", "long",
    "tall", "deep", "wide", "narrow", "warm", "cold", "hot", "dry", "wet", "clean",
    "dirty", "empty", "full", "easy", "hard", "simple", "strange", "famous",
    "careful", "gentle", "angry", "sorry", "proud", "brave", "lucky", "funny",
    "busy", "ready", "tired", "hungry", "thirsty", "sleepy", "friendly", "walk",
    "run", "jump", "swim", "climb", "dance", "sing", "read", "write", "listen",
    "speak", "answer", "ask", "call", "carry", "catch", "build", "break", "buy",
    "sell", "pay", "cook", "bake", "wash", "dress", "sleep", "wake", "drive",
    "ride", "fly", "travel", "visit", "remember", "forget", "believe",
    "understand", "explain", "wonder", "imagine", "promise", "decide", "choose",
    "finish", "begin", "continue", "return", "arrive", "leave", "enter", "push",
    "pull", "throw", "kick", "hold", "touch", "look", "maybe", "perhaps", "always",
    "never", "often", "sometimes", "today", "tomorrow", "yesterday", "tonight",
    "already", "almost", "really", "very", "quite", "rather", "because",
    "although", "however", "unless", "until", "while", "through", "between",
    "behind", "beside", "under", "above", "around", "across", "toward", "without",
    "inside", "outside",
)
# fmt: on


class FillerWords(_SpeakingSampler):
    """Add words outside the vocabulary, said by generated voices, as one
    more class: the filler (garbage) class of a keyword spotter.

    An imbalanced-learn sampler for audio, before
    :class:`~skvae.features.SpeechFeatures` in a
    :class:`~skvae.augment.ResamplingPipeline`: at fit time only,
    ``n_samples`` utterances are added, all labelled ``label``: each a word
    of ``words`` drawn at random said by one of ``voices`` eSpeak NG voices
    (drawn pitch, pitch range and rate, as :class:`SyntheticVoices`'), and
    a fraction ``noise`` of them clips that are not speech (white and pink
    noise, tones, chirps, each as long and loud as a drawn filler word;
    :func:`~skvae.evaluation.make_outlier_clips`). A classifier after it
    learns what the *other* words sound like, and
    :class:`~skvae.RejectOptionClassifier` with ``filler_label`` rejects
    what it gives to that class: a score that moves known and unknown words
    of a new voice together, where a density model of the known words alone
    calls everything from a new microphone unknown.
    ``predict`` skips the sampler.

    Parameters
    ----------
    n_samples : int, default=3000
        Filler utterances to add (``make_recognizer`` adds 1000).
    words : sequence of str or None, default=None
        Words or short phrases to draw from (none may be a word of the
        vocabulary); None: :data:`FILLER_WORDS`.
    voices : int or sequence of str, default=48
        How many voices to draw among the 96 (``random_state``), or their
        names (:func:`voice_names`), e.g. to keep a test's voices out.
    noise : float in [0, 1), default=0.1
        Fraction of the ``n_samples`` that are noise, tone and chirp clips
        instead of words.
    label : object, default="auto"
        The filler label; "auto": -2 for numeric labels, ``"<filler>"`` for
        others (what ``RejectOptionClassifier(filler_label="auto")``
        expects). ``ValueError`` if it is a label of ``y``.
    sr : int, default=16000
        Rate of the generated waveforms (the following ``SpeechFeatures``'
        ``sr``); the input rows are returned as they are.
    keep_original : bool, default=True
        Return the input utterances too, first and in their order.
    random_state : int, RandomState instance or None, default=None
        Draws the voices, the words and each utterance's variation.

    Attributes
    ----------
    label_ : object
        The filler label (``label`` resolved).
    voices_ : list of dict
        Each voice's ``name``, ``pitch``, ``pitch_range`` and ``rate``.
    perturbations_ : list of (str, object) of length n_samples_new
        ``("original", 1.0)`` per input row, ``("filler", name)`` per
        added word (the voice's name), ``("noise", kind)`` per added clip.
    n_features_in_ : int
        Always 1: one utterance per row.

    See Also
    --------
    SyntheticVoices : The labels' own words said by generated voices; used
        with it, synthetic speech is in every class, so the filler class
        cannot be learned as "a synthetic voice".
    skvae.RejectOptionClassifier : Its ``filler_label`` and
        ``score_method="filler"``.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.augment import FillerWords
    >>> X = [np.zeros(800, np.float32), np.ones(800, np.float32)]
    >>> sampler = FillerWords(n_samples=3, voices=2, noise=0, sr=8000, random_state=0)
    >>> X_new, y_new = sampler.fit_resample(X, [3, 7])
    >>> len(X_new), y_new
    (5, array([ 3,  7, -2, -2, -2]))
    >>> sampler.label_, sampler.perturbations_[2][0]
    (-2, 'filler')
    """

    _parameter_constraints: dict = {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "words": [list, tuple, None],
        "voices": [Interval(Integral, 1, N_VOICES, closed="both"), list, tuple],
        "noise": [Interval(Real, 0, 1, closed="left")],
        "label": "no_validation",
        "sr": [Interval(Integral, MIN_SR, MAX_SR, closed="both")],
        "keep_original": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        n_samples=3000,
        words=None,
        voices=48,
        noise=0.1,
        label="auto",
        sr=16000,
        keep_original=True,
        random_state=None,
    ):
        self.n_samples = n_samples
        self.words = words
        self.voices = voices
        self.noise = noise
        self.label = label
        self.sr = sr
        self.keep_original = keep_original
        self.random_state = random_state

    def _check(self, X, y):
        sources = check_utterances(X)
        if y is None:
            raise ValueError("y is required: the filler label is added to it")
        y = column_or_1d(y, warn=True)
        check_consistent_length(sources, y)
        names = self._voice_names()
        words = FILLER_WORDS if self.words is None else self.words
        bad = [w for w in words if not isinstance(w, str) or not w.strip()]
        if not words or bad:
            raise ValueError(f"words must be non-empty strings; got {bad or words}")
        label = resolve_filler_label(self.label, y)
        if any(v == label for v in y.tolist()):
            raise ValueError(
                f"the filler label {label!r} is a label of y: choose another label"
            )
        said = {str(v).strip().lower() for v in y.tolist()}
        clash = sorted({w for w in words if w.strip().lower() in said})
        if clash:
            raise ValueError(
                f"words {clash} are labels of y, words of the vocabulary: "
                "leave them out of the filler words"
            )
        return sources, y, names, list(words), label

    def _fit_resample(self, X, y):
        sources, y, names, words, label = self._check(X, y)
        rng = check_random_state(self.random_state)
        n = self.voices if names is None else len(names)
        speakers = _draw_speakers(rng, n, names)
        n_noise = int(round(self.noise * self.n_samples))
        n_words = self.n_samples - n_noise
        who = rng.randint(len(speakers), size=max(n_words, 1))
        what = rng.randint(len(words), size=max(n_words, 1))
        said = [(speakers[i], label, words[j], 0) for i, j in zip(who, what)]
        waves, meta = _say(said, rng, self.sr, None)  # one at least: lengths
        tags = [("filler", m[1]) for m in meta][:n_words]
        waves = list(waves)
        if n_noise:
            per_kind = -(-n_noise // len(NOISE_KINDS))
            clips, kinds = make_outlier_clips(
                waves, kinds=NOISE_KINDS, n_per_kind=per_kind, sr=self.sr,
                random_state=rng,
            )  # fmt: skip
            keep = rng.permutation(len(clips))[:n_noise]
            clips = [np.asarray(clips[i], dtype=np.float32) for i in keep]
            tags += [("noise", str(kinds[i])) for i in keep]
        else:
            clips = []
        waves = waves[:n_words] + clips
        y_dtype = np.result_type(y.dtype, np.asarray(label).dtype)
        if y.dtype.kind not in "iuf" or np.asarray(label).dtype.kind not in "iuf":
            y_dtype = object if y.dtype.kind == "O" else y_dtype
        new_y = np.full(len(waves), label, dtype=y_dtype)
        X_new, y_new, done = [], [], []
        if self.keep_original:
            X_new += sources
            y_new.append(y.astype(y_dtype))
            done += [("original", 1.0)] * len(sources)
        X_new += list(waves)
        y_new.append(new_y)
        done += tags
        keys = ("name", "pitch", "pitch_range", "rate")
        self.voices_ = [{k: s[k] for k in keys} for s in speakers]
        self.label_ = label
        self.perturbations_ = done
        self.n_features_in_ = 1
        return X_new, np.concatenate(y_new)
