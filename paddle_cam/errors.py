"""Errors a user can act on. Tools print their message as one line and exit with code 2."""


class PaddleCamError(Exception):
    """Base class: the message names the problem and how to fix it."""


class InputError(PaddleCamError):
    """A file or argument given by the user cannot be used."""


class LayerNotFoundError(PaddleCamError, KeyError):
    """A layer name or object does not belong to the model."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class HookNotFiredError(PaddleCamError):
    """A hooked layer did not run during the forward pass."""


class TargetError(PaddleCamError):
    """Targets do not fit the model output (wrong count, not scalar, out of range)."""


class ModelLoadError(PaddleCamError):
    """Weights or model files are missing, corrupt or do not fit the architecture."""


class FontNotFoundError(PaddleCamError):
    """No font able to draw CJK text was found."""
