"""Security headers on every HTTP response of the app (pages, API, uploads, downloads).

`SecurityHeaders` is ASGI middleware installed as the outermost of rx.App's
api_transformer list, so in prod (frontend and backend on one port) it wraps the compiled
pages too. It sets, replacing any the inner app set:

- Content-Security-Policy: only this origin loads scripts, styles, fonts, images and
  connects (the websocket is same-origin; 'self' covers ws/wss in CSP 3);
  `frame-ancestors 'none'` (no clickjacking), `object-src 'none'`, `base-uri 'self'`,
  `form-action 'self'`. What the app needs beyond 'self', checked in the browser
  (tests/e2e/test_security_headers.py, no CSP violation on any page): 'unsafe-inline'
  scripts (React Router's hydration data is an inline <script>), 'unsafe-eval' (Reflex
  runs `rx.call_script` and event chains through eval), 'unsafe-inline' styles (Radix
  and Emotion inject <style>), data:/blob: images and fonts.
- X-Frame-Options DENY (older browsers), X-Content-Type-Options nosniff,
  Referrer-Policy same-origin (links to other sites carry no path with profile ids),
  Permissions-Policy without camera, microphone, geolocation.
- Strict-Transport-Security when APP_URL is https.
"""

from __future__ import annotations

from typing import Any

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def security_headers(https: bool) -> list[tuple[bytes, bytes]]:
    headers = {
        "content-security-policy": CSP,
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",
        "permissions-policy": "camera=(), microphone=(), geolocation=()",
    }
    if https:
        headers["strict-transport-security"] = "max-age=31536000; includeSubDomains"
    return [(name.encode(), value.encode()) for name, value in headers.items()]


class SecurityHeaders:
    """ASGI middleware: the headers above on every HTTP response start."""

    def __init__(self, app: Any, *, https: bool = False) -> None:
        self.app = app
        self.headers = security_headers(https)
        self.names = {name for name, _ in self.headers}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers") or () if k.lower() not in self.names]
                message = {**message, "headers": kept + self.headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
