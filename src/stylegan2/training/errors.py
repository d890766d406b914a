"""The errors that stop a training run with a message instead of a traceback: below every training module that raises
them, so that snapshot, resume and session code share them without importing one another in a circle."""


class TrainingError(RuntimeError):
    """Training cannot go on (non-finite loss, bad resume file); the message says what to do."""


class RunFinished(TrainingError):
    """`--resume auto` found its run already at --kimg: nothing to do, which a requeued job counts as success."""
