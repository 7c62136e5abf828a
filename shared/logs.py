"""A last line of defence for logs: whatever a message says, token-like strings leave as [redacted].

Code here never logs tokens on purpose (messages name users and servers, not credentials); this
filter catches the accident, e.g. an exception text that quotes a header.
"""

from __future__ import annotations

import logging

from shared.audit.redact import redact_tokens


class SecretFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_tokens(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = SecretFilter()


def install_secret_filter(*loggers: logging.Logger) -> None:
    """On every handler of the root logger and of `loggers` (the handlers do the writing)."""
    for logger in (logging.getLogger(), logging.getLogger("mcphub"), *loggers):
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
