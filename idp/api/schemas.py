"""The admin API's request and response models (pydantic v2). They validate requests and,
through :mod:`idp.api.spec`, *are* the OpenAPI document's schemas.

Request models forbid unknown fields (a typo is an error, not a silent no-op); response
models describe what the API returns. Domain rules stay in the core (the CSV import, the
realm settings, client metadata): the models check shapes, the core checks meaning.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


#: A time in a response: the database's naive UTC, sent as RFC 3339 with its offset.
Time = Annotated[datetime, AfterValidator(_aware)]
#: A time in a query: any offset accepted, compared as naive UTC like the database.
QueryTime = Annotated[datetime, AfterValidator(_naive_utc)]

STATUS = Literal["migration_pending", "email_to_verify", "active", "locked", "disabled"]
AUTH_METHOD = Literal["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
GRANT = Literal["authorization_code", "refresh_token", "client_credentials"]
Text = Field(default=None, max_length=200)


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Query(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ProblemError(BaseModel):
    pointer: str = Field(description="JSON pointer to the offending value")
    detail: str
    # "in" is a keyword: aliased.
    location: str | None = Field(default=None, alias="in")


class ProblemModel(BaseModel):
    """RFC 9457 problem details, with a stable ``code`` and field ``errors``."""

    model_config = ConfigDict(title="Problem")
    type: str
    title: str
    status: int
    code: str
    detail: str | None = None
    instance: str | None = None
    errors: list[ProblemError] | None = None


# --- customers ----------------------------------------------------------------------------

class CustomerQuery(Query):
    q: str | None = Field(default=None, max_length=200, description=(
        "Start of an identifier, email, given or family name."))
    page: int = Field(default=1, ge=1, le=100_000)
    per_page: int = Field(default=25, ge=1, le=200)


class CustomerSummary(BaseModel):
    identifier: str
    email: str | None = None
    email_verified: bool
    given_name: str | None = None
    family_name: str | None = None
    status: STATUS
    created_at: Time


class CustomerPage(BaseModel):
    items: list[CustomerSummary]
    page: int
    has_next: bool
    total: int = Field(description="Matches, counted up to 1000")
    capped: bool = Field(description="True when there are more than 1000 matches")


class LinkedAccount(BaseModel):
    provider: str
    email: str | None = None
    linked_at: Time


class OpenSession(BaseModel):
    id: str
    created_at: Time
    last_seen: Time
    ip: str | None = None


class ConsentOut(BaseModel):
    client_id: str
    client_name: str
    scopes: list[str]
    granted_at: Time


class Customer(CustomerSummary):
    enabled: bool
    required_actions: list[str]
    locked: bool
    activated_at: Time | None = None
    updated_at: Time
    last_sign_ins: list[Time]
    linked_accounts: list[LinkedAccount]
    sessions: list[OpenSession]
    consents: list[ConsentOut]

    def etag_basis(self) -> Any:
        """What If-Match protects: the customer row itself, not its sessions' activity."""
        return [self.identifier, self.updated_at.isoformat(), self.email, self.enabled]


class CustomerCreate(Request):
    identifier: str = Field(min_length=1, max_length=64)
    email: str | None = Field(default=None, max_length=320)
    email_verified: bool = False
    password: str | None = Field(default=None, min_length=1, max_length=200)
    temporary_code: str | None = Field(default=None, pattern=r"^[0-9]{6}$")
    given_name: str | None = Text
    family_name: str | None = Text


class CustomerUpdate(Request):
    """Set the email on the customer's behalf (they still verify it), disable or enable."""

    email: str | None = Field(default=None, min_length=3, max_length=320)
    enabled: bool | None = None


class TemporaryCode(BaseModel):
    identifier: str
    temporary_code: str = Field(description="Shown once: read it out or print it.")


class MailQueued(BaseModel):
    outbox_id: int


class SessionsEnded(BaseModel):
    ended: int


class ImportError_(BaseModel):
    model_config = ConfigDict(title="ImportLineError")
    line: int
    identifier: str | None = None
    reason: str


class ImportReport(BaseModel):
    rows: int
    created: int
    updated: int
    unchanged: int
    skipped_active: int
    failed: int
    errors: list[ImportError_]


# --- clients ------------------------------------------------------------------------------

class ClientFields(Request):
    """RFC 7591 names, as in the realm JSON and ``idp clients create``."""

    redirect_uris: list[str] = Field(default_factory=list, max_length=50)
    post_logout_redirect_uris: list[str] = Field(default_factory=list, max_length=50)
    grant_types: list[GRANT] = Field(default_factory=lambda: ["authorization_code",
                                                              "refresh_token"])
    response_types: list[Literal["code"]] = Field(default_factory=lambda: ["code"])
    token_endpoint_auth_method: AUTH_METHOD = "client_secret_basic"
    scope: str | None = Field(default=None, max_length=1000)
    client_name: str | None = Text
    logo_uri: str | None = Field(default=None, max_length=2000)
    client_uri: str | None = Field(default=None, max_length=2000)
    backchannel_logout_uri: str | None = Field(default=None, max_length=2000)
    id_token_signed_response_alg: Literal["RS256", "ES256", "PS256"] = "RS256"
    first_party: bool = Field(default=False, description="The agency's own app: no consent "
                              "screen. Third-party (false) unless said otherwise.")
    enabled: bool = True
    admin_realms: list[str] | None = Field(default=None, max_length=50, description=(
        "Realms a service client of this realm may administer (default: its own)."))
    jwks_uri: str | None = Field(default=None, max_length=2000)


class ClientCreate(ClientFields):
    client_id: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9._:\-]+$")


class ClientOut(BaseModel):
    model_config = ConfigDict(extra="allow", title="Client")
    client_id: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    grant_types: list[str]
    response_types: list[str]
    token_endpoint_auth_method: str
    scope: str
    id_token_signed_response_alg: str
    first_party: bool
    enabled: bool = True


class ClientList(BaseModel):
    items: list[ClientOut]


class ClientSecret(BaseModel):
    client_id: str
    client_secret: str | None = Field(default=None,
                                      description="Shown once; none for public clients.")


class ClientCreated(BaseModel):
    client: ClientOut
    client_secret: str | None = None


# --- realm, identity providers, initial access tokens ---------------------------------------

class RealmOut(BaseModel):
    model_config = ConfigDict(title="Realm")
    realm: str
    display_name: str
    enabled: bool
    settings: dict[str, Any] = Field(description="Every realm setting with its value "
                                     "(README, Configuration), defaults included.")


class RealmUpdate(Request):
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    settings: dict[str, Any] = Field(default_factory=dict, description=(
        "Settings to change, validated exactly as the realm import validates them."))


class IdentityProviderOut(BaseModel):
    model_config = ConfigDict(title="IdentityProvider")
    alias: str
    client_id: str
    client_secret: str = Field(description="Always masked: secrets are write-only.")
    enabled: bool
    settings: dict[str, Any]


class IdentityProviderList(BaseModel):
    items: list[IdentityProviderOut]


class IdentityProviderIn(Request):
    model_config = ConfigDict(extra="allow")
    client_id: str = Field(min_length=1, max_length=255)
    client_secret: str = Field(min_length=1, max_length=512)
    enabled: bool = True


class InitialTokenCreate(Request):
    expires_in: int = Field(ge=60, le=90 * 24 * 3600, description="Seconds.")
    uses: int = Field(default=1, ge=1, le=10_000)


class InitialToken(BaseModel):
    id: int
    expires_at: Time
    max_uses: int
    uses: int = 0
    created_by: str | None = None
    token: str | None = Field(default=None, description="Only when issued: shown once.")


class InitialTokenList(BaseModel):
    items: list[InitialToken]


# --- events, migration ---------------------------------------------------------------------

class EventQuery(Query):
    type: str | None = Field(default=None, max_length=64, description="Event type, e.g. login")
    customer: str | None = Field(default=None, max_length=64, description="Identifier")
    actor: str | None = Field(default=None, max_length=320)
    since: QueryTime | None = None
    until: QueryTime | None = None
    cursor: int | None = Field(default=None, ge=1, le=2**62,
                               description="next_cursor of the previous page")
    limit: int = Field(default=100, ge=1, le=500)


class Event(BaseModel):
    id: int
    time: Time
    realm: str
    type: str
    customer: str | None = None
    actor: str | None = None
    client: str | None = None
    ip: str | None = None
    outcome: Literal["success", "failure", "change", "security", "unknown"] = Field(
        description="The event's declared class (idp.core.audit.EVENTS); unknown: an "
                    "event name no longer declared")
    detail: dict[str, Any]


class EventPage(BaseModel):
    items: list[Event]
    next_cursor: int | None = Field(default=None, description="Absent on the last page")


class MigrationCounts(BaseModel):
    imported: int = Field(description="Customers of the realm")
    first_connection_done: int
    pending_never_started: int
    pending_email_unverified: int
    locked: int
    disabled: int
    mails_queued: int
    mails_failed: int


class EventExportQuery(Query):
    """The audit export's filters: those of the event list, without paging (the CSV is
    streamed whole)."""

    type: str | None = Field(default=None, max_length=64, description="Event type, e.g. login")
    customer: str | None = Field(default=None, max_length=64, description="Identifier")
    actor: str | None = Field(default=None, max_length=320)
    since: QueryTime | None = None
    until: QueryTime | None = None


# --- Mes données (docs/privacy.md) ---------------------------------------------------------
# Times are ISO 8601 UTC strings ending in Z, as in the customer's own download.

class ExportRealm(BaseModel):
    slug: str
    display_name: str


class ExportAccount(BaseModel):
    identifier: str
    subject: str = Field(description="The OIDC sub of the customer")
    given_name: str | None
    family_name: str | None
    phone_number: str | None
    locale: str | None
    created_at: str | None
    activated_at: str | None
    enabled: bool
    required_actions: list[str]


class ExportEmail(BaseModel):
    address: str
    verified: bool
    verified_at: str | None
    use: Literal["current", "pending_change"]


class ExportPassword(BaseModel):
    set: bool
    last_changed_at: str | None


class ExportPending(BaseModel):
    pending: bool


class ExportAvailable(BaseModel):
    available: bool


class ExportPasskey(BaseModel):
    name: str
    created_at: str | None
    last_used_at: str | None


class ExportSocial(BaseModel):
    provider: str
    email: str | None
    linked_at: str | None


class ExportTotp(BaseModel):
    enrolled_at: str | None
    last_used_at: str | None


class ExportWaysIn(BaseModel):
    password: ExportPassword
    temporary_code: ExportPending
    email_code: ExportAvailable
    passkeys: list[ExportPasskey]
    social_accounts: list[ExportSocial]
    totp: ExportTotp | None


class ExportSession(BaseModel):
    started_at: str | None
    last_seen_at: str | None
    method: str
    device: str
    ip: str | None


class ExportDevice(BaseModel):
    device: str
    first_seen_at: str | None
    last_seen_at: str | None


class ExportConsent(BaseModel):
    client_id: str
    client_name: str
    scopes: list[str]
    granted_at: str | None


class ExportDeletion(BaseModel):
    requested_at: str | None
    erase_on: str | None
    refused_at: str | None
    refused_reason: str | None


class ExportSignIn(BaseModel):
    at: str | None
    method: str
    device: str
    ip: str | None


class PrivacyExport(BaseModel):
    """Everything the idp holds about one customer (the customer's own "Télécharger mes
    données" file)."""

    format: Literal["espace-client/mes-donnees"]
    version: int
    generated_at: str
    realm: ExportRealm
    account: ExportAccount
    emails: list[ExportEmail]
    ways_in: ExportWaysIn
    sessions: list[ExportSession]
    devices: list[ExportDevice]
    consents: list[ExportConsent]
    deletion: ExportDeletion
    sign_ins: list[ExportSignIn]
