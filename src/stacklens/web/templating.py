"""The console's Jinja2 environment (autoescape always on) and its number and time
filters, plus the security headers of every console page."""

from __future__ import annotations

import datetime as dt
import hashlib
from importlib import resources
from pathlib import Path
from typing import Any, Final

import jinja2
from starlette.responses import HTMLResponse

from stacklens import __version__
from stacklens.web.log_views import error_text

__all__ = [
    "CSP",
    "SECURITY_HEADERS",
    "asset_version",
    "make_environment",
    "plotly_js_path",
    "render",
]

CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
HERE: Final = Path(__file__).parent


def plotly_js_path() -> Path:
    """``plotly.min.js`` as shipped inside the installed ``plotly`` package."""
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))


def asset_version() -> str:
    """Changes when the console's own static files change (cache busting)."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted((HERE / "static").glob("*")):
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _when(value: Any, ms: bool = False) -> str:
    """RFC 3339 text → ``2026-01-10 12:00:05`` (UTC)."""
    if not value:
        return ""
    text = str(value).replace("T", " ").rstrip("Z")
    head, _, frac = text.partition(".")
    return f"{head}.{frac[:3]}" if ms and frac else head


def _when_ns(value: Any) -> str:
    if value is None:
        return ""
    moment = dt.datetime.fromtimestamp(int(value) / 1e9, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _int(value: Any) -> str:
    # Undefined: a key the API leaves out when null (a call with tokens_in only).
    if value is None or value == "" or isinstance(value, jinja2.Undefined):
        return "0"
    return f"{int(value):,}"


def _usd(value: Any) -> str:
    number = float(value or 0.0)
    return f"${number:,.4f}" if 0 < abs(number) < 1 else f"${number:,.2f}"


def _cost(value: Any) -> str:
    """A cost cell: ``None`` (no call of the row has a known price) reads "unpriced",
    never $0.00 — unpriced is not free."""
    return "unpriced" if value is None else _usd(value)


def _pct(value: Any) -> str:
    return "—" if value is None else f"{float(value) * 100:.2f} %"


def _ms(value: Any) -> str:
    if value is None or value == "":
        return "—"
    number = float(value)
    return f"{number / 1000:.2f} s" if number >= 1000 else f"{number:.0f} ms"


def _seconds(value: Any) -> str:
    if value is None:
        return "—"
    total = int(float(value))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {seconds:02d}s"


def _num(value: Any) -> str:
    if value is None:
        return "—"
    return f"{float(value):,.4g}"


def make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=True,
        undefined=jinja2.Undefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=_when,
        when_ns=_when_ns,
        int_fmt=_int,
        usd=_usd,
        cost=_cost,
        pct=_pct,
        ms=_ms,
        seconds=_seconds,
        num=_num,
        error_text=error_text,
    )
    env.globals.update(version=__version__)
    return env


def render(
    env: jinja2.Environment, template: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    body = env.get_template(template).render(**context)
    return HTMLResponse(body, status_code=status, headers=dict(SECURITY_HEADERS))
