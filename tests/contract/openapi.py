"""Validate sandbox responses against PagerDuty's REST and Events OpenAPI specs (with SOURCE.md's quirks)."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, unquote_plus, urlsplit

from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

SPEC_DIR = Path(__file__).resolve().parents[2] / "sandbox" / "openapi"
SPEC_PATH = SPEC_DIR / "rest-openapiv3.json"
SPEC_HOST = "https://api.pagerduty.com"
# spec name -> (file, the host its `servers` name; requests are validated as if sent there)
SPECS = {
    "rest": (SPEC_PATH, SPEC_HOST),
    "events": (SPEC_DIR / "events-v2-openapiv3.json", "https://events.pagerduty.com"),
}


def relax(node):
    """SOURCE.md: real bodies carry null where the spec is silent, and its oneOf branches overlap.

    So every typed schema becomes nullable (enums accept null too) and every oneOf becomes anyOf.
    """
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            out["anyOf" if key == "oneOf" else key] = relax(value)
        if "type" in out or "allOf" in out or "anyOf" in out:
            out["nullable"] = True
        enum = out.get("enum")
        if isinstance(enum, list):
            # include[] expands references into full objects (type `team`, not `team_reference`), which the
            # spec does not model: accept the expanded type wherever a reference type is listed.
            expanded = [v[: -len("_reference")] for v in enum if isinstance(v, str) and v.endswith("_reference")]
            out["enum"] = [*enum, *(v for v in expanded if v not in enum), *([] if None in enum else [None])]
        return out
    if isinstance(node, list):
        return [relax(v) for v in node]
    return node


def _patch_known_errata(spec):
    # SOURCE.md: the Render Template example's `warnings` is an array while the schema says object.
    props = spec["components"]["schemas"]["RenderedTemplate"]["properties"]
    props["warnings"] = {"anyOf": [props["warnings"], {"type": "array", "items": {}}], "nullable": True}
    # The spec's AcknowledgeLogEntry demands type `acknowledgement_log_entry` while its base LogEntry demands
    # `acknowledge_log_entry` (what PagerDuty sends), so no body could match both: accept the real name.
    ack = spec["components"]["schemas"]["AcknowledgeLogEntry"]["allOf"][1]["properties"]["type"]
    ack["enum"] = ["acknowledge_log_entry", *ack["enum"]]
    # A Reference requires `id` and `type` but inherits them read-only from Tag, so no request could send one
    # (the spec's own request examples do): in a reference they are writable.
    base = copy.deepcopy(spec["components"]["schemas"]["Tag"]["allOf"][0])
    for name in ("id", "type"):
        base["properties"][name].pop("readOnly", None)
    spec["components"]["schemas"]["Reference"]["allOf"][0] = base
    # List Overrides documents its success answer under 201; PagerDuty answers 200 with the same body.
    overrides = spec["paths"]["/schedules/{id}/overrides"]["get"]["responses"]
    overrides.setdefault("200", overrides["201"])
    return spec


@lru_cache(maxsize=2)
def openapi(name: str = "rest") -> OpenAPI:
    spec = relax(copy.deepcopy(json.loads(SPECS[name][0].read_text())))
    if name == "rest":
        spec = _patch_known_errata(spec)
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


@dataclass
class _Request:
    method: str
    path: str
    query: ImmutableMultiDict
    body: bytes | None = None
    content_type: str = "application/json"
    host_url: str = SPEC_HOST
    parameters: RequestParameters = field(default=None)

    def __post_init__(self):
        self.parameters = RequestParameters(query=self.query, header=Headers(), cookie=ImmutableMultiDict())


@dataclass
class _Response:
    data: bytes
    status_code: int
    content_type: str
    headers: Headers


def validate(response, spec: str = "rest") -> None:
    """Raise when the httpx response (and its status code) is not what the spec allows for the operation."""
    request = response.request
    url = urlsplit(str(request.url))
    req = _Request(
        method=request.method.lower(),
        path=url.path,
        query=ImmutableMultiDict([tuple(p.split("=", 1)) if "=" in p else (p, "") for p in url.query.split("&") if p]),
        body=request.content or None,
        content_type=request.headers.get("content-type", "application/json"),
        host_url=SPECS[spec][1],
    )
    content_type = response.headers.get("content-type", "application/json").split(";")[0]
    resp = _Response(
        data=response.content,
        status_code=response.status_code,
        content_type=content_type if response.content else "application/json",
        headers=Headers(list(response.headers.items())),
    )
    try:
        openapi(spec).validate_response(req, resp)
    except Exception as exc:
        raise AssertionError(f"{request.method} {url.path} -> {response.status_code}: {describe(exc)}") from None


def describe(exc) -> str:
    """The leaf schema errors of an openapi-core failure, one per line (the raw repr is unreadable)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    leaves = []

    def walk(error):
        if error.context:
            for child in error.context:
                walk(child)
        else:
            leaves.append(f"{list(error.absolute_path)}: {error.message[:200]}")

    for error in getattr(exc, "schema_errors", None) or []:
        walk(error)
    return "\n  ".join(sorted(set(leaves))[:20]) if leaves else f"{type(exc).__name__}: {str(exc)[:500]}"


def reference_properties(schema: str) -> set[str]:
    """The property names a reference schema (e.g. IncidentReference) allows, through its allOf parts."""
    spec = json.loads(SPEC_PATH.read_text())
    names: set[str] = set()

    def resolve(pointer: str) -> dict:
        node = spec
        for part in pointer.removeprefix("#/").split("/"):
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def walk(node: dict) -> None:
        if "$ref" in node:
            walk(resolve(node["$ref"]))
        names.update(node.get("properties") or {})
        for part in node.get("allOf") or []:
            walk(part)

    walk(spec["components"]["schemas"][schema])
    return names


def undeclared_query_parameters(method: str, url: str) -> set[str]:
    """Query parameters of a request the portal sent that the spec's operation does not declare."""
    spec = json.loads(SPEC_PATH.read_text())
    parts = urlsplit(url)
    segments = parts.path.strip("/").split("/")

    def matches(template: str) -> bool:
        pattern = template.strip("/").split("/")
        return len(pattern) == len(segments) and all(
            p == s or (p.startswith("{") and p.endswith("}")) for p, s in zip(pattern, segments, strict=True)
        )

    # A literal segment beats a {param} one (/incidents/count before /incidents/{id}).
    candidates = sorted((t for t in spec["paths"] if matches(t)), key=lambda t: t.count("{"))
    if not candidates:
        raise AssertionError(f"{method} {parts.path} is not in the spec")
    item = spec["paths"][candidates[0]]
    declared = set()
    for parameter in [*(item.get("parameters") or []), *(item[method.lower()].get("parameters") or [])]:
        if "$ref" in parameter:
            parameter = spec["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[-1]]
        if parameter.get("in") == "query":
            declared.add(parameter["name"])
    sent = {unquote(pair.split("=", 1)[0]) for pair in parts.query.split("&") if pair}
    return sent - declared


def validate_logged_request(entry: dict, spec: str = "rest") -> None:
    """Raise when a request the sandbox logged (method, path, query, JSON body) is not one the spec allows."""
    query = entry.get("query") or ""
    body = entry.get("body")
    req = _Request(
        method=entry["method"].lower(),
        path=entry["path"],
        query=ImmutableMultiDict(
            [
                tuple(unquote_plus(part) for part in p.split("=", 1)) if "=" in p else (unquote_plus(p), "")
                for p in query.split("&")
                if p
            ]
        ),
        body=json.dumps(body).encode() if body is not None else None,
        host_url=SPECS[spec][1],
    )
    # The log never keeps credentials; the spec only asks that some Authorization is sent.
    req.parameters.header = Headers({"Authorization": "Token token=logged", "From": entry.get("from") or ""})
    try:
        openapi(spec).validate_request(req)
    except Exception as exc:
        raise AssertionError(f"{entry['method']} {entry['path']}?{query}: {describe(exc)}") from None
