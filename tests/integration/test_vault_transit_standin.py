"""The Vault transit stand-in answers hvac the way Vault does.

These pin the behaviour the key source and rotation rely on: the ``vault:vN:`` format,
versions and their minimums, trim, batch answers, errors and the token check. Each call
goes through the real hvac client in a worker thread (the stand-in shares the loop).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import aiohttp
import hvac  # type: ignore[import-untyped]
import pytest
from hvac import exceptions

from tests.support.vault_transit import TOO_OLD, VaultTransitStandIn

T = TypeVar("T")


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


@pytest.fixture
async def server() -> AsyncIterator[VaultTransitStandIn]:
    async with VaultTransitStandIn() as standin:
        yield standin


@pytest.fixture
def client(server: VaultTransitStandIn) -> Any:
    return hvac.Client(url=server.url, token=server.token)


async def call(action: Callable[[], T]) -> T:
    return await asyncio.to_thread(action)


async def test_encrypt_decrypt_and_the_ciphertext_format(client: Any) -> None:
    transit = client.secrets.transit
    # A root token creates a missing key by encrypting with it (upsert), as Vault does.
    answer = await call(lambda: transit.encrypt_data(name="k", plaintext=b64(b"secret")))
    data = answer["data"]
    assert data["key_version"] == 1 and data["ciphertext"].startswith("vault:v1:")
    raw = base64.b64decode(data["ciphertext"].split(":", 2)[2])
    assert len(raw) == 12 + len(b"secret") + 16  # nonce, ciphertext, GCM tag
    assert b"secret" not in raw
    opened = await call(lambda: transit.decrypt_data(name="k", ciphertext=data["ciphertext"]))
    assert base64.b64decode(opened["data"]["plaintext"]) == b"secret"
    assert set(answer) >= {"request_id", "lease_id", "data", "warnings", "wrap_info", "auth"}

    tampered = data["ciphertext"][:-6] + (
        "AAAAA=" if not data["ciphertext"].endswith("AAAAA=") else "BBBBB="
    )
    with pytest.raises(exceptions.InvalidRequest, match="message authentication failed"):
        await call(lambda: transit.decrypt_data(name="k", ciphertext=tampered))
    with pytest.raises(exceptions.InvalidRequest, match="invalid ciphertext: no prefix"):
        await call(lambda: transit.decrypt_data(name="k", ciphertext="v1:abc"))
    with pytest.raises(exceptions.InvalidRequest, match="encryption key not found"):
        await call(lambda: transit.decrypt_data(name="nope", ciphertext=data["ciphertext"]))


async def test_associated_data_must_match(client: Any) -> None:
    transit = client.secrets.transit
    sealed = await call(
        lambda: transit.encrypt_data(name="k", plaintext=b64(b"x"), associated_data=b64(b"row-1"))
    )
    ciphertext = sealed["data"]["ciphertext"]
    with pytest.raises(exceptions.InvalidRequest, match="message authentication failed"):
        await call(
            lambda: transit.decrypt_data(
                name="k", ciphertext=ciphertext, associated_data=b64(b"row-2")
            )
        )


async def test_versions_rotate_rewrap_minimums_and_trim(
    client: Any, server: VaultTransitStandIn
) -> None:
    transit = client.secrets.transit
    server.create_key("k")
    old = (await call(lambda: transit.encrypt_data(name="k", plaintext=b64(b"a"))))["data"]
    rotated = await call(lambda: transit.rotate_key(name="k"))
    assert rotated["data"]["latest_version"] == 2 and sorted(rotated["data"]["keys"]) == ["1", "2"]
    new = (await call(lambda: transit.encrypt_data(name="k", plaintext=b64(b"b"))))["data"]
    assert new["ciphertext"].startswith("vault:v2:") and new["key_version"] == 2

    batch = [
        {"ciphertext": old["ciphertext"], "reference": "row-1"},
        {"ciphertext": "vault:v9:AAAA", "reference": "row-2"},
    ]
    answer = await call(lambda: transit.rewrap_data(name="k", ciphertext=None, batch_input=batch))
    first, second = answer["data"]["batch_results"]  # 200 even with a failed item
    assert first["reference"] == "row-1" and first["ciphertext"].startswith("vault:v2:")
    assert second == {"error": "invalid ciphertext: version is too new", "reference": "row-2"}

    # hvac will not send both minimums when equal, although Vault accepts that.
    with pytest.raises(exceptions.ParamValidationError):
        await call(
            lambda: transit.update_key_configuration(
                name="k", min_decryption_version=2, min_encryption_version=2
            )
        )
    with pytest.raises(exceptions.InvalidRequest, match="minimum encryption version is not set"):
        await call(lambda: transit.trim_key(name="k", min_version=2))
    await call(lambda: transit.update_key_configuration(name="k", min_decryption_version=2))
    with pytest.raises(exceptions.InvalidRequest) as too_old:
        await call(lambda: transit.decrypt_data(name="k", ciphertext=old["ciphertext"]))
    assert too_old.value.errors == [TOO_OLD]
    # The minimum decryption version alone is only a policy: lowering it brings v1 back.
    await call(lambda: transit.update_key_configuration(name="k", min_decryption_version=1))
    await call(lambda: transit.decrypt_data(name="k", ciphertext=old["ciphertext"]))

    await call(lambda: transit.update_key_configuration(name="k", min_encryption_version=2))
    await call(lambda: transit.update_key_configuration(name="k", min_decryption_version=2))
    trimmed = await call(lambda: transit.trim_key(name="k", min_version=2))
    assert (
        sorted(trimmed["data"]["keys"]) == ["2"] and trimmed["data"]["min_available_version"] == 2
    )
    # Trimming is final: the floor cannot go below it again, and v1 is gone.
    with pytest.raises(exceptions.InvalidRequest, match="less then min available version"):
        await call(lambda: transit.update_key_configuration(name="k", min_decryption_version=1))
    assert 1 not in server.key("k").versions


async def test_reading_keys_and_missing_paths(client: Any, server: VaultTransitStandIn) -> None:
    transit = client.secrets.transit
    with pytest.raises(exceptions.InvalidPath) as missing:
        await call(lambda: transit.read_key(name="nope"))
    assert missing.value.errors == []  # Vault answers a missing key with 404 and no text
    server.create_key("k")
    data = (await call(lambda: transit.read_key(name="k")))["data"]
    assert data["type"] == "aes256-gcm96" and data["latest_version"] == 1
    assert data["min_decryption_version"] == 1 and data["min_encryption_version"] == 0
    listed = await call(
        lambda: hvac.Client(
            url=server.url, token=server.token, strict_http=True
        ).secrets.transit.list_keys()
    )
    assert listed["data"]["keys"] == ["k"]
    with pytest.raises(exceptions.InvalidPath, match="no handler for route"):
        await call(lambda: transit.read_key(name="k", mount_point="elsewhere"))
    with pytest.raises(exceptions.InvalidRequest, match="deletion is not allowed"):
        await call(lambda: transit.delete_key(name="k"))


async def test_a_missing_or_wrong_token_is_refused(server: VaultTransitStandIn) -> None:
    server.create_key("k")
    for token in ("hvs.wrong", ""):
        client = hvac.Client(url=server.url, token=token or None)
        client.token = token  # no fall-back to VAULT_TOKEN or ~/.vault-token
        with pytest.raises(exceptions.Forbidden) as refused:
            await call(lambda c=client: c.secrets.transit.encrypt_data(name="k", plaintext="eA=="))
        assert "permission denied" in refused.value.errors[0]
    assert server.refused_tokens == 2
    assert server.key("k").latest_version == 1

    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.url}/v1/transit/keys/k") as response,
    ):
        assert response.status == 403
        # Exactly this header, or hvac cannot read Vault's error list.
        assert response.headers["Content-Type"] == "application/json"
