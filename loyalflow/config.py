"""The one Settings object: every knob comes from `LOYALFLOW_*` environment variables (or `.env`)."""

from functools import lru_cache
from pathlib import Path

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
TASK_QUEUE = "loyalflow"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOYALFLOW_", env_file=".env", extra="ignore")

    home: Path = Path(".loyalflow")
    database_url: str | None = None

    # Temporal: unset address means "run the embedded dev server" (`loyalflow up`).
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    temporal_task_queue: str = TASK_QUEUE
    temporal_tls: bool = False
    temporal_api_key: SecretStr | None = None
    # Workflows kept in worker memory between tasks (0 disables sticky execution).
    worker_max_cached_workflows: int = 1000

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
    email_from: str = "Loyalty Program <no-reply@example.com>"

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from: str | None = None  # a Twilio number, short code or sender id
    twilio_messaging_service_sid: str | None = None
    twilio_api_base_url: str | None = None  # contract tests point this at Prism

    # Links in messages (unsubscribe, preferences) and Twilio's status callbacks are built on it.
    public_url: str = "http://127.0.0.1:8000"
    # Signs unsubscribe and preference tokens. Without it, a key is generated under
    # LOYALFLOW_HOME (fine on a laptop; set it in production so every host agrees).
    secret_key: SecretStr | None = None
    token_ttl_days: int = 90
    unsubscribe_mailto: str | None = None  # e.g. unsubscribe@example.com, for List-Unsubscribe

    program_name: str = "Loyalty Program"
    loyalty_rules_file: Path = PACKAGE_DIR / "loyalty.yaml"
    messaging_policy_file: Path = PACKAGE_DIR / "messaging.yaml"
    journeys_dir: Path = PACKAGE_DIR / "journeys"
    templates_dir: Path = PACKAGE_DIR / "templates"

    @field_validator("public_url")
    @classmethod
    def _http_public_url(cls, url: str) -> str:
        # Unsubscribe links and Twilio callbacks are built on it: a bad value must fail at start.
        if not url.startswith(("http://", "https://")) or any(c in url for c in " <>"):
            raise ValueError(
                "LOYALFLOW_PUBLIC_URL must be an http(s) URL, e.g. https://loyalty.example.com"
            )
        return url.rstrip("/")

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
    def embedded_temporal(self) -> bool:
        return self.temporal_address is None

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    @property
    def temporal_db_path(self) -> Path:
        return self.home / "temporal.db"


@lru_cache
def get_settings() -> Settings:
    return Settings()
