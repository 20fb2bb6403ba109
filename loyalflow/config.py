"""The one Settings object: every knob comes from `LOYALFLOW_*` environment variables (or `.env`).

One concern, on purpose in one module past 300 lines: an operator reads every setting, its default
and why, in one place (as in FastAPI's full-stack template); grouped by feature, each group
commented. How a setting's text becomes a value (codec keys, hosts) is `setting_values.py`.
"""

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from loyalflow.setting_values import DOMAIN_NAME, is_loopback, parse_codec_keys, url_host

PACKAGE_DIR = Path(__file__).resolve().parent
TASK_QUEUE = "loyalflow"


class Settings(BaseSettings):
    # Errors name the setting but never echo its value: many settings are secrets.
    model_config = SettingsConfigDict(
        env_prefix="LOYALFLOW_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    home: Path = Path(".loyalflow")
    database_url: str | None = None

    # Temporal: unset address means "run the embedded dev server" (`loyalflow up`).
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    # Where support staff open the Web UI (links in timelines); default: the embedded one.
    temporal_ui_url: str | None = None
    temporal_task_queue: str = TASK_QUEUE
    temporal_tls: bool = False
    temporal_api_key: SecretStr | None = None
    # Workflows kept in worker memory between tasks (0 disables sticky execution). 300 keeps a
    # worker under 300 MB through a campaign; 1000 took it to 324-371 MiB (bench/README.md,
    # "campaign.py"). An evicted run is replayed from its history when it has work again.
    worker_max_cached_workflows: int = 300
    # `loyalflow worker` runs the journey interpreter outside temporalio's workflow sandbox
    # unless this is true (other workflows always run in it): journeys are data, not code, the
    # sandboxed test suite and replay tests guard the interpreter's determinism, and the sandbox
    # costs 12 ms of CPU per welcome run (runtime/runners.py; bench/README.md, session 6).
    workflow_sandbox: bool = False
    # Unrouted events older than this are routed again by the worker: longer than a slow
    # request's own routing, or both would route (harmlessly, but twice the work).
    reroute_grace_seconds: float = Field(default=60, gt=0)

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_token: SecretStr | None = None

    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_tls: bool = False  # implicit TLS (usually port 465); exclusive with STARTTLS
    smtp_pool_size: int = 4  # connections kept open per worker
    smtp_timeout_seconds: float = 30.0
    # A message the provider may have had when its worker died (at most one per held connection):
    # `write_off` records it failed and never sends it again (no duplicate); `resend` sends it
    # again with the same Message-ID (no loss; a receiver that deduplicates on it can).
    interrupted_send: Literal["write_off", "resend"] = "write_off"
    email_from: str = "Loyalty Program <no-reply@example.com>"

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from: str | None = None  # a Twilio number, short code or sender id
    twilio_messaging_service_sid: str | None = None
    twilio_api_base_url: str | None = None  # contract tests point this at Prism

    # Links in messages (unsubscribe, preferences) and Twilio's status callbacks are built on it.
    # Default: the API's own address (LOYALFLOW_API_HOST/PORT), see `_public_url_from_api`.
    public_url: str = "http://127.0.0.1:8000"
    # Signs unsubscribe and preference tokens. Without it, a key is generated under
    # LOYALFLOW_HOME (fine on a laptop; set it in production so every host agrees).
    secret_key: SecretStr | None = None
    token_ttl_days: int = 90
    unsubscribe_mailto: str | None = None  # e.g. unsubscribe@example.com, for List-Unsubscribe

    # Encryption of workflow payloads in Temporal (loyalflow/codec.py); off without keys.
    # "k2:<base64 key>,k1:<base64 key>": AES keys of 16, 24 or 32 bytes, each under an id.
    codec_keys: SecretStr | None = None
    codec_key_id: str | None = None  # the key new payloads are encrypted with; default: first
    # Bearer token for POST /codec/encode and /codec/decode (the Web UI's codec endpoint).
    codec_token: SecretStr | None = None
    # Origins allowed to call the codec endpoint from a browser ("a,b"); default: the Web UI's
    # http://localhost:<ui port> and http://127.0.0.1:<ui port>.
    codec_cors_origins: Annotated[list[str] | None, NoDecode] = None

    program_name: str = "Loyalty Program"
    loyalty_rules_file: Path = PACKAGE_DIR / "rules" / "loyalty.yaml"
    messaging_policy_file: Path = PACKAGE_DIR / "rules" / "messaging.yaml"
    journeys_dir: Path = PACKAGE_DIR / "catalog" / "journeys"
    templates_dir: Path = PACKAGE_DIR / "templates"
    # Every message a journey sends must exist in each of these ("en,fr"), checked at load.
    template_locales: Annotated[list[str], NoDecode] = ["en", "fr"]

    # Engagement tracking (issue 16)
    # off: links and the pixel left alone; clicks: links tracked, no pixel; on: both.
    tracking: Literal["off", "clicks", "on"] = "on"
    # SMS links shortened to {public_url}/t/s/<token> (and counted) when tracking is not off.
    tracking_sms_links: bool = False
    # utm_source for tracked links (utm_medium is the channel, utm_campaign the journey id,
    # utm_content the step and variant); empty: no UTM parameters are added.
    tracking_utm_source: str = "loyalflow"
    # A hit this soon after the message left is a machine (security gateways fetch on arrival).
    tracking_bot_seconds: float = Field(default=5.0, ge=0)
    # The program's website: `program.url` in templates (the built-in emails' call to action).
    program_url: str = "https://example.com"
    # VERP envelope sender bounces+<message id>@<this domain>; unset: the From address is used.
    bounce_domain: str | None = None
    # `loyalflow bounces` and `loyalflow up` receive bounce mail here (SMTP, or LMTP).
    bounce_host: str = "127.0.0.1"
    bounce_port: int = 2525
    bounce_lmtp: bool = False
    # Loyalty mechanics (issue 14)
    # The rewards catalogue members redeem points for (POST /members/{id}/redemptions).
    rewards_file: Path = PACKAGE_DIR / "rules" / "rewards.yaml"
    # Prometheus metrics (issue 17). A worker serves GET /metrics on this port when it is set
    # (`loyalflow up` sets it, see runtime/supervisor.py); each worker on a host needs its own.
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    worker_metrics_host: str = "127.0.0.1"  # 0.0.0.0: scraped from other hosts
    # Worker processes `loyalflow up` supervises (`--workers N`). A Python worker uses one core;
    # the N workers serve metrics on N consecutive ports from the one above (9469 if unset).
    up_workers: int = Field(default=1, ge=1, le=64)
    # Read-only bearer token for GET /metrics (API and workers): scrapers need not hold the API
    # token. With LOYALFLOW_API_TOKEN or this set, /metrics takes either; with neither, it is open.
    metrics_token: SecretStr | None = None

    @field_validator("template_locales", mode="before")
    @classmethod
    def _comma_separated_locales(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("public_url")
    @classmethod
    def _http_public_url(cls, url: str) -> str:
        # Unsubscribe links and Twilio callbacks are built on it: a bad value must fail at start.
        if not url.startswith(("http://", "https://")) or any(c in url for c in " <>"):
            raise ValueError(
                "LOYALFLOW_PUBLIC_URL must be an http(s) URL, e.g. https://loyalty.example.com"
            )
        return url.rstrip("/")

    @field_validator("codec_keys")
    @classmethod
    def _valid_codec_keys(cls, keys: SecretStr | None) -> SecretStr | None:
        if keys is None or not keys.get_secret_value().strip():
            return None  # `LOYALFLOW_CODEC_KEYS=` (empty) also means "codec off"
        parse_codec_keys(keys.get_secret_value())  # fail at start, not on the first payload
        return keys

    @field_validator("codec_cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, origins: object) -> object:
        if isinstance(origins, str):
            return [o.strip().rstrip("/") for o in origins.split(",") if o.strip()]
        return origins

    @model_validator(mode="after")
    def _known_codec_key_id(self) -> Self:
        if self.codec_key_id is not None:
            if self.codec_keys is None:
                raise ValueError("LOYALFLOW_CODEC_KEY_ID is set but LOYALFLOW_CODEC_KEYS is not")
            known = parse_codec_keys(self.codec_keys.get_secret_value())
            if self.codec_key_id not in known:
                raise ValueError(
                    f"LOYALFLOW_CODEC_KEY_ID={self.codec_key_id} is not one of the key ids in "
                    f"LOYALFLOW_CODEC_KEYS ({', '.join(known)})"
                )
        return self

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, home: Path) -> Path:
        # Child processes may run from another directory; pin the home once.
        return home.expanduser().resolve()

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'loyalflow.db'}"

    @property
    def effective_temporal_address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    @property
    def effective_temporal_ui_url(self) -> str:
        return (self.temporal_ui_url or f"http://127.0.0.1:{self.temporal_ui_port}").rstrip("/")

    @property
    def embedded_temporal(self) -> bool:
        return self.temporal_address is None

    @property
    def codec_keyring(self) -> tuple[str, dict[str, bytes]] | None:
        """(active key id, keys by id), or None when the payload codec is off."""
        if self.codec_keys is None:
            return None
        keys = parse_codec_keys(self.codec_keys.get_secret_value())
        return self.codec_key_id or next(iter(keys)), keys

    @property
    def effective_codec_cors_origins(self) -> list[str]:
        if self.codec_cors_origins is not None:
            return self.codec_cors_origins
        return [f"http://{host}:{self.temporal_ui_port}" for host in ("localhost", "127.0.0.1")]

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    @property
    def temporal_db_path(self) -> Path:
        return self.home / "temporal.db"

    # Custom events and the Segment API (issue 15)
    # Custom event types and their properties (README, "Custom event types").
    events_file: Path = PACKAGE_DIR / "catalog" / "events.yaml"
    # Write keys of the Segment-style /v1 API, one per source ("web-key,pos-key"); none: /v1 off.
    write_keys: Annotated[list[SecretStr], NoDecode] = []
    # How a `track` event name becomes a declared type: object_action ("Cart Item Added" ->
    # cart_item.added), dotted (cart.item.added), snake (cart_item_added) or exact.
    segment_event_names: Literal["object_action", "dotted", "snake", "exact"] = "object_action"

    # API exposure and first-run defaults (issue 12)
    # Serving the API on a non-loopback LOYALFLOW_API_HOST without LOYALFLOW_API_TOKEN is refused
    # (every member's timeline would be readable on the network); `true` allows it on a network
    # you trust.
    allow_open_api: bool = False
    # Where `loyalflow preview` writes HTML unless --out is given; default: <home>/output.
    output_dir: Path | None = None

    @model_validator(mode="after")
    def _public_url_from_api(self) -> Self:
        # Unset, the links follow the API: LOYALFLOW_API_PORT=8080 must not leave them on 8000.
        if "public_url" not in self.model_fields_set:
            self.public_url = f"http://{url_host(self.api_host)}:{self.api_port}"
        return self

    @property
    def effective_output_dir(self) -> Path:
        return self.output_dir.expanduser().resolve() if self.output_dir else self.home / "output"

    @property
    def api_is_loopback(self) -> bool:
        return is_loopback(self.api_host)

    def open_api_refusal(self) -> str | None:
        """Why the API must not start as configured (exposed without a token), or None."""
        has_token = self.api_token is not None and bool(self.api_token.get_secret_value())
        if has_token or self.allow_open_api or self.api_is_loopback:
            return None
        return (
            f"refusing to serve the API on {self.api_host}:{self.api_port} without a token: "
            "anyone who can reach it could read every member's data. Set LOYALFLOW_API_TOKEN "
            "(clients then send `Authorization: Bearer <token>`), or listen on 127.0.0.1 "
            "(LOYALFLOW_API_HOST), or set LOYALFLOW_ALLOW_OPEN_API=true on a network you trust."
        )

    @field_validator("write_keys", mode="before")
    @classmethod
    def _comma_separated_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    # Sending reliability and email trust (issue 12)
    # The right-hand side of every Message-ID (`<ledger id@domain>`); default: LOYALFLOW_EMAIL_FROM's
    # domain. Set it when the sender's domain is not one you control the Message-IDs of.
    message_id_domain: str | None = None
    # DKIM signing (RFC 6376), on when a key file is set: an RSA private key in PEM form, whose
    # public half is published at `<selector>._domainkey.<domain>`. Domain default: the sender's.
    dkim_private_key_file: Path | None = None
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    # `text` (one line per record) or `json` (one JSON object per line, for log collectors).
    log_format: Literal["text", "json"] = "text"

    # The web console (issue 18), at {public_url}/console
    # A session ends this long after sign-in, or after this long without a request.
    console_session_hours: float = Field(default=8, gt=0)
    console_idle_minutes: float = Field(default=30, gt=0)
    # Sign-in refused for a while after this many failed attempts within the window, per user
    # name and (a larger number) per client address; counted in the database, for every process.
    console_login_failures: int = Field(default=5, ge=1)
    console_login_failures_per_ip: int = Field(default=20, ge=1)
    console_login_window_minutes: float = Field(default=15, gt=0)

    @field_validator("message_id_domain", "dkim_domain")
    @classmethod
    def _domain_name(cls, domain: str | None) -> str | None:
        if domain is None or not domain.strip():
            return None
        domain = domain.strip().rstrip(".").lower()
        if not DOMAIN_NAME.fullmatch(domain):
            raise ValueError(
                "must be a domain name such as mail.example.com (letters, digits, '-' and '.')"
            )
        return domain

    @model_validator(mode="after")
    def _complete_dkim(self) -> Self:
        if self.dkim_private_key_file is not None and not self.dkim_selector:
            raise ValueError(
                "LOYALFLOW_DKIM_PRIVATE_KEY_FILE is set but LOYALFLOW_DKIM_SELECTOR is not: set "
                "the selector whose TXT record (<selector>._domainkey.<domain>) holds the public key"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
