"""The API's own description: `/api/v1/openapi.json` and a readable `/api/v1/docs` page."""

from __future__ import annotations

from flask import Response, jsonify, render_template

from idp.context import services
from idp.http.api.blueprint import bp
from idp.http.api.openapi import openapi_document

METHODS = ("get", "post", "patch", "delete")


@bp.get("/openapi.json")
def openapi_document_view() -> Response:
    return jsonify(openapi_document(services().settings.server.public_url))


@bp.get("/docs")
def reference() -> str:
    """Rendered on the server from the same document: no CDN, no JavaScript needed."""
    document = openapi_document(services().settings.server.public_url)
    operations = [
        {"method": method.upper(), "path": path, **operation}
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]
    return render_template("pages/api_reference.html", document=document, operations=operations)
