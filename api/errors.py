"""Domain errors raised by the API's code, mapped to HTTP answers in one place (main.py)."""


class ApiError(Exception):
    status_code = 400

    def __init__(self, detail: object, headers: dict[str, str] | None = None) -> None:
        super().__init__(str(detail))
        self.detail = detail
        self.headers = headers


class BadRequest(ApiError):
    status_code = 400


class Unauthorized(ApiError):
    status_code = 401


class Forbidden(ApiError):
    status_code = 403


class NotFound(ApiError):
    status_code = 404


class Conflict(ApiError):
    status_code = 409


class Unprocessable(ApiError):
    status_code = 422


class ServiceUnavailable(ApiError):
    status_code = 503


class BadGateway(ApiError):
    """A service the API depends on (the language model) refused or garbled the call."""

    status_code = 502


class GatewayTimeout(ApiError):
    status_code = 504
