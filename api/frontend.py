"""The built web app (`frontend/dist`), served at `/` beside the API.

Client-side routes (`/workflows/…`, `/runs/…`) all answer the app's `index.html`, so a link
to any screen can be shared and reloaded; files the build emitted are served as they are.
"""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.types import Receive, Scope, Send

from api.errors import NotFound

# Paths the API owns: an unknown one is the API's 404, never the app's page.
_API_PREFIXES = ("api/", "docs", "redoc", "openapi.json", "healthz", "readyz", "metrics")


def mount_frontend(app: FastAPI, directory: Path) -> bool:
    """Serve the build in `directory` if there is one; answers whether there was.

    The app answers only the paths no route matched (it is the router's fallback, not a
    route), so a route added after this call is still reached.
    """
    root = directory.resolve()
    index = root / "index.html"
    if not index.is_file():
        return False

    async def web_app(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"].lstrip("/")
        # Any method: an unknown API path is a 404 whatever the method, not a 405 — and so
        # is one spelled in capitals or with backslashes, rather than a page of the app.
        api_like = path.replace("\\", "/").lstrip("/").lower().startswith(_API_PREFIXES)
        if scope["type"] != "http" or api_like:
            raise NotFound("not found")
        if scope["method"] not in ("GET", "HEAD"):
            raise NotFound("not found")
        candidate = (root / path).resolve()
        if path and candidate.is_file() and candidate.is_relative_to(root):
            # Hashed file names change with their content: cache them for good.
            immutable = candidate.parent.name == "assets"
            cache = "public, max-age=31536000, immutable" if immutable else "no-cache"
            response = FileResponse(candidate, headers={"Cache-Control": cache})
        else:
            response = FileResponse(index, headers={"Cache-Control": "no-cache"})
        await response(scope, receive, send)

    app.router.default = web_app
    return True
