"""A minimal ctypes binding to eSpeak NG (library from PyPI ``espeakng-loader``).

libespeak-ng keeps global state and is not thread-safe, so ``synthesize`` runs
each batch in a fresh process executing this file (which imports nothing from
skvae): the same batch then gives the same samples.
"""

import ctypes
import json
import os
import struct
import subprocess
import sys
from ctypes import c_char_p, c_int, c_size_t, c_uint, c_void_p

# speak_lib.h
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4

_CALLBACK = ctypes.CFUNCTYPE(c_int, ctypes.POINTER(ctypes.c_short), c_int, c_void_p)


class _Synth:
    """In-process synthesiser. Use only in a process of its own (see above)."""

    def __init__(self):
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [c_int, c_int, c_char_p, c_int]
        lib.espeak_SetVoiceByName.argtypes = [c_char_p]
        lib.espeak_SetParameter.argtypes = [c_int, c_int, c_int]
        synth_args = [c_void_p, c_size_t, c_uint, c_int, c_uint, c_uint]
        lib.espeak_Synth.argtypes = [*synth_args, c_void_p, c_void_p]
        data_parent = os.path.dirname(espeakng_loader.get_data_path())
        flags = _INITIALIZE_DONT_EXIT
        self.sr = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_parent.encode(), flags
        )
        if self.sr <= 0:
            raise RuntimeError(f"espeak_Initialize failed with data in {data_parent}")
        self._chunks = []
        self._callback = _CALLBACK(self._collect)  # keep a reference
        lib.espeak_SetSynthCallback(self._callback)
        self._lib = lib

    def _collect(self, wav, n_samples, events):
        if n_samples > 0 and wav:
            self._chunks.append(ctypes.string_at(wav, 2 * n_samples))
        return 0

    def say(self, text, voice, rate=175, pitch=50, pitch_range=50):
        """Synthesise ``text``; return int16 little-endian bytes at ``self.sr``."""
        lib = self._lib
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"unknown eSpeak NG voice {voice!r}")
        for param, value in ((_RATE, rate), (_PITCH, pitch), (_RANGE, pitch_range)):
            lib.espeak_SetParameter(param, int(value), 0)
        self._chunks = []
        data = text.encode("utf-8") + b"\0"
        status = lib.espeak_Synth(
            data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
        )
        if status != 0:
            raise RuntimeError(f"espeak_Synth failed with status {status}")
        lib.espeak_Synchronize()
        return b"".join(self._chunks)


def _serve(stdin, stdout):
    """Script mode: read a JSON list of jobs, write framed int16 waveforms."""
    jobs = json.load(stdin)
    synth = _Synth()
    stdout.write(struct.pack("<I", synth.sr))
    for job in jobs:
        pcm = synth.say(**job)
        stdout.write(struct.pack("<I", len(pcm)))
        stdout.write(pcm)
    stdout.flush()


def synthesize(jobs, *, timeout=600):
    """Synthesise a batch of utterances in a fresh helper process.

    Parameters
    ----------
    jobs : list of dict
        ``_Synth.say`` keywords: ``text``, ``voice``, optional ``rate``
        (words per minute), ``pitch`` and ``pitch_range`` (0-100).
    timeout : float, default=600
        Seconds before the helper is killed.

    Returns
    -------
    waveforms : list of ndarray of float32
        One waveform per job, in [-1, 1].
    sr : int
        Their sample rate (22050 Hz).
    """
    try:
        import espeakng_loader  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "make_spoken_digits needs the eSpeak NG library from the PyPI "
            "package 'espeakng-loader': pip install 'skvae[synth]'"
        ) from None
    import numpy as np

    proc = subprocess.run(
        [sys.executable, "-P", os.path.abspath(__file__)],
        input=json.dumps(list(jobs)).encode(),
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise RuntimeError(
            "eSpeak NG synthesis failed: "
            + (err[-1] if err else f"exit {proc.returncode}")
        )
    out = proc.stdout
    (sr,) = struct.unpack_from("<I", out, 0)
    pos, waves = 4, []
    for _ in jobs:
        (n,) = struct.unpack_from("<I", out, pos)
        pos += 4
        pcm = np.frombuffer(out, "<i2", n // 2, pos)
        waves.append(pcm.astype(np.float32) / np.float32(32768))
        pos += n
    return waves, sr


if __name__ == "__main__":
    _serve(sys.stdin, sys.stdout.buffer)
