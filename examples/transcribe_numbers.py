"""Transcribe numbers read aloud: connected digits with CTC.

People read phone numbers, PINs and codes in one breath, "oh" for zero,
"double five". ``skvae.recipes.make_transcriber`` is a scikit-learn
pipeline from audio to digit strings: log-mel frames
(``SpeechFeatures(output="sequence")``) into a ``CTCTranscriber``
(convolutions, a bidirectional GRU, CTC), trained on strings and their
digits only, with no alignment.

No transcribed corpus is needed: ``skvae.datasets.make_digit_strings``
joins FSDD's isolated digits into strings (one speaker per string, natural
gaps, overlaps and level changes) and has eSpeak NG voices read numbers as
people do. This example trains on five FSDD speakers and 80 generated
voices, then transcribes strings of the sixth speaker (its official test
recordings), strings at 10 dB SNR, and strings read by voices it never
heard, with "oh" and "double". Run (about 10 minutes on 2 cores; fewer
``--n-strings`` or ``--max-iter`` run faster and transcribe worse)::

    python examples/transcribe_numbers.py [--data-home ../shared/data]

FSDD is read from ``--data-home`` (a folder holding ``fsdd/recordings``),
else from where :func:`skvae.datasets.find_fsdd_home` finds it; nothing is
downloaded. ``skvae train --task transcribe`` does the same from the
command line and writes a model that ``skvae transcribe`` uses.
"""

import argparse
import time

from skvae.datasets import find_fsdd_home, make_digit_strings
from skvae.evaluation import transcription_scores
from skvae.recipes import make_transcriber, split_voices, training_strings

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=None, help="folder holding fsdd/")
    parser.add_argument(
        "--held-out",
        default="yweweler",
        choices=SPEAKERS,
        help="the FSDD speaker left out of training (default yweweler)",
    )
    parser.add_argument("--n-strings", type=int, default=3000, help="training strings")
    parser.add_argument("--max-iter", type=int, default=12, help="most epochs")
    args = parser.parse_args()
    home = find_fsdd_home(args.data_home)
    if home is None:
        parser.error("FSDD not found: pass --data-home (a folder holding fsdd/)")
    train_voices, test_voices = split_voices()
    others = [s for s in SPEAKERS if s != args.held_out]
    n = args.n_strings
    sizes = {"fsdd": 2 * n // 5, "perturbed": n // 5, "noisy": n // 5, "espeak": n // 5}
    X, y, _, _ = training_strings(
        home, speakers=others, espeak_voices=train_voices, sizes=sizes, random_state=0
    )
    print(f"training on {len(X)} strings of 1-12 digits ({sizes})")
    model = make_transcriber(max_iter=args.max_iter, random_state=0, verbose=1)
    start = time.perf_counter()
    model.fit(X, y)
    print(f"trained in {time.perf_counter() - start:.0f} s")

    fsdd = dict(source="fsdd", speakers=[args.held_out], subset="test", data_home=home)
    tests = {
        f"{args.held_out} (never heard)": make_digit_strings(
            100, lengths=(3, 10), **fsdd, random_state=1
        ),
        f"{args.held_out}, 10 dB SNR": make_digit_strings(
            100, lengths=(3, 10), snr_db=10.0, **fsdd, random_state=2
        ),
        "16 new voices, 'oh' and 'double'": make_digit_strings(
            100,
            lengths=(3, 10),
            speakers=test_voices,
            oh=0.5,
            double=0.5,
            random_state=3,
        ),
    }
    for name, strings in tests.items():
        pred = model.predict(list(strings.data))
        s = transcription_scores(list(strings.target), list(pred))
        print(
            f"{name}: digit accuracy {s['digit_accuracy']:.3f}, whole strings "
            f"{s['string_accuracy']:.2f} ({s['substitutions']} substituted, "
            f"{s['deletions']} deleted, {s['insertions']} inserted)"
        )
    said = tests["16 new voices, 'oh' and 'double'"]
    for text, truth, heard in list(zip(said.text, said.target, pred))[:5]:
        print(f"  said {text!r}: {truth} -> {heard}")


if __name__ == "__main__":
    main()
