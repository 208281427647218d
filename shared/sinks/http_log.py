"""httpx's own request log, redacted: it logs every request at INFO with the full URL (which
carries a webhook's credential) and the server's reason phrase (which a hostile server can fill with
that URL, decoded). Installed once, on import of ``shared.sinks.transport``."""

from __future__ import annotations

import logging

import httpx


class _RedactHttpxUrls(logging.Filter):
    """httpx logs every request at INFO with its full URL and the server's reason phrase (which a
    hostile server can fill with the URL, decoded): keep only scheme and host, drop the phrase."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            args = [
                f"{arg.scheme}://{arg.host}/[redacted]" if isinstance(arg, httpx.URL) else arg for arg in record.args
            ]
            if str(record.msg).startswith("HTTP Request:") and args and isinstance(args[-1], str):
                args[-1] = "[reason not shown]"
            record.args = tuple(args)
        return True


def install_log_redaction() -> None:
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactHttpxUrls) for f in httpx_logger.filters):
        httpx_logger.addFilter(_RedactHttpxUrls())
    # httpcore's DEBUG trace prints response headers as received, echoes of the URL included; it
    # has no hook to redact them, so it is kept off.
    logging.getLogger("httpcore").setLevel(logging.INFO)
