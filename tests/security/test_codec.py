"""Encrypted workflow payloads: unreadable in Temporal without the key, readable through the codec
endpoint with its token, keys rotated without breaking running journeys, and plain when off.

Everything runs for real: the Temporal dev server, a worker from `build_worker`, the `loyalflow`
CLI as a subprocess, the API served by uvicorn and the `temporal` CLI reading histories.
"""

import asyncio
import base64
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from google.protobuf import json_format
from google.protobuf.message import Message as ProtoMessage
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from loyalflow.api.app import create_app
from loyalflow.config import Settings
from loyalflow.models.workflow_io import JourneyInput, JourneyResult, MemberEvent
from loyalflow.runtime.connection import connect
from loyalflow.runtime.worker import build_worker
from loyalflow.security.codec import (
    ENCODING,
    KEY_ID_METADATA,
    CodecError,
    EncryptionCodec,
    codec_from_settings,
    data_converter,
)
from tests.conftest import TEMPORAL_CLI, free_port
from tests.journey_helpers import create_member, send_event, wait_for_messages, wait_for_timer
from tests.processes import loyalflow_env

K1 = base64.b64encode(os.urandom(32)).decode()
K2 = base64.b64encode(os.urandom(16)).decode()
TOKEN = "codec-s3cret"
EMAIL, PHONE = "ada.lovelace@example.com", "+33612345678"
NEW_EMAIL, NEW_PHONE = "ada.byron@example.org", "+14155550123"
PII = (EMAIL, PHONE, NEW_EMAIL, NEW_PHONE)
UI_ORIGIN = "http://localhost:8233"


def codec_settings(settings: Settings, env: WorkflowEnvironment, **codec: Any) -> Settings:
    """The test's settings on the dev server, validated like the environment would be."""
    return Settings(
        home=settings.home,
        database_url=settings.database_url,
        temporal_task_queue=settings.temporal_task_queue,
        temporal_address=env.client.service_client.config.target_host,
        _env_file=None,
        **codec,
    )


@pytest.fixture
def encrypted(settings: Settings, dev_server_env: WorkflowEnvironment) -> Settings:
    return codec_settings(
        settings,
        dev_server_env,
        codec_keys=f"k2:{K2},k1:{K1}",
        codec_key_id="k2",
        codec_token=TOKEN,
    )


@pytest.fixture
def plain(settings: Settings, dev_server_env: WorkflowEnvironment) -> Settings:
    return codec_settings(settings, dev_server_env)


@pytest.fixture
def workflow_id(member_id: str) -> str:
    return f"journey-welcome-{member_id}"


@pytest.fixture
async def raw_client(dev_server_env: WorkflowEnvironment) -> Client:
    """A client with loyalflow's payload converter but no codec (no keys): an outsider's view."""
    return await Client.connect(
        dev_server_env.client.service_client.config.target_host,
        data_converter=pydantic_data_converter,
    )


def payloads_in(message: ProtoMessage, path: str = "") -> Iterator[tuple[str, Payload]]:
    """Every Payload anywhere in a history, with its field path (map keys in brackets)."""
    if isinstance(message, Payload):
        yield path, message
        return
    for field, value in message.ListFields():
        where = f"{path}.{field.name}"
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            items = [(f"{where}[{k}]", v) for k, v in value.items() if isinstance(v, ProtoMessage)]
        elif isinstance(value, ProtoMessage):
            items = [(where, value)]
        else:  # a repeated field
            items = [(where, item) for item in value]
        for item_path, item in items:
            yield from payloads_in(item, item_path)


# Not written through the data converter, so never encrypted: search attributes (indexed by the
# server; no contact details by design) and the SDK's own record of each local activity (its
# sequence number, type and times).
NOT_USER_DATA = (
    "search_attributes",
    "marker_recorded_event_attributes.details[data]",
    "marker_recorded_event_attributes.details[patch-data]",  # the patch's id, set by the SDK
)


def data_payloads(history: History) -> list[tuple[str, Payload]]:
    return [
        (p, payload)
        for p, payload in payloads_in(history)
        if not any(part in p for part in NOT_USER_DATA)
    ]


async def history_of(client: Client, workflow_id: str) -> History:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return History(events=history.events)


async def wait_for_event(client: Client, workflow_id: str, kind: EventType.ValueType) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(e.event_type == kind for e in (await history_of(client, workflow_id)).events):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id}: no {EventType.Name(kind)} within 30s")


async def run(*command: str, env: dict[str, str] | None = None) -> str:
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    text = out.decode()
    assert process.returncode == 0, text
    return text


async def workflow_show(settings: Settings, workflow_id: str, *options: str) -> str:
    """`temporal workflow show`, in its table and detailed forms, as an operator would run it."""
    base = [TEMPORAL_CLI, "workflow", "show", "-w", workflow_id]
    address = ["--address", settings.effective_temporal_address, *options]
    return await run(*base, *address) + await run(*base, "--detailed", *address)


async def join_with_contact_details(settings: Settings, member_id: str) -> None:
    """The member joins through the `loyalflow` CLI (a separate process, configured only by its
    environment), with contact details in the event's properties as a sign-up form might send."""
    env = loyalflow_env(settings)
    if settings.codec_keys is not None:
        env["LOYALFLOW_CODEC_KEYS"] = settings.codec_keys.get_secret_value()
    if settings.codec_key_id is not None:
        env["LOYALFLOW_CODEC_KEY_ID"] = settings.codec_key_id
    # Free-form properties can carry anyone's contact details (here a referrer's): routing strips
    # only the member's own contact fields, the codec protects everything else.
    props = [
        "--prop",
        f"referred_by={EMAIL}",
        "--prop",
        f"referrer_phone={PHONE}",
        "--prop",
        "source=signup",
    ]
    output = await run(
        sys.executable,
        "-m",
        "loyalflow",
        "event",
        "member.joined",
        "-m",
        member_id,
        *props,
        env=env,
    )
    assert "stored and routed" in output, output


@asynccontextmanager
async def journey_waiting(settings: Settings, member_id: str) -> AsyncIterator[Client]:
    """A welcome journey in its 3-day wait, ended by a purchase signal, after a profile update
    with new contact details (which journeys never receive: routing strips them)."""
    client = await connect(settings)
    create_member(settings, member_id, email=EMAIL, phone=PHONE, first_name="Ada", locale="en")
    workflow_id = f"journey-welcome-{member_id}"
    async with build_worker(client, settings):
        await join_with_contact_details(settings, member_id)
        assert len(await wait_for_messages(settings, member_id, 1)) == 1
        await wait_for_timer(client, workflow_id)
        await send_event(
            client, settings, member_id, "profile.updated", email=NEW_EMAIL, phone=NEW_PHONE
        )
        await send_event(client, settings, member_id, "purchase", amount=12)
        await wait_for_event(client, workflow_id, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
        try:
            yield client
        finally:
            with contextlib.suppress(RPCError):  # already ended by the purchase
                await client.get_workflow_handle(workflow_id).terminate("test over")


@asynccontextmanager
async def serve_api(settings: Settings) -> AsyncIterator[str]:
    """The real API over HTTP (uvicorn), as the Web UI and the temporal CLI reach it."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 60
    while not server.started:
        assert not task.done() and time.monotonic() < deadline, "the API did not start"
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def as_json(payloads: list[Payload]) -> dict[str, Any]:
    body: dict[str, Any] = json_format.MessageToDict(Payloads(payloads=payloads))
    return body


def from_json(body: dict[str, Any]) -> list[Payload]:
    return list(json_format.ParseDict(body, Payloads()).payloads)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- With the codec on --------------------------------------------------------------------------


async def test_history_holds_no_readable_member_data(
    encrypted: Settings, raw_client: Client, member_id: str, workflow_id: str
) -> None:
    async with journey_waiting(encrypted, member_id):
        history = await history_of(raw_client, workflow_id)
        show = await workflow_show(encrypted, workflow_id)

    whole = history.SerializeToString()  # payloads or not, contact details are nowhere
    assert not [secret for secret in PII if secret.encode() in whole]
    payloads = data_payloads(history)
    kinds = {p.split(".")[2] for p, _ in payloads}
    # The workflow input, the signal, activity inputs and results: all of them encrypted.
    assert {
        "workflow_execution_started_event_attributes",
        "workflow_execution_signaled_event_attributes",
        "activity_task_scheduled_event_attributes",
        "activity_task_completed_event_attributes",
    } <= kinds
    for path, payload in payloads:
        assert payload.metadata["encoding"] == ENCODING, path
        assert payload.metadata[KEY_ID_METADATA] == b"k2", path
        raw = payload.SerializeToString()
        for secret in (member_id, "welcome_email", "signup"):
            assert secret.encode() not in raw, (path, secret)
    # Without the key, the client cannot read the input either.
    started = history.events[0].workflow_execution_started_event_attributes
    with pytest.raises(KeyError, match="Unknown payload encoding binary/encrypted"):
        await raw_client.data_converter.decode(list(started.input.payloads))

    for secret in (*PII, "ada.lovelace", "612345678"):
        assert secret not in show, secret
    # The CLI prints JSON payloads as text; encrypted ones stay base64 ciphertext.
    assert f"metadata.encoding: {base64.b64encode(ENCODING).decode()}" in show
    # The member id shows only where loyalflow puts it on purpose, the workflow id (search
    # attributes such as MemberId are unencrypted too; the CLI prints them in base64).
    lines_with_member = {line.strip() for line in show.splitlines() if member_id in line}
    assert lines_with_member == {f"workflowId: {workflow_id}"}
    # The same history with the keys holds everything (the codec loses nothing).
    keyed = await connect(encrypted)
    decoded = await keyed.data_converter.decode(list(started.input.payloads), [JourneyInput])
    assert decoded[0].member_id == member_id
    assert decoded[0].trigger.properties == {
        "referred_by": EMAIL,
        "referrer_phone": PHONE,
        "source": "signup",
    }


async def test_codec_endpoint_decodes_for_token_holders_only(
    encrypted: Settings, raw_client: Client, member_id: str, workflow_id: str
) -> None:
    async with journey_waiting(encrypted, member_id), serve_api(encrypted) as api:
        history = await history_of(raw_client, workflow_id)
        started = history.events[0].workflow_execution_started_event_attributes
        encrypted_input = list(started.input.payloads)
        endpoint = f"{api}/codec"
        # The temporal CLI speaks the same remote-codec protocol as the Web UI.
        decoded_show = await workflow_show(
            encrypted,
            workflow_id,
            "--codec-endpoint",
            endpoint,
            "--codec-auth",
            f"Bearer {TOKEN}",
        )
        async with httpx.AsyncClient(base_url=endpoint) as http:
            body = as_json(encrypted_input)
            missing = await http.post("/decode", json=body)
            wrong = await http.post("/decode", json=body, headers=bearer("not-it"))
            decoded = await http.post("/decode", json=body, headers=bearer(TOKEN))

            original = pydantic_data_converter.payload_converter.to_payloads(
                [
                    MemberEvent.model_validate(
                        {
                            "event_id": "e-1",
                            "type": "visit",
                            "occurred_at": "2026-01-01T00:00:00Z",
                            "properties": {"email": EMAIL},
                        }
                    )
                ]
            )
            sealed = await http.post("/encode", json=as_json(original), headers=bearer(TOKEN))
            opened = await http.post("/decode", json=sealed.json(), headers=bearer(TOKEN))
            unsealed_without_token = await http.post("/encode", json=as_json(original))

            preflight = await http.options(
                "/decode",
                headers={
                    "Origin": UI_ORIGIN,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
                },
            )
            from_ui = await http.post(
                "/decode", json=body, headers={**bearer(TOKEN), "Origin": UI_ORIGIN}
            )
            from_elsewhere = await http.options(
                "/decode",
                headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
            )
            other_route = await http.get(f"{api}/healthz", headers={"Origin": UI_ORIGIN})

    # Decoded through the endpoint, the CLI shows what the history really holds (the referrer's
    # details; the member's own new ones were stripped by routing and are nowhere).
    assert EMAIL in decoded_show and PHONE in decoded_show
    assert NEW_EMAIL not in decoded_show and NEW_PHONE not in decoded_show

    for response in (missing, wrong, unsealed_without_token):
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"
        assert EMAIL not in response.text
    assert decoded.status_code == 200, decoded.text
    plain = from_json(decoded.json())
    assert plain == await EncryptionCodec(*_keys(encrypted)).decode(encrypted_input)
    journey_input = pydantic_data_converter.payload_converter.from_payloads(plain, [JourneyInput])
    assert journey_input[0].member_id == member_id
    assert journey_input[0].trigger.properties["referred_by"] == EMAIL

    assert sealed.status_code == 200, sealed.text
    sealed_payload = from_json(sealed.json())[0]
    assert sealed_payload.metadata["encoding"] == ENCODING
    assert sealed_payload.metadata[KEY_ID_METADATA] == b"k2"
    assert EMAIL.encode() not in sealed_payload.data
    assert opened.status_code == 200 and from_json(opened.json()) == original

    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == UI_ORIGIN
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert {"authorization", "content-type", "x-namespace"} <= set(
        allowed.replace(" ", "").split(",")
    )
    assert (
        from_ui.status_code == 200 and from_ui.headers["access-control-allow-origin"] == UI_ORIGIN
    )
    assert "access-control-allow-origin" not in from_elsewhere.headers
    assert "access-control-allow-origin" not in other_route.headers  # CORS is for /codec only


def _keys(settings: Settings) -> tuple[dict[str, bytes], str]:
    keyring = settings.codec_keyring
    assert keyring is not None
    return keyring[1], keyring[0]


async def test_rotated_keys_still_read_older_payloads(
    settings: Settings,
    dev_server_env: WorkflowEnvironment,
    raw_client: Client,
    member_id: str,
    workflow_id: str,
) -> None:
    before = codec_settings(settings, dev_server_env, codec_keys=f"k1:{K1}")
    # The new key goes first (so it is active); the old one stays, to read older payloads.
    after = codec_settings(
        settings, dev_server_env, codec_keys=f"k2:{K2},k1:{K1}", codec_token=TOKEN
    )
    only_new = codec_settings(settings, dev_server_env, codec_keys=f"k2:{K2}", codec_token=TOKEN)
    create_member(before, member_id, email=EMAIL, first_name="Ada", locale="en")

    old_client = await connect(before)
    async with build_worker(old_client, before):
        await send_event(old_client, before, member_id, "member.joined", referred_by=EMAIL)
        await wait_for_timer(old_client, workflow_id)

    # A fresh worker with rotated keys replays the k1 history, then takes a k2 signal.
    new_client = await connect(after)
    async with build_worker(new_client, after):
        await send_event(new_client, after, member_id, "purchase", amount=12.5)
        handle = new_client.get_workflow_handle(workflow_id, result_type=JourneyResult)
        result = await asyncio.wait_for(handle.result(), timeout=60)
    assert result.exit_reason == "exit_when: purchase"

    history = await history_of(raw_client, workflow_id)
    key_ids = {payload.metadata[KEY_ID_METADATA] for _, payload in data_payloads(history)}
    assert key_ids == {b"k1", b"k2"}
    k1_payloads = list(history.events[0].workflow_execution_started_event_attributes.input.payloads)
    assert k1_payloads[0].metadata[KEY_ID_METADATA] == b"k1"

    # Dropping the old key too early fails clearly, naming the missing key id.
    without_old = codec_from_settings(only_new)
    assert without_old is not None
    with pytest.raises(CodecError, match=r"key id 'k1', which is not in LOYALFLOW_CODEC_KEYS"):
        await without_old.decode(k1_payloads)
    async with serve_api(only_new) as api, httpx.AsyncClient() as http:
        response = await http.post(
            f"{api}/codec/decode", json=as_json(k1_payloads), headers=bearer(TOKEN)
        )
    assert response.status_code == 400
    assert "'k1'" in response.json()["detail"]


# --- With the codec off -------------------------------------------------------------------------


async def test_codec_off_keeps_payloads_plain(
    plain: Settings, raw_client: Client, member_id: str, workflow_id: str
) -> None:
    assert codec_from_settings(plain) is None
    assert data_converter(plain) is pydantic_data_converter

    async with journey_waiting(plain, member_id), serve_api(plain) as api:
        history = await history_of(raw_client, workflow_id)
        show = await workflow_show(plain, workflow_id)
        async with httpx.AsyncClient(base_url=f"{api}/codec") as http:
            off = await http.post("/decode", json={"payloads": []}, headers=bearer(TOKEN))

    payloads = data_payloads(history)
    assert payloads
    assert {p.metadata["encoding"] for _, p in payloads} <= {b"json/plain", b"binary/null"}
    assert not any(KEY_ID_METADATA in p.metadata for _, p in payloads)
    started = history.events[0].workflow_execution_started_event_attributes.input.payloads[0]
    assert member_id.encode() in started.data and EMAIL.encode() in started.data
    assert EMAIL in show  # what the codec is for: this is readable by anyone with access
    # The member's own new contact details (profile.updated) never reach Temporal, codec or not.
    assert NEW_EMAIL not in show and NEW_PHONE not in show
    assert NEW_EMAIL.encode() not in history.SerializeToString()
    assert off.status_code == 404
    assert "LOYALFLOW_CODEC_KEYS" in off.json()["detail"]


async def test_codec_endpoint_needs_a_token_configured(
    settings: Settings, dev_server_env: WorkflowEnvironment
) -> None:
    no_token = codec_settings(settings, dev_server_env, codec_keys=f"k1:{K1}")
    async with serve_api(no_token) as api, httpx.AsyncClient() as http:
        response = await http.post(
            f"{api}/codec/decode", json={"payloads": []}, headers=bearer("anything")
        )
    assert response.status_code == 503
    assert "LOYALFLOW_CODEC_TOKEN" in response.json()["detail"]


# --- The codec and its configuration ------------------------------------------------------------


async def test_payloads_that_do_not_decrypt_fail_clearly() -> None:
    keys = {"k1": base64.b64decode(K1)}
    codec = EncryptionCodec(keys, "k1")
    original = pydantic_data_converter.payload_converter.to_payloads([{"email": EMAIL}])
    [sealed] = await codec.encode(original)
    assert await codec.decode([sealed]) == original
    assert await codec.decode(original) == original  # written before the codec was on

    altered = Payload()
    altered.CopyFrom(sealed)
    altered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(CodecError, match="does not decrypt"):
        await codec.decode([altered])
    other_key = EncryptionCodec({"k1": base64.b64decode(K2)}, "k1")
    with pytest.raises(CodecError, match="not the one it was encrypted with"):
        await other_key.decode([sealed])


@pytest.mark.parametrize(
    ("keys", "key_id", "message"),
    [
        (
            f"k1:{base64.b64encode(b'x' * 20).decode()}",
            None,
            "is 20 bytes; AES-GCM keys are 16, 24 or 32",
        ),
        ("k1:not base64!", None, "key 'k1' is not valid base64"),
        (K1, None, "entry 1 is not `id:base64key`"),
        (f"k1:{K1},k1:{K2}", None, "key id 'k1' appears twice"),
        (f"k1:{K1}", "k2", "LOYALFLOW_CODEC_KEY_ID=k2 is not one of the key ids"),
        (None, "k1", "LOYALFLOW_CODEC_KEY_ID is set but LOYALFLOW_CODEC_KEYS is not"),
    ],
)
def test_bad_codec_configuration_is_refused_without_echoing_keys(
    monkeypatch: pytest.MonkeyPatch, keys: str | None, key_id: str | None, message: str
) -> None:
    if keys is not None:
        monkeypatch.setenv("LOYALFLOW_CODEC_KEYS", keys)
    if key_id is not None:
        monkeypatch.setenv("LOYALFLOW_CODEC_KEY_ID", key_id)
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    assert message in str(caught.value)
    for secret in (K1, K2, "not base64!"):
        assert secret not in str(caught.value)


def test_keys_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOYALFLOW_CODEC_KEYS", f" k2:{K2} , k1:{K1} ")
    monkeypatch.setenv(
        "LOYALFLOW_CODEC_CORS_ORIGINS", "https://temporal.example.com/, http://localhost:8080"
    )
    settings = Settings(_env_file=None)
    assert settings.codec_keyring == (
        "k2",
        {"k2": base64.b64decode(K2), "k1": base64.b64decode(K1)},
    )
    assert settings.effective_codec_cors_origins == [
        "https://temporal.example.com",
        "http://localhost:8080",
    ]
    monkeypatch.setenv("LOYALFLOW_CODEC_KEY_ID", "k1")
    assert Settings(_env_file=None).codec_keyring == (
        "k1",
        {"k2": base64.b64decode(K2), "k1": base64.b64decode(K1)},
    )

    monkeypatch.setenv("LOYALFLOW_CODEC_KEYS", "")
    monkeypatch.delenv("LOYALFLOW_CODEC_KEY_ID")
    monkeypatch.delenv("LOYALFLOW_CODEC_CORS_ORIGINS")
    off = Settings(_env_file=None)
    assert off.codec_keyring is None and codec_from_settings(off) is None
    assert off.effective_codec_cors_origins == ["http://localhost:8233", "http://127.0.0.1:8233"]
