"""CTC targets: what scalar of a text recogniser's output is explained, per character.

A CTC recogniser outputs one class distribution per frame (``(T, classes)``, class 0 = blank).
Reading it (greedy: argmax per frame, repeats merged, blanks dropped) or aligning it to a given
text (forced: the most probable CTC path that spells the text) assigns every character k of the
text a run of frames ``frames_k``. The targets below are sums of log-probabilities over those
frames; they read the **pre-softmax logits** ``(T, classes)`` of one batch item (what
:class:`paddle_cam.ocr.rec_explain.RecLogits` outputs) and take the log-softmax of their own
frames themselves, so no probability is taken the log of after underflowing.

- :class:`CTCCharTarget`: character k, ``sum_{t in frames_k} log p_t(c_k)``.
- :class:`CTCStringTarget`: the whole string, the sum of its characters' targets (not the mean
  over all frames, which is dominated by blanks).
- :class:`CTCContrastTarget`: "why this and not that", ``sum_{t in frames_k} log p_t(c_k) -
  log p_t(alt)``; ``alt`` given or the runner-up (see :func:`runner_up`).
- :class:`CTCDroppedTarget`: a character the user says is missing between characters k-1 and k:
  the blank's evidence ``sum log p_t(blank)`` on the frames between them.
- :func:`least_confident`: the index of the least confident character of the line.

Example:
    >>> import numpy as np
    >>> logits = np.full((6, 4), -5.0, np.float32)        # classes: blank, a, b, c
    >>> for t, c in enumerate([1, 1, 0, 2, 0, 0]):
    ...     logits[t, c] = 5.0
    >>> al = greedy_alignment(logits, ["blank", "a", "b", "c"])
    >>> al.text, [c.frames for c in al.chars]
    ('ab', [[0, 1], [3]])
    >>> round(float(char_target(al, 1)(paddle.to_tensor(logits))), 4)
    -0.0001
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np
import paddle

from ..errors import InputError

BLANK = 0


def log_softmax_np(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax in float64 (the reference the targets are checked against)."""
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


@dataclass
class AlignedChar:
    """One character of an aligned text: its class, its frames, and its confidence.

    ``confidence`` follows PaddleOCR's line score: the probability of the character's class at
    the first frame of its run (``CTCLabelDecode`` keeps that frame), so the mean of a greedy
    line's confidences equals the line score PaddleOCR reports.
    """

    index: int
    char: str
    class_id: int
    frames: List[int]
    confidence: float
    mean_prob: float                     # mean p(c_k) over all its frames


@dataclass
class CTCAlignment:
    """A text and the frames each of its characters collapses from."""

    text: str
    chars: List[AlignedChar]
    path: np.ndarray                     # (T,) class per frame (0 = blank)
    characters: List[str] = field(repr=False, default_factory=list)   # the model's class list
    forced: bool = False

    @property
    def num_frames(self) -> int:
        return int(len(self.path))

    @property
    def score(self) -> float:
        """PaddleOCR's line score: mean of the per-character confidences (0 for an empty text)."""
        return float(np.mean([c.confidence for c in self.chars])) if self.chars else 0.0

    def gap_frames(self, k: int) -> List[int]:
        """Frames strictly between character k-1 and character k (k = 0: before the first one,
        k = len(text): after the last one)."""
        n = len(self.chars)
        if not 0 <= k <= n:
            raise InputError(f"gap {k} is out of range: the text {self.text!r} has {n} characters, "
                             f"so gaps 0..{n} (0 = before the first, {n} = after the last)")
        lo = self.chars[k - 1].frames[-1] + 1 if k > 0 else 0
        hi = self.chars[k].frames[0] if k < n else self.num_frames
        return list(range(lo, hi))


def _chars_from_path(path: np.ndarray, probs: np.ndarray, characters: Sequence[str]) -> List[AlignedChar]:
    out: List[AlignedChar] = []
    prev = BLANK
    for t, c in enumerate(path.tolist()):
        if c != BLANK and c == prev:
            out[-1].frames.append(t)
        elif c != BLANK:
            out.append(AlignedChar(len(out), characters[c], int(c), [t], float(probs[t, c]), 0.0))
        prev = c
    for ch in out:
        ch.mean_prob = float(np.mean(probs[ch.frames, ch.class_id]))
    return out


def greedy_alignment(logits: np.ndarray, characters: Sequence[str]) -> CTCAlignment:
    """The greedy CTC reading of one item's ``(T, classes)`` logits (or probabilities: argmax is
    the same) and each character's frames, as PaddleOCR's ``CTCLabelDecode`` reads it.

    Example:
        >>> al = greedy_alignment(logits, rec.characters)          # doctest: +SKIP
        >>> al.text, al.chars[0].frames                            # doctest: +SKIP
        ('增值税', [2, 3])
    """
    z = np.asarray(logits, np.float64)
    if z.ndim != 2 or z.shape[1] != len(characters):
        raise InputError(f"CTC output must be (frames, {len(characters)} classes), got {z.shape}")
    probs = np.exp(log_softmax_np(z))
    path = z.argmax(axis=1)
    chars = _chars_from_path(path, probs, characters)
    return CTCAlignment("".join(c.char for c in chars), chars, path, list(characters), False)


def encode_text(text: str, characters: Sequence[str]) -> List[int]:
    """Class ids of ``text``; a character outside the model's dictionary is an InputError."""
    index = {c: i for i, c in enumerate(characters) if i != BLANK}
    missing = [c for c in text if c not in index]
    if missing:
        raise InputError(f"character {missing[0]!r} of {text!r} is not in the recogniser's dictionary "
                         f"({len(characters) - 1} characters); it cannot be read or aligned")
    return [index[c] for c in text]


def forced_alignment(logits: np.ndarray, characters: Sequence[str], text: str) -> CTCAlignment:
    """The most probable CTC path (Viterbi) of ``(T, classes)`` logits that spells ``text``.

    Use it to explain a reading the model did not make (the ground truth of a misread line):
    each character of ``text`` gets the frames the best path spelling it assigns.

    Example:
        >>> forced_alignment(logits, rec.characters, "叁").chars[0].frames   # doctest: +SKIP
        [7, 8]
    """
    if not text:
        raise InputError("forced alignment needs a non-empty text")
    labels = encode_text(text, characters)
    lp = log_softmax_np(logits)
    T = lp.shape[0]
    ext = [BLANK]
    for c in labels:
        ext += [c, BLANK]
    S = len(ext)
    need = len(labels) + sum(1 for a, b in zip(labels, labels[1:]) if a == b)
    if need > T:
        raise InputError(f"{text!r} needs at least {need} frames but the line has {T}: it cannot be aligned")
    neg = -np.inf
    score = np.full((T, S), neg)
    back = np.zeros((T, S), np.int64)
    score[0, 0] = lp[0, ext[0]]
    score[0, 1] = lp[0, ext[1]]
    for t in range(1, T):
        for s in range(S):
            cands = [(score[t - 1, s], s)]
            if s >= 1:
                cands.append((score[t - 1, s - 1], s - 1))
            if s >= 2 and ext[s] != BLANK and ext[s] != ext[s - 2]:
                cands.append((score[t - 1, s - 2], s - 2))
            best, arg = max(cands, key=lambda v: v[0])  # first maximum: deterministic ties
            score[t, s] = best + lp[t, ext[s]]
            back[t, s] = arg
    s = S - 1 if score[T - 1, S - 1] >= score[T - 1, S - 2] else S - 2
    path = np.zeros(T, np.int64)
    states = np.zeros(T, np.int64)
    for t in range(T - 1, -1, -1):
        states[t] = s
        path[t] = ext[s]
        s = back[t, s]
    probs = np.exp(lp)
    # group by state (not by class): two equal neighbours separated by a blank stay two characters
    chars: List[AlignedChar] = []
    last = -1
    for t in range(T):
        st = int(states[t])
        if ext[st] == BLANK:
            continue
        if st != last:
            c = ext[st]
            chars.append(AlignedChar(len(chars), characters[c], int(c), [t], float(probs[t, c]), 0.0))
        else:
            chars[-1].frames.append(t)
        last = st
    for ch in chars:
        ch.mean_prob = float(np.mean(probs[ch.frames, ch.class_id]))
    return CTCAlignment(text, chars, path, list(characters), True)


# ---- targets --------------------------------------------------------------------------------

class _FramesTarget:
    """Shared by the CTC targets: ``frames`` are the query tokens attention methods read (in
    PP-OCR recognisers the SVTR tokens are the CTC frames: a 1 x T grid).

    Called on a tensor a target returns a differentiable scalar tensor; called on a numpy array
    (black-box methods, ``numpy_target``) it returns the same value as a float computed in numpy,
    which skips a tensor round trip per perturbed input and target."""

    frames: List[int]
    numpy_target = True

    @property
    def query_tokens(self) -> List[int]:
        return list(self.frames)


def _logits(output) -> paddle.Tensor:
    logits = output[0] if isinstance(output, (list, tuple)) else output
    if logits.ndim != 2:
        raise InputError(f"a CTC target reads one item's (frames, classes) logits, got shape {logits.shape}")
    return logits


def _frame_log_probs(output, frames: Sequence[int]) -> paddle.Tensor:
    """(len(frames), classes) log-softmax of the given frames only.

    Written out as ``z - max - log(sum(exp(z - max)))`` on the gathered rows: Paddle's CPU
    ``log_softmax`` kernel takes ~0.2 s on a (40, 6625) output, which would make every
    character cost more than the model's own forward; a target needs only its own frames.
    """
    rows = paddle.gather(_logits(output), paddle.to_tensor(list(frames), dtype="int64"))
    shifted = rows - rows.max(axis=-1, keepdim=True).detach()   # the shift cancels exactly
    return shifted - paddle.log(paddle.exp(shifted).sum(axis=-1, keepdim=True))


def _frame_sum(output, frames: Sequence[int], cls: int):
    if isinstance(output, np.ndarray):
        return float(_np_frame_log_probs(output, frames)[:, int(cls)].sum())
    return _frame_log_probs(output, frames)[:, int(cls)].sum()


def _np_frame_log_probs(output: np.ndarray, frames: Sequence[int]) -> np.ndarray:
    z = np.asarray(output)
    if z.ndim != 2:
        raise InputError(f"a CTC target reads one item's (frames, classes) logits, got shape {z.shape}")
    return log_softmax_np(z[list(frames)])


class CTCCharTarget(_FramesTarget):
    """Character ``index``: the sum of the log-probability of its class over its frames.

    Example:
        >>> t = CTCCharTarget(al.chars[2])                         # doctest: +SKIP
        >>> t(logits_item)                                         # scalar tensor  # doctest: +SKIP
    """

    kind = "char"

    def __init__(self, char: AlignedChar):
        self.char = char
        self.frames = list(char.frames)       # query frames (attention methods read them)
        self.class_id = int(char.class_id)
        self.index = int(char.index)

    def __call__(self, output) -> paddle.Tensor:
        return _frame_sum(output, self.frames, self.class_id)

    def __repr__(self) -> str:
        return f"CTCCharTarget({self.index}:{self.char.char!r}, frames={self.frames})"


class CTCStringTarget(_FramesTarget):
    """The whole string: the sum of its characters' targets (blank frames do not count)."""

    kind = "string"

    def __init__(self, alignment: CTCAlignment):
        if not alignment.chars:
            raise InputError("the recognition is empty: there is no text to explain")
        self.chars = list(alignment.chars)
        self.frames = sorted(t for c in self.chars for t in c.frames)
        self.index = -1

    def __call__(self, output) -> paddle.Tensor:
        parts = [_frame_sum(output, c.frames, c.class_id) for c in self.chars]
        return float(sum(parts)) if isinstance(output, np.ndarray) else paddle.add_n(parts)

    def __repr__(self) -> str:
        return f"CTCStringTarget({''.join(c.char for c in self.chars)!r})"


class CTCContrastTarget(_FramesTarget):
    """Why character k was read as ``c_k`` and not ``alt``: ``sum_{t in frames_k} log p_t(c_k) -
    log p_t(alt)`` (the softmax normaliser cancels: it is the logit difference)."""

    kind = "contrast"

    def __init__(self, char: AlignedChar, alt_class: int, alt_char: str):
        if int(alt_class) == int(char.class_id):
            raise InputError(f"the alternative {alt_char!r} is the character that was read; name another one")
        self.char = char
        self.frames = list(char.frames)
        self.class_id = int(char.class_id)
        self.alt_class = int(alt_class)
        self.alt_char = alt_char
        self.index = int(char.index)

    def __call__(self, output) -> paddle.Tensor:
        lp = (_np_frame_log_probs(output, self.frames) if isinstance(output, np.ndarray)
              else _frame_log_probs(output, self.frames))
        return lp[:, self.class_id].sum() - lp[:, self.alt_class].sum()

    def __repr__(self) -> str:
        return f"CTCContrastTarget({self.index}:{self.char.char!r} vs {self.alt_char!r})"


class CTCDroppedTarget(_FramesTarget):
    """A character the user says is missing before character ``gap`` (between k-1 and k): the
    blank's evidence ``sum log p_t(blank)`` on the frames between them, i.e. what made the model
    read nothing there."""

    kind = "dropped"

    def __init__(self, alignment: CTCAlignment, gap: int):
        frames = alignment.gap_frames(gap)
        if not frames:
            raise InputError(f"characters {gap - 1} and {gap} of {alignment.text!r} are on adjacent frames: no "
                             "frame read blank between them, so nothing was dropped there; explain the neighbours "
                             "with a contrast target instead")
        self.frames = frames
        self.gap = int(gap)
        self.index = -1

    def __call__(self, output) -> paddle.Tensor:
        return _frame_sum(output, self.frames, BLANK)

    def __repr__(self) -> str:
        return f"CTCDroppedTarget(gap={self.gap}, frames={self.frames})"


# ---- builders with the user-facing checks ----------------------------------------------------

def check_index(alignment: CTCAlignment, k: int) -> AlignedChar:
    """Character ``k`` of the alignment, or one clear InputError."""
    n = len(alignment.chars)
    if n == 0:
        raise InputError("the recognition is empty: there is no character to explain")
    if not -n <= int(k) < n:
        raise InputError(f"character index {k} is out of range: {alignment.text!r} has {n} characters "
                         f"(indices 0..{n - 1})")
    return alignment.chars[int(k)]


def char_target(alignment: CTCAlignment, k: int) -> CTCCharTarget:
    """The target of character ``k`` (negative indices count from the end)."""
    return CTCCharTarget(check_index(alignment, k))


def char_targets(alignment: CTCAlignment) -> List[CTCCharTarget]:
    """One target per character of the text, in reading order (empty for an empty text)."""
    return [CTCCharTarget(c) for c in alignment.chars]


def runner_up(logits: np.ndarray, char: AlignedChar) -> int:
    """The class (neither blank nor ``c_k``) with the largest summed log-probability over the
    character's frames: the reading the model came closest to instead."""
    lp = log_softmax_np(np.asarray(logits)[char.frames]).sum(axis=0)
    lp[[BLANK, char.class_id]] = -np.inf
    return int(np.argmax(lp))


def contrast_target(alignment: CTCAlignment, k: int, logits: np.ndarray,
                    alternative: Optional[str] = None) -> CTCContrastTarget:
    """Character ``k`` against ``alternative`` (one character of the dictionary), or against the
    runner-up when none is given."""
    ch = check_index(alignment, k)
    if alternative is None:
        alt = runner_up(logits, ch)
    else:
        if len(alternative) != 1:
            raise InputError(f"the alternative must be one character, got {alternative!r}")
        alt = encode_text(alternative, alignment.characters)[0]
    return CTCContrastTarget(ch, alt, alignment.characters[alt])


def dropped_target(alignment: CTCAlignment, gap: int) -> CTCDroppedTarget:
    """The blank evidence where a character is missing before character ``gap``."""
    if not alignment.chars and gap != 0:
        raise InputError("the recognition is empty: the only gap is 0 (the whole line)")
    return CTCDroppedTarget(alignment, gap)


def least_confident(alignment: CTCAlignment) -> int:
    """Index of the least confident character (first one on ties).

    Example:
        >>> least_confident(al)                                    # doctest: +SKIP
        4
    """
    if not alignment.chars:
        raise InputError("the recognition is empty: there is no character to explain")
    return int(np.argmin([c.confidence for c in alignment.chars]))
