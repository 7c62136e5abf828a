"""The operator API's request and response models: `/ops/*`, `/routing` and the OAuth facade.

Handlers build their answers through these (`shared.operator_api.answer`), and `/ops/openapi.json`
is generated from them, so the published description and what the hub sends cannot drift apart:
every model forbids fields it does not declare.

The JSON names follow the wire: camelCase on the hub's own answers, snake_case where a standard
(OAuth, RFC 7591/8414/9728, JWK) or a recorded dataclass (routing decisions, capacity plans) names
them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

JsonObject = dict[str, Any]


class Camel(BaseModel):
    """A hub answer: camelCase on the wire, nothing undeclared."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Snake(BaseModel):
    """An answer whose names a standard or a recorded dataclass fixes (snake_case)."""

    model_config = ConfigDict(extra="forbid")


# ---- errors -----------------------------------------------------------------------------------


class BadRequest(Snake):
    """400: a query parameter the endpoint cannot use; the message says which and how to fix it."""

    error: str


class JsonRpcErrorObject(Snake):
    code: int
    message: str
    data: Any = None


class JsonRpcError(Snake):
    """401 (no or bad token: `WWW-Authenticate` names the resource metadata) and 404 (the caller lacks
    the role: the route answers as if it did not exist). The hub's one error envelope, as on `/mcp`."""

    jsonrpc: Literal["2.0"]
    id: None = None
    error: JsonRpcErrorObject


class OAuthError(Snake):
    """RFC 6749 §5.2 error (400, 401, 429), or 503 `temporarily_unavailable` naming the store that is down."""

    error: str
    error_description: str | None = None
    store: str | None = None


# ---- query parameters -------------------------------------------------------------------------


class TimeRange(Snake):
    from_: str | None = Field(
        None, alias="from", description="ISO 8601 start, e.g. 2026-11-25T08:00:00Z (default: `to` minus 24 hours)"
    )
    to: str | None = Field(None, description="ISO 8601 end (default: now)")


class AuditParams(TimeRange):
    event: str | None = Field(None, description="an event name, e.g. tool.call or token.refused")
    user: str | None = Field(None, description="a user key, <tenant id>:<object id>")
    tenant: str | None = Field(
        None, description="a tenant ID or alias (an admin of one tenant sees that tenant's records only)"
    )
    server: str | None = None
    tool: str | None = None
    outcome: str | None = Field(None, description="ok, error, denied, timeout, ...")
    region: str | None = None
    limit: int = Field(100, ge=1, le=1000, description="records per page")
    cursor: str | None = Field(None, description="the `next` of the page before")


class ExportParams(AuditParams):
    format: Literal["csv", "jsonl"] = "jsonl"


class Params(BaseModel):
    """Query parameters: surrounding spaces dropped, names not declared refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RecommendParams(Params):
    need: str = Field(min_length=1, max_length=2000, description="what the team needs, in plain words")
    k: int = Field(5, ge=1, le=20, description="how many servers to rank")


class WorkflowParams(Params):
    goal: str = Field(min_length=1, max_length=2000, description="what to get done, in plain words")


class ForecastParams(Params):
    region: str | None = Field(
        None, pattern=r"^[A-Za-z0-9-]{1,64}$", description="a region name (default: this instance's)"
    )


# ---- /ops/whoami, /ops/servers, /ops/config ----------------------------------------------------


class OperatorScope(Camel):
    """What the caller sees on /ops/* and the operator page: the whole hub, or one tenant's part."""

    kind: Literal["hub", "tenant"]
    tenant: str | None = Field(description="the tenant ID, when kind is tenant")
    label: str | None = Field(description="the tenant's display name or alias, when kind is tenant")


class Whoami(Camel):
    user: str = Field(description="the caller's key, <tenant id>:<object id>")
    name: str
    roles: list[str]
    scope: OperatorScope
    auth: Literal["entra", "off"] = Field(description="the hub's sign-in mode")
    region: str
    instance: str
    audit_dropped: int = Field(description="audit records this instance could not write since it started")


class ServerRow(Camel):
    name: str
    url: str = Field(description="the upstream URL without credentials or query")
    auth: str
    enabled: bool
    breaker: Literal["closed", "open", "half-open"]
    last_good_list_age_seconds: float | None
    list_stale: bool | None
    requests_last_hour: int
    error_rate_last_hour: float
    p95_ms_last_hour: float | None


class Servers(Camel):
    instance: str
    servers: list[ServerRow]


class RunningConfig(Camel):
    """Every setting the instance runs with, secrets masked as `***`."""

    hub: JsonObject
    auth: JsonObject
    routing: JsonObject
    operations: JsonObject
    servers: dict[str, JsonObject]
    limits: list[JsonObject]
    plugins: list[JsonObject] = Field(description="in the order they run")
    tenants: dict[str, JsonObject] = Field(description="the tenant aliases (MCPHUB_TENANT_<ALIAS>__ID), by alias")
    storage: str = Field(description="the storage account's name, or 'managed identity'")


# ---- /ops/usage and /ops/advice ----------------------------------------------------------------


class Summary(Camel):
    requests: int
    errors: int
    error_rate: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float
    outcomes: dict[str, int]


class Keyed(Summary):
    key: str


class Point(Summary):
    at: str


class Series(Camel):
    step_seconds: int
    points: list[Point]


class PluginCounts(Camel):
    key: str
    refused: int
    would_refuse: int
    failed: int
    timeouts: int
    modified: int


class Usage(Camel):
    from_: str = Field(alias="from")
    to: str
    totals: Summary
    series: Series
    active_users: int
    active_tenants: int
    active_sessions: int
    by_server: list[Keyed]
    by_region: list[Keyed]
    by_user: list[Keyed] = Field(description="the 20 busiest")
    top_tools: list[Keyed] = Field(description="the 20 busiest, as server/tool")
    by_plugin: list[PluginCounts]
    slowest_upstreams: list[Keyed]
    failing_upstreams: list[Keyed]
    live_sessions: int = Field(description="handshake-era sessions open now")


class Period(Camel):
    from_: str = Field(alias="from")
    to: str


class AdviceItem(Camel):
    server: str
    kind: str
    advice: str


class Advice(Camel):
    period: Period
    advice: list[AdviceItem]


# ---- /ops/audit -------------------------------------------------------------------------------


class AuditRecord(Camel):
    at: str
    event: str | None
    user: str | None
    tenant: str | None
    server: str | None
    tool: str | None
    outcome: str | None
    latency_ms: float | None
    region: str | None
    detail: JsonObject
    id: str


class AuditPage(Camel):
    items: list[AuditRecord]
    next: str | None = Field(description="the cursor of the next page; null on the last")


class Finding(Camel):
    partition: str
    row: str
    problem: str


class Verification(Camel):
    """The chains are checked whole, by the hub (which alone holds their key); for an admin of one
    tenant, `rows` counts that tenant's records in them, and a finding names a block by position only."""

    intact: bool
    partitions: int
    rows: int = Field(description="records in the chains checked (of `tenant` only, when given)")
    findings: list[Finding]
    tenant: str | None = Field(None, description="the tenant whose records `rows` counts; null: every record")


# ---- /ops/recommend, /ops/workflow, /ops/forecast ----------------------------------------------


class RecommendedServer(Camel):
    name: str
    title: str
    registry_name: str
    url: str
    auth: str
    credentials: str
    score: float
    match: float
    because: list[str]
    already_configured: bool
    in_settings: bool


class Recommendation(Camel):
    need: str
    fits: bool
    servers: list[RecommendedServer]
    settings: dict[str, str] = Field(description="the environment variables that add the servers that fit")
    bicep: str
    placeholders: list[str] = Field(description="settings left REPLACE-ME: secrets to fill in")
    nothing_fits: str | None = None


class PlanStep(Camel):
    tool: str
    arguments: JsonObject
    purpose: str
    fill_in: list[str] | None = None
    problems: list[str] | None = None


class Plan(Camel):
    goal: str
    answered_by: str
    ready: bool
    steps: list[PlanStep]
    note: str | None = None


class CapacityPlan(Snake):
    peak_rps: float
    busy_rps: float
    always_ready: int
    maximum_instances: int
    monthly_requests: float
    monthly_cost_usd: float


class ForecastPoint(Camel):
    at: str
    requests: float


class Forecast(Camel):
    region: str
    ready: bool
    history_days: int
    needed_days: int | None = Field(None, description="only while not ready")
    step_seconds: int | None = None
    points: list[ForecastPoint] | None = None
    recent_peak_requests: float | None = Field(
        None, description="the busiest 5-minute slot of the last 7 days (a floor for the controller's maximum)"
    )
    recommendation: CapacityPlan | None = None


# ---- /routing ---------------------------------------------------------------------------------


class LatestAssessment(Camel):
    at: float
    risk_score: float
    failure_probability: float
    failure_type: str
    time_to_failure_seconds: float | None
    model: str


class RegionState(Snake):
    drained: bool
    changed_at: float
    healthy: int = Field(description="healthy evaluations in a row")
    pending_until: float
    cooldown: float
    assessment: LatestAssessment | None = None


class Assessment(Snake):
    region: str
    failure_probability: float
    risk_score: float
    failure_type: str
    time_to_failure_s: float | None
    confidence: float
    actions: list[str]
    model: str


class RoutingDecision(Snake):
    at: float
    region: str
    origin: str
    action: Literal["drain", "restore"]
    reason: str
    applied: bool
    error: str | None
    assessment: Assessment


class RetrainingScores(Snake):
    average_precision: float = Field(description="of the per-window failure probability, on the held-back part")
    outages: int
    caught: int = Field(description="outages the drain threshold was crossed before")
    healthy_timelines: int
    false_drains: int = Field(description="timelines without an outage that crossed the drain threshold")
    windows: int


class RetrainingDecision(Camel):
    at: float
    since: float
    until: float
    recorded_timelines: int
    held_back_timelines: int
    held_back_outages: int
    current: dict[str, float | int | None] = Field(description="the recipe in use")
    candidate: dict[str, float | int | None] = Field(description="the recipe tried")
    scores: dict[str, RetrainingScores | None] | None = None
    accepted: bool
    reason: str


class Routing(Camel):
    controller: str
    regions: dict[str, RegionState]
    decisions: list[RoutingDecision] = Field(description="newest first")
    retraining: list[RetrainingDecision] = Field(
        default_factory=list[RetrainingDecision], description="the risk model's daily retraining, newest first"
    )


# ---- /ops/scaling ------------------------------------------------------------------------------


class ScaleValues(Camel):
    always_ready: int
    maximum_instances: int


class ScalingInputs(Camel):
    window_peak_rps: float = Field(description="busiest forecast slot of the coming horizon, req/s")
    day_peak_rps: float = Field(description="today's forecast peak of the load this region carries")
    recent_peak_rps: float = Field(description="the busiest slot this region served in the last 7 days")
    combined_peak_rps: float = Field(description="every region's load at its peak: the failover floor's basis")
    per_instance_rps: float
    asked: ScaleValues = Field(description="what the forecast asked, before the guardrails")
    drained: list[str] | None = None


class ScalingRegion(Camel):
    at: float | None = None
    error: str | None = None
    actual: ScaleValues | None = None
    wanted: ScaleValues | None = None
    planned: ScaleValues | None = Field(default=None, description="dry-run: what it would have set")
    inputs: ScalingInputs | None = None
    bounds: list[str] = Field(default_factory=list[str], description="the guardrails that bound the plan")
    drained: list[str] = Field(default_factory=list[str])
    changed_at: float = 0.0
    held_until: float | None = Field(default=None, description="a change waits for the cooldown")


class ScalingDecision(Camel):
    at: float
    region: str
    mode: Literal["dry-run", "apply"]
    before: ScaleValues
    after: ScaleValues
    applied: bool
    error: str | None
    reason: str
    inputs: ScalingInputs


class Scaling(Camel):
    mode: Literal["off", "dry-run", "apply"]
    regions: dict[str, ScalingRegion]
    decisions: list[ScalingDecision] = Field(description="newest first")


# ---- OAuth: resource metadata and the facade ----------------------------------------------------


class ProtectedResourceMetadata(Snake):
    """RFC 9728."""

    resource: str
    authorization_servers: list[str]
    scopes_supported: list[str]
    bearer_methods_supported: list[str]
    resource_name: str


class AuthorizationServerMetadata(Snake):
    """RFC 8414."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    registration_endpoint: str
    jwks_uri: str
    scopes_supported: list[str]
    response_types_supported: list[str]
    grant_types_supported: list[str]
    code_challenge_methods_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    client_id_metadata_document_supported: bool
    authorization_response_iss_parameter_supported: bool


class Jwk(BaseModel):
    """RFC 7517: a public signing key (members beyond these are allowed, as the RFC says)."""

    model_config = ConfigDict(extra="allow")
    kty: str
    kid: str
    use: str | None = None
    alg: str | None = None


class Jwks(Snake):
    keys: list[Jwk]


class ClientMetadata(BaseModel):
    """RFC 7591 §2, what a client sends (other members are allowed and ignored)."""

    model_config = ConfigDict(extra="allow")
    redirect_uris: list[str]
    client_name: str | None = None
    grant_types: list[Literal["authorization_code", "refresh_token"]] | None = None


class ClientRegistration(Snake):
    """RFC 7591 §3.2.1."""

    client_id: str
    client_id_issued_at: int
    client_name: str
    redirect_uris: list[str]
    grant_types: list[str]
    response_types: list[str]
    token_endpoint_auth_method: Literal["none"]


class AuthorizeParams(Snake):
    response_type: Literal["code"]
    client_id: str = Field(description="a registered client ID, or the HTTPS URL of a client metadata document")
    redirect_uri: str
    code_challenge: str
    code_challenge_method: Literal["S256"]
    state: str | None = None
    scope: str | None = None
    resource: str | None = Field(None, description="RFC 8707: the MCP endpoint the token is for")


class CallbackParams(Snake):
    code: str | None = None
    state: str | None = None
    error: str | None = None
    error_description: str | None = None


class ConsentForm(Snake):
    token: str = Field(description="the sealed pending request the consent page carries")
    decision: Literal["allow", "deny"]


class TokenForm(Snake):
    grant_type: Literal["authorization_code", "refresh_token"]
    code: str | None = None
    redirect_uri: str | None = None
    client_id: str | None = None
    code_verifier: str | None = None
    refresh_token: str | None = None
    resource: str | None = None


class TokenResponse(Snake):
    """RFC 6749 §5.1."""

    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    refresh_token: str
    scope: str


class OpenApiDocument(BaseModel):
    """An OpenAPI 3.1 document (validated as one by the tests, with openapi-spec-validator)."""

    model_config = ConfigDict(extra="allow")
    openapi: str
    info: JsonObject
    paths: dict[str, JsonObject]
    components: JsonObject
