"""Failures the fake answers with, shaped like the Bot API's error responses."""

from typing import Any


class ApiError(Exception):
    """A refused call; the fake answers it with ``{"ok": false, ...}`` and this HTTP status."""

    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class NotImplementedByFake(ApiError):
    """A call the fake cannot answer faithfully; recorded so that tests fail loudly."""


class InjectedTimeout(Exception):
    """An injected timeout: each adapter turns it into what a client would see."""


def bad_request(detail: str, **parameters: Any) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}", parameters)


def forbidden(detail: str) -> ApiError:
    return ApiError(403, f"Forbidden: {detail}")


def not_implemented(detail: str) -> NotImplementedByFake:
    return NotImplementedByFake(400, f"Bad Request: {detail} not implemented by fake")
