"""Model state for an explanation: eval mode for the call, the caller's flag restored after."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import paddle


@contextmanager
def eval_mode(*models: paddle.nn.Layer) -> Iterator[None]:
    """Put ``models`` in ``eval()`` for the block and restore each one's training flag, even when
    the block raises. Explanations must see inference behaviour (batch-norm running statistics,
    no dropout, DB heads that return one map), whatever state the caller left the model in.

    Example:
        >>> import paddle
        >>> from paddle_cam.modes import eval_mode
        >>> net = paddle.nn.Sequential(paddle.nn.Linear(2, 2), paddle.nn.Dropout(0.5))
        >>> _ = net.train()
        >>> with eval_mode(net):
        ...     net.training
        False
        >>> net.training
        True
    """
    flags = [(m, m.training) for m in models if m is not None]
    for m, _ in flags:
        m.eval()
    try:
        yield
    finally:
        for m, was_training in flags:
            if was_training:
                m.train()
