"""Writing a model folder that the loaders read back (``inference.json`` + ``inference.pdiparams``
from ``paddle.jit.save``, ``inference.yml``, optionally the training ``model.pdparams``).

The folder is written next to its place and renamed into it: a reader (or a crash) never sees a
program without its weights, or weights without the ``inference.yml`` that says how to use them.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from typing import Iterator, Optional, Sequence

import paddle

from ..errors import InputError
from ..io import current_umask
from ..modes import eval_mode

PARAMS_FILE = "model.pdparams"
# what a model folder of this package may hold besides the export itself: a training report
REPORT_FILES = ("metrics.json",)


def _own_file(name: str) -> bool:
    return name.startswith("inference.") or name == PARAMS_FILE or name in REPORT_FILES


def check_model_folder(out_dir: str) -> str:
    """``out_dir`` as an absolute path, if it may be replaced by a model folder: absent, empty, or
    holding only what an earlier export (and its report) wrote.

    Raises:
        InputError: it is a file, or a folder with anything else in it (never deleted).
    """
    out_dir = os.path.abspath(out_dir)
    if os.path.isfile(out_dir):
        raise InputError(f"model folder {out_dir} is a file; pass a new or empty folder")
    if os.path.isdir(out_dir):
        other = sorted(n for n in os.listdir(out_dir) if not _own_file(n))
        if other:
            raise InputError(f"model folder {out_dir} holds other files ({', '.join(other[:3])}"
                             f"{' ...' if len(other) > 3 else ''}); it is replaced as a whole when the model is "
                             "saved, so pass a new or empty folder")
    return out_dir


@contextmanager
def atomic_folder(out_dir: str) -> Iterator[str]:
    """A temporary sibling of ``out_dir`` to write a model folder into; on success it replaces
    ``out_dir`` whole (the old folder is moved aside first, then deleted), on any error it is
    removed and ``out_dir`` is left as it was.

    Example:
        >>> import os, tempfile
        >>> from paddle_cam.models.export import atomic_folder
        >>> out = os.path.join(tempfile.mkdtemp(), "model")
        >>> with atomic_folder(out) as tmp:
        ...     open(os.path.join(tmp, "inference.yml"), "w").close()
        >>> os.listdir(out)
        ['inference.yml']
    """
    out_dir = os.path.abspath(out_dir)
    parent = os.path.dirname(out_dir)
    try:
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix="." + os.path.basename(out_dir) + ".", dir=parent)
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp's folder is private; a model folder is made like any other
    except OSError as e:
        raise InputError(f"cannot write the model folder {out_dir} ({e.strerror}); pass a writable --output") from None
    try:
        yield tmp
        old = None
        if os.path.exists(out_dir):
            old = tempfile.mkdtemp(prefix="." + os.path.basename(out_dir) + ".old.", dir=parent)
            os.replace(out_dir, os.path.join(old, "x"))
        os.replace(tmp, out_dir)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def save_inference(model: paddle.nn.Layer, out_dir: str, input_spec: Sequence[Optional[int]] = (None, 3, None, None),
                   config: Optional[dict] = None, program: bool = True, params: bool = False) -> str:
    """Write ``model`` as a model folder ``out_dir``, atomically: into a temporary sibling folder,
    then renamed into place, replacing what an earlier export left there (see
    :func:`check_model_folder`). Returns the absolute ``out_dir``.

    Args:
        input_spec: the (N, C, H, W) input shape traced by ``paddle.jit.save`` (None = any).
        config: written as ``inference.yml`` when given.
        program: write the inference program (``inference.json`` + ``inference.pdiparams``).
        params: also write the training weights (``model.pdparams``, ``paddle.save`` of the state dict).
    """
    import yaml

    out_dir = check_model_folder(out_dir)
    with atomic_folder(out_dir) as tmp:
        if params:
            paddle.save(model.state_dict(), os.path.join(tmp, PARAMS_FILE))
        if program:
            spec = [paddle.static.InputSpec(list(input_spec), "float32", "x")]
            with eval_mode(model):
                paddle.jit.save(model, os.path.join(tmp, "inference"), input_spec=spec)
        if config:
            with open(os.path.join(tmp, "inference.yml"), "w", encoding="utf-8") as f:
                yaml.safe_dump(config, f, allow_unicode=True, sort_keys=False)
    return out_dir
