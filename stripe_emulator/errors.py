"""Stripe's error envelope: `{"error": {"type", "code", "message", "param", "doc_url"}}`."""

from __future__ import annotations

from starlette.responses import JSONResponse


class StripeError(Exception):
    def __init__(self, status: int, type_: str, message: str, *, code: str | None = None,
                 param: str | None = None, decline_code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.type, self.message = status, type_, message
        self.code, self.param, self.decline_code = code, param, decline_code

    def body(self) -> dict[str, dict[str, str]]:
        error = {"type": self.type, "message": self.message}
        for name in ("code", "param", "decline_code"):
            if getattr(self, name) is not None:
                error[name] = getattr(self, name)
        if self.code:
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        return {"error": error}

    def response(self, request_id: str) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers={"Request-Id": request_id})


def invalid(message: str, *, param: str | None = None, code: str | None = None) -> StripeError:
    return StripeError(400, "invalid_request_error", message, param=param,
                       code=code or ("parameter_invalid" if param else None))


def missing(resource: str, object_id: str) -> StripeError:
    return StripeError(404, "invalid_request_error", f"No such {resource}: '{object_id[:100]}'",
                       code="resource_missing", param="id")


def card_declined() -> StripeError:
    return StripeError(402, "card_error", "Your card was declined.", code="card_declined",
                       decline_code="generic_decline", param="card_number")
