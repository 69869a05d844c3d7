"""OAuth 2.0 endpoints of the sandbox: the sign-in page (/oauth/authorize) and /oauth/token."""

import base64
import binascii
import json
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from sandbox.identity import actions
from sandbox.identity.actions import OAuthError
from sandbox.identity.scopes import invalid_scopes, parse_scopes

AUTHORIZE_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "code_challenge",
    "code_challenge_method",
)


def _redirect_with(redirect_uri: str, params: dict) -> HttpResponseRedirect:
    parts = urlsplit(redirect_uri)
    query = "&".join(p for p in (parts.query, urlencode({k: v for k, v in params.items() if v})) if p)
    return HttpResponseRedirect(urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment)))


def _users():
    from sandbox.api.models import User

    order = {"owner": 0, "admin": 1, "user": 2, "limited_user": 3}
    return sorted(User.objects.all(), key=lambda u: (order.get(u.role, 9), u.name))


def _error_page(request, message: str, status: int = 400) -> HttpResponse:
    return render(request, "sandbox_identity/authorize.html", {"error": message}, status=status)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def authorize(request):
    """Show the user picker (GET) and answer the chosen user or Deny with a redirect (POST)."""
    params = request.GET if request.method == "GET" else request.POST
    fields = {name: params.get(name, "") for name in AUTHORIZE_FIELDS}
    try:
        actions.check_client(fields["client_id"])
    except OAuthError as exc:
        return _error_page(request, exc.description)
    redirect_uri = fields["redirect_uri"]
    if not actions.redirect_uri_allowed(redirect_uri):
        # Never redirect to an unvetted URI (RFC 6749 §4.1.2.1): show the error instead.
        return _error_page(request, "redirect_uri must be an http(s) URL on a loopback host.")
    state = fields["state"]
    if fields["response_type"] != "code":
        return _redirect_with(redirect_uri, {"error": "unsupported_response_type", "state": state})
    scopes = parse_scopes(fields["scope"])
    bad = invalid_scopes(scopes)
    if bad:
        return _redirect_with(
            redirect_uri,
            {"error": "invalid_scope", "error_description": "Unknown scope: " + " ".join(bad), "state": state},
        )
    if fields["code_challenge"] and fields["code_challenge_method"] != "S256":
        return _redirect_with(
            redirect_uri,
            {"error": "invalid_request", "error_description": "code_challenge_method must be S256", "state": state},
        )
    if request.method == "GET":
        context = {
            "client_id": fields["client_id"],
            "scopes": scopes,
            "users": _users(),
            "action": request.path,
            "hidden": [(k, v) for k, v in fields.items() if v],
        }
        return render(request, "sandbox_identity/authorize.html", context)
    if params.get("decision") == "deny":
        return _redirect_with(
            redirect_uri, {"error": "access_denied", "error_description": "The user denied access.", "state": state}
        )
    from sandbox.api.models import User

    pick = params.get("user_id") or ""
    user = User.objects.filter(id=pick).first() or User.objects.filter(email__iexact=params.get("email", "")).first()
    if user is None:
        return _error_page(request, "Pick one of the listed users.")
    code, _granted = actions.authorization_code_issue(
        client_id=fields["client_id"],
        user=user,
        redirect_uri=redirect_uri,
        scope=fields["scope"],
        code_challenge=fields["code_challenge"],
        code_challenge_method=fields["code_challenge_method"],
    )
    return _redirect_with(redirect_uri, {"code": code, "state": state})


def _token_params(request) -> dict:
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError as exc:
            raise OAuthError("invalid_request", "The body is not valid JSON.") from exc
        return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    return request.POST.dict()


def _basic_credentials(request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


def _oauth_json(body: dict, status: int = 200) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


@csrf_exempt
@require_http_methods(["POST"])
def token(request):
    """Exchange an authorization code or rotate a refresh token (RFC 6749 §4.1.3 and §6)."""
    try:
        params = _token_params(request)
        basic = _basic_credentials(request)
        client_id = basic[0] if basic else params.get("client_id", "")
        # An empty secret means a public client, which must then prove itself with PKCE.
        client_secret = (basic[1] if basic else params.get("client_secret")) or None
        grant = params.get("grant_type", "")
        if grant == "authorization_code":
            body = actions.authorization_code_exchange(
                client_id=client_id,
                client_secret=client_secret,
                code=params.get("code", ""),
                redirect_uri=params.get("redirect_uri", ""),
                code_verifier=params.get("code_verifier"),
            )
        elif grant == "refresh_token":
            body = actions.refresh_token_rotate(
                client_id=client_id,
                client_secret=client_secret,
                refresh_token=params.get("refresh_token", ""),
                scope=params.get("scope", ""),
            )
        elif not grant:
            raise OAuthError("invalid_request", "Missing grant_type.")
        else:
            raise OAuthError("unsupported_grant_type", f"grant_type {grant!r} is not supported.")
    except OAuthError as exc:
        return _oauth_json(exc.body(), status=exc.status)
    return _oauth_json(body)


@csrf_exempt
@require_http_methods(["POST"])
def revoke(request):
    """RFC 7009 token revocation, as PagerDuty's identity service offers it: the client authenticates (form
    `client_id` + `client_secret`, or HTTP Basic) and names a `token` (access or refresh, `token_type_hint`
    optional); the whole grant ends. 200 whether or not the token existed; 401 `invalid_client` on bad credentials.
    """
    try:
        params = _token_params(request)
        basic = _basic_credentials(request)
        client_id = basic[0] if basic else params.get("client_id", "")
        client_secret = (basic[1] if basic else params.get("client_secret")) or None
        if not params.get("token"):
            raise OAuthError("invalid_request", "Missing token.")
        actions.token_revoke(client_id=client_id, client_secret=client_secret, token=params["token"])
    except OAuthError as exc:
        return _oauth_json(exc.body(), status=exc.status)
    return _oauth_json({})
