"""Provider errors, classified so the send activity knows whether a retry can help."""


class SendError(Exception):
    pass


class TransientSendError(SendError):
    """Worth retrying later: timeouts, refused connections, SMTP 4xx, provider throttling."""


class PermanentSendError(SendError):
    """Retrying cannot help: SMTP 5xx, invalid address. The message is marked failed."""
