"""v3 webhook management ([wh] paths./hooks, /hooks/{webhook_id}); bodies are {data, meta}."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from .errors import ApiError
from .routing import Request, Response, route


def _flag(text: str) -> bool:
    if text not in ("true", "false"):
        raise ApiError(400, "is_active must be true or false.")
    return text == "true"


def _positive(req: Request, name: str, default: int) -> int:
    try:
        value = int(req.query.get(name, default))
    except ValueError as e:
        raise ApiError(400, f"'{name}' must be an integer.") from e
    if value < 1:
        raise ApiError(400, f"'{name}' must be at least 1.")
    return value


def _pagination(total: int, count: int, page: int, limit: int) -> dict[str, Any]:
    """[wh] components.schemas.Pagination."""
    pages = max(1, -(-total // limit))
    links = {"current": "?" + urlencode({"page": page, "limit": limit})}
    if page > 1:
        links["previous"] = "?" + urlencode({"page": page - 1, "limit": limit})
    if page < pages:
        links["next"] = "?" + urlencode({"page": page + 1, "limit": limit})
    return {
        "total": total,
        "count": count,
        "per_page": limit,
        "current_page": page,
        "total_pages": pages,
        "links": links,
    }


@route("GET", "/v3/hooks")
def list_hooks(req: Request) -> Response:
    """Filters is_active, scope, destination; page/limit. An empty list is `data: []` (note:
    [wh] components.responses.webhooks_Resp says minItems 1, which cannot hold with no hooks)."""
    page, limit = _positive(req, "page", 1), _positive(req, "limit", 50)
    hooks = req.store.hooks().all()
    if "is_active" in req.query:
        wanted = _flag(req.query["is_active"])
        hooks = [h for h in hooks if h["is_active"] == wanted]
    for key in ("scope", "destination"):
        if key in req.query:
            hooks = [h for h in hooks if h[key] == req.query[key]]
    chunk = hooks[(page - 1) * limit : page * limit]
    return Response(
        200,
        {"data": chunk, "meta": {"pagination": _pagination(len(hooks), len(chunk), page, limit)}},
    )


def _body(req: Request) -> dict[str, Any]:
    return dict(req.body or {})


@route("POST", "/v3/hooks")
def create_hook(req: Request) -> Response:
    return Response(200, {"data": req.store.hooks().create(_body(req)), "meta": {}})


@route("GET", "/v3/hooks/{hook_id}")
def get_hook(req: Request) -> Response:
    return Response(200, {"data": req.store.hooks().get(req.args["hook_id"]), "meta": {}})


@route("PUT", "/v3/hooks/{hook_id}")
def update_hook(req: Request) -> Response:
    hook = req.store.hooks().update(req.args["hook_id"], _body(req))
    return Response(200, {"data": hook, "meta": {}})


@route("DELETE", "/v3/hooks/{hook_id}")
def delete_hook(req: Request) -> Response:
    return Response(200, {"data": req.store.hooks().delete(req.args["hook_id"]), "meta": {}})
