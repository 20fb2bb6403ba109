"""Headers on every console response: a strict Content-Security-Policy (scripts and styles
from the console's own files only, nothing inline, nothing from another origin), no framing, no
sniffing, no referrer outside the site; pages never cached, static files cached for a year
(their URLs carry a digest of their content)."""

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
STATIC_CACHE = "public, max-age=31536000, immutable"
# A template's email HTML, shown in the Templates page's `sandbox=""` frame: a response marked
# with PREVIEW_MARKER gets this policy instead (the email's inline styles and embedded images,
# nothing else; no script, form or navigation; framed by the console's own pages only).
PREVIEW_MARKER = "x-preview-frame"
PREVIEW_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox"
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = "/static/" in scope.get("path", "")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
                if PREVIEW_MARKER in headers:
                    del headers[PREVIEW_MARKER]
                    headers["Content-Security-Policy"] = PREVIEW_POLICY
                    headers["X-Frame-Options"] = "SAMEORIGIN"
                if self.https:
                    headers["Strict-Transport-Security"] = "max-age=31536000"
                ok = message["status"] == 200
                headers["Cache-Control"] = STATIC_CACHE if static and ok else "no-store"
            await send(message)

        await self.app(scope, receive, with_headers)
