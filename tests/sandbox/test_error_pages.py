"""The sandbox answers every error in PagerDuty's error shape: an unknown path or a view's Http404 is a 404, never
a 500 (review of issue 11)."""

import json

import pytest
from django.core.exceptions import BadRequest, PermissionDenied
from django.http import Http404
from django.test import RequestFactory

from sandbox.api.middleware import ApiErrorMiddleware


def _answer(exception):
    middleware = ApiErrorMiddleware(lambda request: None)
    return middleware.process_exception(RequestFactory().get("/incidents/PNOPE/x"), exception)


def _error(response) -> dict:
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert set(body) == {"error"}
    assert isinstance(body["error"]["message"], str) and isinstance(body["error"]["code"], int)
    assert isinstance(body["error"]["errors"], list)
    return body["error"]


def test_a_views_http404_is_pagerdutys_404_not_a_500():
    response = _answer(Http404("No such thing"))
    assert response.status_code == 404
    assert _error(response)["code"] == 2100


@pytest.mark.parametrize(
    ("exception", "status", "code"),
    [(PermissionDenied("no"), 403, 2010), (BadRequest("bad"), 400, 2001)],
    ids=["permission-denied", "bad-request"],
)
def test_djangos_other_client_errors_keep_their_status(exception, status, code):
    response = _answer(exception)
    assert response.status_code == status
    assert _error(response)["code"] == code


def test_an_unexpected_error_is_still_a_500_in_pagerdutys_shape():
    response = _answer(RuntimeError("boom"))
    assert response.status_code == 500
    assert _error(response)["code"] == 2000


@pytest.mark.sandbox
@pytest.mark.parametrize("path", ["/no/such/path", "/incidents/", "/web/nothing", "/oauth/nope", "/v2/nope"])
def test_an_unknown_sandbox_path_is_a_404_in_pagerdutys_shape(sandbox, path):
    response = sandbox.get(path)
    assert response.status_code == 404, response.text
    body = response.json()
    assert body["error"]["code"] == 2100
    assert body["error"]["message"] == "Not Found"
