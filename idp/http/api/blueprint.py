"""The `/api/v1` blueprint: authentication first, every failure a problem document."""

from __future__ import annotations

from flask import Blueprint, Response

from idp.http.api import auth, idempotency, limits
from idp.http.api.problems import ApiProblem, from_domain, problem_response
from idp.services.errors import DomainError

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# In this order: count the IP before looking at credentials, then the caller; replay or claim
# an Idempotency-Key only for a caller within its limits.
bp.before_request(limits.limit_by_ip)
bp.before_request(auth.authenticate)
bp.before_request(limits.limit_by_caller)
bp.before_request(idempotency.claim_or_replay)
bp.after_request(idempotency.remember)


@bp.errorhandler(ApiProblem)
def handle_problem(problem: ApiProblem) -> Response:
    return problem_response(problem)


@bp.errorhandler(DomainError)
def handle_domain_error(error: DomainError) -> Response:
    return problem_response(from_domain(error))
