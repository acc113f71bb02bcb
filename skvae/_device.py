"""Torch devices: the ``device`` parameter and what this machine has."""

import torch

__all__ = ["device_available", "resolve_device"]


def resolve_device(device):
    """Turn the ``device`` parameter into a ``torch.device``.

    ``"auto"`` picks CUDA when it is available, then Apple's MPS, else CPU.
    Raises ``ValueError`` for a string torch does not understand and
    ``RuntimeError`` for a device type that is not available here.
    """
    if device == "auto":
        auto = (torch.device("cuda"), torch.device("mps"))
        return next((d for d in auto if device_available(d)), torch.device("cpu"))
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a valid torch device; use 'auto', "
            "'cpu', 'cuda', 'cuda:<index>' or 'mps'."
        ) from exc
    if dev.type in ("cuda", "mps") and not device_available(dev):
        if dev.type == "cuda" and torch.cuda.is_available():
            raise RuntimeError(
                f"device={device!r}: this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)."
            )
        raise RuntimeError(
            f"device={device!r} was requested but {dev.type.upper()} is not "
            "available on this machine; use device='cpu' or device='auto'."
        )
    return dev


def device_available(device):
    """Whether ``device`` (a ``torch.device``) can be used on this machine;
    never raises (a GPU model loaded without that GPU falls back to the CPU)."""
    if device.type == "cpu":
        return True
    if device.type == "cuda":
        index = device.index
        count = torch.cuda.device_count
        return torch.cuda.is_available() and (index is None or index < count())
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        return mps is not None and mps.is_available()
    return False
