"""Domain errors; each entry point maps them to its own format (RFC 6749, problem+json, CLI)."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a service raises on purpose."""


class NotFound(DomainError):
    pass


class Conflict(DomainError):
    pass


class InvalidInput(DomainError):
    """One field of the input is wrong; `field` names it for field-level error reports."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InvalidInputs(DomainError):
    """Several fields are wrong at once; reported together so a settings form can show each."""

    def __init__(self, problems: list[InvalidInput]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = problems
