"""The built web app (`frontend/dist`), served at `/` beside the API.

Client-side routes (`/workflows/…`, `/runs/…`) all answer the app's `index.html`, so a link
to any screen can be shared and reloaded; files the build emitted are served as they are.
"""

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse

from api.errors import NotFound

# Paths the API owns: an unknown one is the API's 404, never the app's page.
_API_PREFIXES = ("api/", "docs", "redoc", "openapi.json", "healthz", "readyz", "metrics")
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


def mount_frontend(app: FastAPI, directory: Path) -> bool:
    """Serve the build in `directory` if there is one; answers whether there was."""
    root = directory.resolve()
    index = root / "index.html"
    if not index.is_file():
        return False

    # Every method, so an unknown API path is a 404 whatever the method, not a 405.
    @app.api_route("/{path:path}", methods=_METHODS, include_in_schema=False)
    async def web_app(request: Request, path: str) -> FileResponse:
        if path.startswith(_API_PREFIXES) or request.method not in ("GET", "HEAD"):
            raise NotFound("not found")
        candidate = (root / path).resolve()
        if path and candidate.is_file() and candidate.is_relative_to(root):
            # Hashed file names change with their content: cache them for good.
            immutable = candidate.parent.name == "assets"
            cache = "public, max-age=31536000, immutable" if immutable else "no-cache"
            return FileResponse(candidate, headers={"Cache-Control": cache})
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    return True
