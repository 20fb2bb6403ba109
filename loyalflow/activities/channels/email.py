"""Email over SMTP with aiosmtplib (STARTTLS, AUTH, timeouts); errors classified for retry."""

import aiosmtplib

from loyalflow.activities.channels.errors import PermanentSendError, TransientSendError
from loyalflow.activities.channels.mime import OutgoingEmail


class SmtpEmailChannel:
    name = "smtp"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str | None,
        password: str | None,
        start_tls: bool,
        timeout: float,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.start_tls = start_tls
        self.timeout = timeout

    async def send(self, email: OutgoingEmail) -> str:
        try:
            _, reply = await aiosmtplib.send(
                email.to_mime(),
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                start_tls=self.start_tls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPAuthenticationError as exc:
            # A configuration problem: keep retrying (nothing is lost) but say exactly what is wrong.
            raise TransientSendError(
                f"SMTP server {self.host}:{self.port} rejected the credentials for "
                f"{self.username!r} ({exc.code} {exc.message}); check LOYALFLOW_SMTP_USERNAME "
                "and LOYALFLOW_SMTP_PASSWORD"
            ) from exc
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            detail = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            if all(code >= 500 for code in codes):
                raise PermanentSendError(f"recipient refused: {detail}") from exc
            raise TransientSendError(f"recipient deferred: {detail}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500:
                raise PermanentSendError(f"SMTP {exc.code}: {exc.message}") from exc
            raise TransientSendError(f"SMTP {exc.code}: {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TransientSendError(
                f"SMTP server {self.host}:{self.port} unreachable: {exc}"
            ) from exc
        return f"{email.message_id_header} {reply}".strip()
