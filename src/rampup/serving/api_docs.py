"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) from files rampup ships, not a CDN.

FastAPI's own pages load both viewers (and Google fonts) from jsDelivr, so they are blank
on a machine without internet access and leak every visit to a third party. The viewers'
distribution files are vendored under ``static/`` (``swagger-ui-dist`` and ``redoc`` from
npm, with their licences; see ``static/README.md``), served from ``/docs/static`` and
started by a script file of ours, so the pages run under a Content-Security-Policy that
allows nothing from elsewhere and no inline script.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
STATIC = "/docs/static"
#: Swagger UI and ReDoc style with inline ``style`` attributes and ReDoc runs its search
#: index in a ``blob:`` worker; everything else comes from this server.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "form-action 'self'")
HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff"}

_SWAGGER = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · API (Swagger UI)</title>
<link rel="stylesheet" href="{static}/swagger-ui/swagger-ui.css">
<link rel="icon" type="image/png" href="{static}/swagger-ui/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-spec="{spec}"></div>
<script src="{static}/swagger-ui/swagger-ui-bundle.js"></script>
<script src="{static}/swagger-init.js"></script>
</body>
</html>
"""

_REDOC = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · API (ReDoc)</title>
<link rel="icon" type="image/png" href="{static}/swagger-ui/favicon-32x32.png">
</head>
<body>
<redoc spec-url="{spec}"></redoc>
<script src="{static}/redoc/redoc.standalone.js"></script>
</body>
</html>
"""


def _render(template: str, request: Request) -> Response:
    root = request.scope.get("root_path", "").rstrip("/")
    html = template.format(title=request.app.title, static=root + STATIC,
                           spec=root + request.app.openapi_url)
    return HTMLResponse(html, headers=HEADERS)


async def swagger_page(request: Request) -> Response:
    return _render(_SWAGGER, request)


async def redoc_page(request: Request) -> Response:
    return _render(_REDOC, request)


def routes() -> list[BaseRoute]:
    """The pages and their files; the app is made with ``docs_url=None, redoc_url=None``."""
    return [Route("/docs", swagger_page, methods=["GET"], include_in_schema=False),
            Route("/redoc", redoc_page, methods=["GET"], include_in_schema=False),
            Mount(STATIC, StaticFiles(directory=STATIC_DIR), name="docs_static")]
