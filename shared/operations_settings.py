"""Settings of the operations side: rate-limit budgets, the audit trail, usage analytics.

    MCPHUB_AUDIT_RETENTION_DAYS=90     audit records older than this are deleted by the daily timer
    MCPHUB_USAGE_RETENTION_DAYS=400    usage aggregates likewise

Rate-limit rules themselves are `MCPHUB_LIMIT_<NAME>__<FIELD>` (shared/limits/rules.py).
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

_TABLE = r"^[A-Za-z][A-Za-z0-9]{2,62}$"


class OperationsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MCPHUB_", extra="ignore", frozen=True)

    limits_table: str = Field(default="mcphublimits", pattern=_TABLE)
    audit_table: str = Field(default="mcphubaudit", pattern=_TABLE)
    usage_table: str = Field(default="mcphubusage", pattern=_TABLE)
    audit_retention_days: float = Field(default=90, gt=0)
    usage_retention_days: float = Field(default=400, gt=0)
    audit_flush_seconds: float = Field(default=2.0, gt=0, description="how long audit records wait to be written")
    usage_flush_seconds: float = Field(default=10.0, gt=0, description="how often usage aggregates are written")
    dashboard_client_id: str | None = Field(
        default=None, description="Entra app (SPA) the operator page signs in with; defaults to the hub's own"
    )
