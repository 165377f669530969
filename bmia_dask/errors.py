"""The one exception type for bad input files, and the warning for skipped ones."""

from __future__ import annotations


class BadInputError(ValueError):
    """An input file, folder or URL that cannot be used, with the reason.

    ``str(error)`` is one line: ``"<path>: <problem>"``. Only the CLI turns it
    into exit code 2.

    Examples
    --------
    >>> str(BadInputError("scan/IM0001", "truncated pixel data"))
    'scan/IM0001: truncated pixel data'
    """

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = " ".join(str(problem).split())  # one line, always
        super().__init__(f"{self.path}: {self.problem}")

    def __reduce__(self):  # picklable across dask.distributed workers
        return (type(self), (self.path, self.problem))


class SkippedFileWarning(UserWarning):
    """A file that was passed over (not DICOM, no pixel data); the rest goes on."""
