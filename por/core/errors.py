"""Exception types of `por`, each mapped to a process exit code.

Exit codes (SPEC.md §1): 0 ok, 1 verification failed, 2 bad input or usage,
3 a required service unreachable. The CLI maps any :class:`PorError` to its
``exit_code``; library callers catch the specific types.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_VERIFY_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_SERVICE = 3


class PorError(Exception):
    """Base class of every error `por` raises on purpose."""

    exit_code: int = EXIT_BAD_INPUT


class BadInput(PorError):
    """Input that does not follow the format: names file, line, column and field when known."""

    exit_code = EXIT_BAD_INPUT

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.reason = message
        where = ""
        if file is not None:
            where = str(file)
            if line is not None:
                where += f":{line}"
                if column is not None:
                    where += f":{column}"
            where += ": "
        if field is not None:
            message = f"{message} (field {field!r})"
        super().__init__(where + message)

    def __reduce__(self) -> tuple:  # picklable with its fields (tasks run in other processes)
        return (_bad_input, (self.reason, self.file, self.line, self.column, self.field))

    def to_dict(self) -> dict[str, object]:
        """Machine-readable form, used by ``--json``."""
        return {
            "error": "bad_input",
            "message": str(self),
            "reason": self.reason,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "field": self.field,
        }


class VerificationFailed(PorError):
    """A proof, a root, a total or a signature did not check out."""

    exit_code = EXIT_VERIFY_FAILED

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.where = where
        self.reason = message
        super().__init__(f"{where}: {message}" if where else message)

    def __reduce__(self) -> tuple:
        return (VerificationFailed, (self.reason,), {"where": self.where, "args": self.args})

    def to_dict(self) -> dict[str, object]:
        return {"error": "verification_failed", "message": str(self), "where": self.where}


class ServiceUnavailable(PorError):
    """A required service (a chain RPC endpoint) could not be reached."""

    exit_code = EXIT_SERVICE

    def to_dict(self) -> dict[str, object]:
        return {"error": "service_unavailable", "message": str(self)}


def _bad_input(reason: str, file: str | None, line: int | None, column: int | None, field: str | None) -> BadInput:
    return BadInput(reason, file=file, line=line, column=column, field=field)
