"""Errors a user can hit when loading or pairing models; messages say what to do."""


class ModelLoadError(Exception):
    """A model could not be loaded; str(e) is a complete, user-facing message."""


class UnsupportedModelError(ModelLoadError):
    """The model's family or architecture is not supported by the engine."""


class IncompatiblePairError(ModelLoadError):
    """The draft was not made for this target (vocab, hidden size, taps, mask token)."""
