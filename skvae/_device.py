"""Torch devices: the ``device`` parameter and what this machine has."""

import torch

__all__ = ["device_available", "resolve_device"]


def resolve_device(device):
    """Turn the ``device`` parameter into a ``torch.device``.

    ``"auto"`` picks CUDA when it is available, then Apple's MPS, else CPU.
    Raises ``ValueError`` for a string torch does not understand and
    ``RuntimeError`` for a device type that is not available here.
    """
    if isinstance(device, torch.device):
        dev = device
    elif device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    else:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(
                f"device={device!r} is not a valid torch device; use 'auto', "
                "'cpu', 'cuda', 'cuda:<index>' or 'mps'."
            ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device={device!r} was requested but CUDA is not available on this "
            "machine; use device='cpu' or device='auto'."
        )
    if dev.type == "cuda" and dev.index is not None:
        if dev.index >= torch.cuda.device_count():
            raise RuntimeError(
                f"device={device!r}: this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)."
            )
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise RuntimeError(f"device={device!r} was requested but is not available.")
    return dev


def device_available(device):
    """Whether ``device`` (a ``torch.device``) can be used on this machine.

    Unlike :func:`resolve_device` it never raises: a model trained on a GPU
    and loaded where that GPU is missing falls back to the CPU.
    """
    if device.type == "cpu":
        return True
    if device.type == "cuda":
        return (
            torch.cuda.is_available()
            and (device.index or 0) < torch.cuda.device_count()
        )
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        return mps is not None and mps.is_available()
    return False
