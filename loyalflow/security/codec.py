"""Optional encryption of workflow payloads (AES-GCM), so Temporal stores no readable member data.

Every payload the SDK writes (workflow inputs and results, signals, activity inputs and results,
failure details) is replaced by one whose data is `nonce (12 bytes) + AES-GCM ciphertext` of the
serialized original payload, with the metadata `encoding: binary/encrypted` and
`encryption-key-id: <id>`. That is the format of Temporal's samples (Python, Go, TypeScript), so
their codec servers can read it with the same keys.

Keys come from `LOYALFLOW_CODEC_KEYS` (see `Settings.codec_keyring`). New payloads are encrypted with
the active key; a payload is decrypted with whichever key its metadata names, so a key can be
rotated by adding the new one first and keeping the old one until no history needs it. Payloads that
are not encrypted pass through `decode` unchanged (histories written before the codec was on).

Search attributes (MemberId, JourneyId, Step...) are indexed by the server and are never encrypted;
they hold no contact details by design.
"""

import dataclasses
import os
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from loyalflow.config import Settings

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12


class CodecError(ValueError):
    """A payload that cannot be decrypted: unknown key id, wrong key or altered data."""


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        super().__init__()
        if active_key_id not in keys:
            raise ValueError(f"the active key id {active_key_id!r} is not among the keys")
        self.active_key_id = active_key_id
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}

    @property
    def key_ids(self) -> list[str]:
        return list(self._ciphers)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        cipher = self._ciphers[self.active_key_id]
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: self.active_key_id.encode()},
            data=nonce + cipher.encrypt(nonce, payload.SerializeToString(), None),
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # not ours: written before the codec was on
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise CodecError(
                f"payload encrypted with key id {key_id!r}, which is not in LOYALFLOW_CODEC_KEYS "
                f"(known: {', '.join(self._ciphers)}); add that key back to read it"
            )
        data = payload.data
        try:
            plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], None)
        except InvalidTag as exc:
            raise CodecError(
                f"payload with key id {key_id!r} does not decrypt: the key under that id in "
                "LOYALFLOW_CODEC_KEYS is not the one it was encrypted with, or the data was altered"
            ) from exc
        return Payload.FromString(plain)


def codec_from_settings(settings: Settings) -> EncryptionCodec | None:
    """The payload codec, or None when no keys are configured (the codec is off)."""
    keyring = settings.codec_keyring
    if keyring is None:
        return None
    active_key_id, keys = keyring
    return EncryptionCodec(keys, active_key_id)


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic payloads, encrypted when the codec is on.

    With the codec on, failure messages and stack traces are moved into the (encrypted) failure
    details too: provider errors often quote an email address or a phone number.
    """
    codec = codec_from_settings(settings)
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
