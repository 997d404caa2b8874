"""RFC 9457 problem details for the management API (DESIGN §7)."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, g

from idp.services.errors import Conflict, DomainError, InvalidInput, InvalidInputs, NotFound

PROBLEM_TYPE = "https://idp.dev/problems/"
MEDIA_TYPE = "application/problem+json"


class ApiProblem(Exception):
    """Raised by API views for a response that is a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


def problem_response(problem: ApiProblem) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + problem.title.lower().replace(" ", "-"),
        "title": problem.title,
        "status": problem.status,
    }
    if problem.detail:
        body["detail"] = problem.detail
    if problem.errors:
        body["errors"] = problem.errors
    body["request_id"] = g.get("request_id")
    response = Response(json.dumps(body), status=problem.status, mimetype=MEDIA_TYPE)
    response.headers["Cache-Control"] = "no-store"
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response


def from_domain(error: DomainError) -> ApiProblem:
    if isinstance(error, NotFound):
        return ApiProblem(404, "Not found", str(error))
    if isinstance(error, Conflict):
        return ApiProblem(409, "Conflict", str(error))
    if isinstance(error, InvalidInput):
        return ApiProblem(
            422,
            "Invalid input",
            str(error),
            errors=[{"field": error.field, "message": error.message}],
        )
    if isinstance(error, InvalidInputs):
        return invalid_fields([{"field": p.field, "message": p.message} for p in error.problems])
    return ApiProblem(400, "Bad request", str(error))


def invalid_fields(errors: list[dict[str, str]]) -> ApiProblem:
    return ApiProblem(422, "Invalid input", "The request body has invalid fields.", errors=errors)
