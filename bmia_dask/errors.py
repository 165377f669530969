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


class ArgumentError(ValueError, RuntimeError):
    """A bad argument where scipy.ndimage raises RuntimeError (a wrong spline order,
    mode or sequence length): a ValueError as for every bad argument, and a
    RuntimeError, so that code written for scipy catches it as before.

    Examples
    --------
    >>> isinstance(ArgumentError("spline order not supported"), (ValueError, RuntimeError))
    True
    """


class scipy_errors:
    """Context manager: scipy's RuntimeError for a bad argument (raised by scipy run on
    a tiny array to check the arguments) becomes an :class:`ArgumentError`."""

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if kind is RuntimeError:
            raise ArgumentError(str(error)) from None
        return False
