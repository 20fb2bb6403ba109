"""Provider errors, classified so the send activity knows whether a retry can help."""


class SendError(Exception):
    pass


class TransientSendError(SendError):
    """Worth retrying later: timeouts, refused connections, SMTP 4xx, provider throttling."""


class PermanentSendError(SendError):
    """Retrying cannot help: SMTP 5xx, invalid address. The message is marked failed.

    `code` is the provider's own error code when it gave one (e.g. Twilio 21610: the recipient
    replied STOP), so the caller can update suppression or consent.
    """

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class AmbiguousSendError(SendError):
    """The provider may or may not have accepted the message: do NOT send it again.

    Raised when the connection failed (dropped, timed out) after the message content was handed
    to the SMTP server but before its final reply arrived. The server may have queued the message,
    so a retry could deliver it twice; the caller records the message as failed-ambiguous instead.
    """
