"""The torch network of :class:`~skvae.CTCTranscriber`: convolutions over
frames, a bidirectional GRU, and per-step log-probabilities of the symbols
and the CTC blank."""

import torch
from torch import nn

__all__ = ["CTCModule"]

#: width of both convolutions (frames)
_KERNEL = 5


class CTCModule(nn.Module):
    """Frames (batch, time, n_features) to log-probabilities (batch, steps,
    n_symbols + 1), blank first.

    Two 1-D convolutions (the second with ``stride``, so a step is
    ``stride`` frames), GELU and dropout, then ``n_layers`` bidirectional
    GRU layers of ``hidden_size`` units per direction and a linear layer.
    """

    def __init__(
        self,
        n_features,
        n_symbols,
        *,
        conv_channels=128,
        hidden_size=128,
        n_layers=2,
        stride=2,
        dropout=0.1,
    ):
        super().__init__()
        self.n_features = int(n_features)
        self.n_symbols = int(n_symbols)
        self.conv_channels = int(conv_channels)
        self.hidden_size = int(hidden_size)
        self.n_layers = int(n_layers)
        self.stride = int(stride)
        self.dropout = float(dropout)
        pad = _KERNEL // 2
        self.conv1 = nn.Sequential(
            nn.Conv1d(self.n_features, self.conv_channels, _KERNEL, padding=pad),
            nn.GELU(),
            nn.Dropout(self.dropout),
        )
        self.conv2 = nn.Sequential(
            nn.Conv1d(
                self.conv_channels,
                self.conv_channels,
                _KERNEL,
                stride=self.stride,
                padding=pad,
            ),
            nn.GELU(),
            nn.Dropout(self.dropout),
        )
        self.rnn = nn.GRU(
            self.conv_channels,
            self.hidden_size,
            num_layers=self.n_layers,
            batch_first=True,
            bidirectional=True,
            dropout=self.dropout if self.n_layers > 1 else 0.0,
        )
        self.out = nn.Linear(2 * self.hidden_size, self.n_symbols + 1)

    def config(self):
        """The keyword arguments that rebuild this network."""
        return {
            "n_features": self.n_features,
            "n_symbols": self.n_symbols,
            "conv_channels": self.conv_channels,
            "hidden_size": self.hidden_size,
            "n_layers": self.n_layers,
            "stride": self.stride,
            "dropout": self.dropout,
        }

    def steps(self, n_frames):
        """Output steps of sequences of ``n_frames`` frames (int or tensor)."""
        return (n_frames - 1) // self.stride + 1

    def forward(self, x, lengths):
        """Log-probabilities (batch, steps, n_symbols + 1) and the steps of
        each sequence; ``lengths``: frames of each (a CPU int64 tensor)."""
        # padding frames are zeros after the first convolution too, so a
        # sequence gives the same output alone as in a padded batch
        h = self.conv1(x.transpose(1, 2))
        frames = torch.arange(h.shape[2], device=h.device)
        h = h * (frames[None, :] < lengths.to(h.device)[:, None])[:, None, :]
        h = self.conv2(h).transpose(1, 2)
        steps = self.steps(lengths)
        packed = nn.utils.rnn.pack_padded_sequence(
            h, steps.cpu(), batch_first=True, enforce_sorted=False
        )
        total = h.shape[1]
        h, _ = self.rnn(packed)
        h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=total)
        return torch.log_softmax(self.out(h), dim=-1), steps
