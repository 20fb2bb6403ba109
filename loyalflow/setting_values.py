"""How a setting's text becomes a value: codec keys, domain names, listen addresses. Kept below
`config.py`, whose validators call them, so that `Settings` reads as the list of settings."""

import base64
import binascii
import ipaddress
import re

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
DOMAIN_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def parse_codec_keys(text: str) -> dict[str, bytes]:
    """`id:base64,id:base64` into keys by id, in order. Errors never quote key material."""
    keys: dict[str, bytes] = {}
    for position, item in enumerate((i.strip() for i in text.split(",")), start=1):
        if not item:
            continue
        key_id, sep, encoded = item.partition(":")
        key_id = key_id.strip()
        if not sep or not _KEY_ID.fullmatch(key_id):
            raise ValueError(
                f"LOYALFLOW_CODEC_KEYS: entry {position} is not `id:base64key` with an id of "
                "letters, digits, '.', '_' or '-' (e.g. k2:<output of `openssl rand -base64 32`>)"
            )
        if key_id in keys:
            raise ValueError(f"LOYALFLOW_CODEC_KEYS: key id {key_id!r} appears twice")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error:
            raise ValueError(f"LOYALFLOW_CODEC_KEYS: key {key_id!r} is not valid base64") from None
        if len(key) not in (16, 24, 32):
            raise ValueError(
                f"LOYALFLOW_CODEC_KEYS: key {key_id!r} is {len(key)} bytes; AES-GCM keys are "
                "16, 24 or 32 bytes (`openssl rand -base64 32` makes one)"
            )
        keys[key_id] = key
    if not keys:
        raise ValueError(
            "LOYALFLOW_CODEC_KEYS is set but holds no key; unset it to turn the codec off"
        )
    return keys


def is_loopback(host: str) -> bool:
    """`127.0.0.1`, `::1`, `localhost`: only this machine can connect. A name that is not
    `localhost` may resolve anywhere, so it counts as exposed."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def url_host(host: str) -> str:
    """The host part of a URL for the API's listen address: a wildcard (`0.0.0.0`, `::`) is not
    reachable as such, so links use the loopback address; IPv6 gets its brackets."""
    name = host.strip().strip("[]")
    if name in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{name}]" if ":" in name else name
