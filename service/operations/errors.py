"""Why an operation was refused: small named errors, mapped to HTTP in one place.

The API renders them as RFC 9457 problems (:func:`service.api.problems.install_problem_handlers`),
the web pages as an error page or as messages beside the form's fields. A refused operation
has written nothing: the caller's transaction is rolled back.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["ConflictError", "ForbiddenError", "InvalidError", "NotFoundError", "OperationError"]


class OperationError(Exception):
    """An operation refused for a reason the user can act on."""

    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(OperationError):
    """No such object, or one of another organisation (the two are indistinguishable)."""

    status_code = 404

    def __init__(self, kind: str, identifier: str) -> None:
        super().__init__(f"no {kind} {identifier!r}")
        self.kind = kind
        self.identifier = identifier


class InvalidError(OperationError):
    """One field's value breaks a rule the request schema cannot express.

    ``loc`` is where the field is (``["body", "consent_given_at"]``), as in a validation
    error; a page shows ``message`` beside the input named by the last element.
    """

    status_code = 422

    def __init__(
        self,
        loc: Sequence[str | int],
        message: str,
        value: object = None,
        kind: str = "value_error",
    ) -> None:
        where = ".".join(str(part) for part in loc)
        super().__init__(f"{where}: {message}" if where else message)
        self.loc = list(loc)
        self.message = message
        self.value = value
        self.kind = kind

    @property
    def field(self) -> str:
        """The name of the offending field (the last element of ``loc``)."""
        return str(self.loc[-1]) if self.loc else ""

    def as_error(self) -> dict[str, object]:
        """The pydantic-style error dict the problem answers list under ``errors``."""
        error: dict[str, object] = {"loc": self.loc, "msg": self.message, "type": self.kind}
        if self.value is not None:
            error["input"] = self.value
        return error


class ConflictError(OperationError):
    """The change conflicts with what is stored (already proposed, hires recorded...)."""

    status_code = 409


class ForbiddenError(OperationError):
    """The caller's role may not do this."""

    status_code = 403
