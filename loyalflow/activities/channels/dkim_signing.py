"""DKIM signatures (RFC 6376) with dkimpy, for receivers that check who really sent a message.

The key is an RSA private key in PEM form (`openssl genrsa -out dkim.pem 2048`); the public half
is published as a TXT record at `<selector>._domainkey.<domain>`. The key is read and checked
when the worker starts, so a missing or malformed file stops it there rather than failing every
message. Relaxed canonicalisation for header and body: relays that re-fold a header or change
trailing whitespace do not break the signature.
"""

from dataclasses import dataclass
from pathlib import Path

import dkim
from dkim.crypto import parse_pem_private_key

# What a receiver must be able to trust. RFC 8058 asks for List-Unsubscribe and
# List-Unsubscribe-Post to be signed; naming a header the message lacks also stops a relay from
# adding one later without breaking the signature.
SIGNED_HEADERS = (
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"MIME-Version",
    b"Content-Type",
    b"List-Unsubscribe",
    b"List-Unsubscribe-Post",
)


@dataclass(frozen=True)
class DkimSigner:
    selector: str
    domain: str
    private_key: bytes  # PEM

    def __post_init__(self) -> None:
        try:
            parse_pem_private_key(self.private_key)
        except Exception as exc:  # dkimpy raises several kinds for a bad key
            raise ValueError(
                "LOYALFLOW_DKIM_PRIVATE_KEY_FILE does not hold an RSA private key in PEM form "
                f"({type(exc).__name__}); `openssl genrsa -out dkim.pem 2048` makes one"
            ) from None

    @classmethod
    def from_file(cls, path: Path, *, selector: str, domain: str) -> "DkimSigner":
        try:
            key = path.read_bytes()
        except OSError as exc:
            raise ValueError(
                f"LOYALFLOW_DKIM_PRIVATE_KEY_FILE: cannot read {path} ({exc.strerror})"
            ) from None
        return cls(selector=selector, domain=domain, private_key=key)

    def sign(self, message: bytes) -> bytes:
        """`message` (CRLF line ends, as sent over SMTP) with a DKIM-Signature header on top."""
        try:
            signature = dkim.sign(
                message,
                self.selector.encode("ascii"),
                self.domain.encode("ascii"),
                self.private_key,
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=list(SIGNED_HEADERS),
            )
        except dkim.DKIMException as exc:
            raise ValueError(f"DKIM signing failed: {exc}") from exc
        return bytes(signature) + message
