"""A local stand-in for HashiCorp Vault's transit secrets engine, over real HTTP.

The bot talks to Vault through the real ``hvac`` client; this server answers the transit
endpoints hvac calls for it, on 127.0.0.1, so tests exercise hvac's request encoding,
headers and error mapping exactly as production does, with no Vault binary or network.

What it copies from Vault (https://developer.hashicorp.com/vault/api-docs/secret/transit
and the transit backend's source):

* ``/v1/<mount>/keys/:name`` (GET read, POST create, DELETE, LIST on ``keys``),
  ``keys/:name/config``, ``keys/:name/rotate``, ``keys/:name/trim``, ``encrypt/:name``
  (including the upsert of a missing key a root token gets), ``decrypt/:name`` and
  ``rewrap/:name``, single and ``batch_input`` forms with ``reference`` echoed back.
* The response envelope (``request_id``, ``data``, ``warnings``, ...) and errors as
  ``{"errors": [...]}`` with Vault's status codes and texts; ``Content-Type`` is exactly
  ``application/json``, which hvac needs to read the errors.
* Every request must carry the ``X-Vault-Token`` header: a missing or wrong token gets 403
  ``permission denied`` / ``invalid token``, as Vault answers.
* Versioned keys: ciphertext is ``vault:v<N>:`` + base64(12-byte nonce + AES-GCM
  ciphertext and tag) under version N, real AES-256-GCM (or AES-128-GCM); ``rotate`` adds
  a version, ``min_decryption_version`` refuses older ciphertext ("too old"),
  ``min_encryption_version`` and ``trim`` follow Vault's rules, and trimmed versions are
  deleted for good.

Not copied: key derivation and convergent encryption (refused with a clear error),
asymmetric keys, signing, HMAC, export, backup; policies other than "this token may do
everything".
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final

from aiohttp import web
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

JSONDict = dict[str, Any]

NONCE_BYTES: Final = 12
KEY_TYPES: Final = {"aes256-gcm96": 32, "aes128-gcm96": 16}
TOO_OLD: Final = "ciphertext or signature version is disallowed by policy (too old)"
# Vault 1.15+ reports a bad token as one multi-error string.
BAD_TOKEN: Final = "2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"


class VaultResponse(Exception):
    """Ends a request with this status and ``{"errors": [message]}`` (or a given body)."""

    def __init__(self, status: int, message: str | None = None, body: JSONDict | None = None):
        super().__init__(message or "")
        self.status = status
        self.message = message
        self.body = body


def _bad(message: str) -> VaultResponse:
    return VaultResponse(400, message)


@dataclass
class TransitKey:
    """One named key: its versions (key material) and the version rules Vault applies."""

    name: str
    type: str = "aes256-gcm96"
    versions: dict[int, bytes] = field(default_factory=dict)
    created: dict[int, int] = field(default_factory=dict)
    latest_version: int = 0
    min_decryption_version: int = 1
    min_encryption_version: int = 0
    min_available_version: int = 0
    deletion_allowed: bool = False
    exportable: bool = False
    allow_plaintext_backup: bool = False
    auto_rotate_period: int = 0

    def rotate(self) -> int:
        self.latest_version += 1
        self.versions[self.latest_version] = secrets.token_bytes(KEY_TYPES[self.type])
        self.created[self.latest_version] = int(time.time())
        return self.latest_version

    def policy(self) -> JSONDict:
        """Vault's ``formatKeyPolicy``: versions and rules, never key material."""
        return {
            "name": self.name,
            "type": self.type,
            "derived": False,
            "deletion_allowed": self.deletion_allowed,
            "min_available_version": self.min_available_version,
            "min_decryption_version": self.min_decryption_version,
            "min_encryption_version": self.min_encryption_version,
            "latest_version": self.latest_version,
            "exportable": self.exportable,
            "allow_plaintext_backup": self.allow_plaintext_backup,
            "supports_encryption": True,
            "supports_decryption": True,
            "supports_signing": False,
            "supports_derivation": True,
            "auto_rotate_period": self.auto_rotate_period,
            "imported_key": False,
            "keys": {str(version): self.created[version] for version in sorted(self.versions)},
        }

    # -- the cipher ------------------------------------------------------------------------

    def encrypt(self, plaintext: bytes, key_version: int, associated_data: bytes | None) -> str:
        version = key_version or self.latest_version
        if version < self.min_encryption_version:
            raise ValueError(
                "requested version for encryption is less than the minimum encryption key version"
            )
        if version > self.latest_version:
            raise ValueError(
                "requested version for encryption is higher than the latest key version"
            )
        if version not in self.versions:
            raise ValueError("invalid key version")
        nonce = secrets.token_bytes(NONCE_BYTES)
        body = AESGCM(self.versions[version]).encrypt(nonce, plaintext, associated_data)
        return f"vault:v{version}:" + base64.b64encode(nonce + body).decode("ascii")

    def decrypt(self, ciphertext: str, associated_data: bytes | None) -> bytes:
        if not ciphertext.startswith("vault:"):
            raise ValueError("invalid ciphertext: no prefix")
        fields = ciphertext[len("vault:") :].split(":", 1)
        if len(fields) != 2 or not fields[0].startswith("v"):
            raise ValueError("invalid ciphertext: wrong number of fields")
        try:
            version = int(fields[0][1:])
        except ValueError:
            raise ValueError("invalid ciphertext: version number could not be decoded") from None
        version = version or 1  # Vault reads v0 as v1 (keys once started at zero)
        if version > self.latest_version:
            raise ValueError("invalid ciphertext: version is too new")
        if self.min_decryption_version > 0 and version < self.min_decryption_version:
            raise ValueError(TOO_OLD)
        try:
            raw = base64.b64decode(fields[1], validate=True)
        except binascii.Error:
            raise ValueError("invalid ciphertext: could not decode base64") from None
        key = self.versions.get(version)
        if key is None:
            raise ValueError("invalid key version")
        if len(raw) < NONCE_BYTES + 16:
            raise ValueError("invalid ciphertext length")
        try:
            return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated_data)
        except InvalidTag:
            raise ValueError("cipher: message authentication failed") from None


def _int_field(body: Mapping[str, Any], name: str) -> int | None:
    """A Vault TypeInt: a JSON number or a string of digits."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        raise _bad(f"error converting input for field {name!r}: expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise _bad(f"error converting input for field {name!r}: expected an integer")


def _bool_field(body: Mapping[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false", "1", "0"}:
        return value.lower() in {"true", "1"}
    raise _bad(f"error converting input for field {name!r}: expected a boolean")


def _b64_field(value: Any, what: str) -> bytes | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError(f"'{what}' expected type 'string'")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise ValueError(f"failed to base64-decode {what}") from None


class VaultTransitStandIn:
    """Vault's transit engine on 127.0.0.1, for tests and local runs.

    ``token`` is the one token accepted (a fresh random one by default); ``mounts`` are the
    paths the engine is enabled at. ``requests`` counts ``"METHOD path"`` strings so tests
    can see which endpoints were used. Stopping and starting again keeps the keys and the
    port: a test can take Vault away and bring it back.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        mounts: tuple[str, ...] = ("transit",),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token or "hvs." + secrets.token_urlsafe(24)
        self.host = host
        self.port = port
        self.keys: dict[str, dict[str, TransitKey]] = {mount.strip("/"): {} for mount in mounts}
        self.requests: Counter[str] = Counter()
        self.refused_tokens = 0
        self._runner: web.AppRunner | None = None

    def __repr__(self) -> str:
        return f"VaultTransitStandIn(port={self.port}, mounts={sorted(self.keys)})"

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("stand-in already started")
        app = web.Application()
        app.router.add_route("*", "/v1/{path:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> VaultTransitStandIn:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("stand-in not started; await start() first")
        return f"http://{self.host}:{self.port}"

    # -- conveniences for tests (what an operator would do with the vault CLI) --------------

    def create_key(self, name: str, mount: str = "transit", key_type: str = "aes256-gcm96") -> None:
        """``vault write -f <mount>/keys/<name>``."""
        key = TransitKey(name=name, type=key_type)
        key.rotate()
        self.keys[mount][name] = key

    def key(self, name: str, mount: str = "transit") -> TransitKey:
        return self.keys[mount][name]

    # -- HTTP ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.match_info["path"].strip("/")
        method = request.method.upper()
        if method == "GET" and request.query.get("list") == "true":
            method = "LIST"
        self.requests[f"{method} {path}"] += 1
        try:
            supplied = request.headers.get("X-Vault-Token", "")
            if not hmac.compare_digest(supplied.encode(), self.token.encode()):
                self.refused_tokens += 1
                raise VaultResponse(403, BAD_TOKEN)
            body: JSONDict = {}
            if method in {"POST", "PUT"}:
                raw = await request.read()
                if raw.strip():
                    try:
                        loaded = json.loads(raw)
                    except json.JSONDecodeError as error:
                        raise _bad(f"failed to parse JSON input: {error}") from None
                    if not isinstance(loaded, dict):
                        raise _bad("failed to parse JSON input: not a JSON object")
                    body = loaded
            return self._route(method, path, body)
        except VaultResponse as answer:
            if answer.body is not None:
                return self._json(answer.status, answer.body)
            errors = [answer.message] if answer.message else []
            return self._json(answer.status, {"errors": errors})

    @staticmethod
    def _json(status: int, body: JSONDict) -> web.Response:
        # Exactly "application/json": hvac reads Vault's errors only with that header.
        return web.Response(
            status=status,
            body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Cache-Control": "no-store"},
        )

    @staticmethod
    def _envelope(data: JSONDict | None, warnings: list[str] | None = None) -> JSONDict:
        return {
            "request_id": str(uuid.uuid4()),
            "lease_id": "",
            "renewable": False,
            "lease_duration": 0,
            "data": data,
            "wrap_info": None,
            "warnings": warnings or None,
            "auth": None,
            "mount_type": "transit",
        }

    def _ok(self, data: JSONDict | None, warnings: list[str] | None = None) -> web.Response:
        return self._json(200, self._envelope(data, warnings))

    def _route(self, method: str, path: str, body: JSONDict) -> web.Response:
        mount = max(
            (m for m in self.keys if path == m or path.startswith(m + "/")), key=len, default=None
        )
        if mount is None:
            raise VaultResponse(404, f'no handler for route "{path}". route entry not found.')
        keys = self.keys[mount]
        parts = path[len(mount) :].strip("/").split("/")
        match method, parts:
            case "LIST", ["keys"]:
                if not keys:
                    raise VaultResponse(404)
                return self._ok({"keys": sorted(keys)})
            case "GET", ["keys", name]:
                if name not in keys:
                    raise VaultResponse(404)
                return self._ok(keys[name].policy())
            case "POST" | "PUT", ["keys", name]:
                return self._create(keys, name, body)
            case "DELETE", ["keys", name]:
                return self._delete(keys, name)
            case "POST" | "PUT", ["keys", name, "config"]:
                return self._config(keys, name, body)
            case "POST" | "PUT", ["keys", name, "rotate"]:
                if name not in keys:
                    raise _bad("key not found")
                keys[name].rotate()
                return self._ok(keys[name].policy())
            case "POST" | "PUT", ["keys", name, "trim"]:
                return self._trim(keys, name, body)
            case "POST" | "PUT", ["encrypt", name]:
                return self._encrypt(keys, name, body)
            case "POST" | "PUT", ["decrypt", name]:
                return self._decrypt(keys, name, body)
            case "POST" | "PUT", ["rewrap", name]:
                return self._rewrap(keys, name, body)
            case _, ["keys" | "encrypt" | "decrypt" | "rewrap", *_]:
                raise VaultResponse(405, "unsupported operation")
        raise VaultResponse(404, "unsupported path")

    # -- keys --------------------------------------------------------------------------------

    def _new_key(self, name: str, body: Mapping[str, Any]) -> TransitKey:
        if _bool_field(body, "derived") or _bool_field(body, "convergent_encryption"):
            raise _bad("key derivation is not implemented by the stand-in")
        key_type = body.get("type") or "aes256-gcm96"
        if key_type not in KEY_TYPES:
            raise _bad(f"unknown key type: {key_type}")
        key = TransitKey(name=name, type=str(key_type))
        key.exportable = bool(_bool_field(body, "exportable"))
        key.allow_plaintext_backup = bool(_bool_field(body, "allow_plaintext_backup"))
        key.rotate()
        return key

    def _create(self, keys: dict[str, TransitKey], name: str, body: JSONDict) -> web.Response:
        if name in keys:
            return self._ok(keys[name].policy(), [f"key {name} already existed"])
        keys[name] = self._new_key(name, body)
        return self._ok(keys[name].policy())

    def _delete(self, keys: dict[str, TransitKey], name: str) -> web.Response:
        key = keys.get(name)
        if key is None:
            raise _bad(f"error deleting policy {name}: could not delete key; not found")
        if not key.deletion_allowed:
            raise _bad(f"error deleting policy {name}: deletion is not allowed for this key")
        del keys[name]
        return web.Response(status=204)

    def _config(self, keys: dict[str, TransitKey], name: str, body: JSONDict) -> web.Response:
        key = keys.get(name)
        if key is None:
            raise _bad(f"no existing key named {name} could be found")
        min_dec = _int_field(body, "min_decryption_version")
        min_enc = _int_field(body, "min_encryption_version")
        deletion_allowed = _bool_field(body, "deletion_allowed")
        rotate_period = _int_field(body, "auto_rotate_period")
        warnings: list[str] = []
        new_dec, new_enc = key.min_decryption_version, key.min_encryption_version
        if min_dec is not None:
            if min_dec < 0:
                raise _bad("min decryption version cannot be negative")
            if min_dec == 0:
                min_dec = 1
                warnings.append(
                    "since Vault 0.3, transit key numbering starts at 1; forcing minimum to 1"
                )
            if min_dec != new_dec and min_dec > key.latest_version:
                raise _bad(
                    f"cannot set min decryption version of {min_dec}, latest key version is "
                    f"{key.latest_version}"
                )
            new_dec = min_dec
        if min_enc is not None:
            if min_enc < 0:
                raise _bad("min encryption version cannot be negative")
            if min_enc != new_enc and min_enc > key.latest_version:
                raise _bad(
                    f"cannot set min encryption version of {min_enc}, latest key version is "
                    f"{key.latest_version}"
                )
            new_enc = min_enc
        if new_enc > 0 and new_enc < new_dec:
            raise _bad(
                f"cannot set min encryption/decryption values; min encryption version of "
                f"{new_enc} must be greater than or equal to min decryption version of {new_dec}"
            )
        if rotate_period is not None and rotate_period != 0 and rotate_period < 3600:
            raise _bad("auto rotate period must be 0 to disable or at least an hour")
        if (new_dec, new_enc) != (key.min_decryption_version, key.min_encryption_version):
            if key.min_available_version > new_enc:
                raise _bad("min encryption version should not be less than min available version")
            if key.min_available_version > new_dec:
                raise _bad("min decryption version should not be less then min available version")
        key.min_decryption_version, key.min_encryption_version = new_dec, new_enc
        if deletion_allowed is not None:
            key.deletion_allowed = deletion_allowed
        if _bool_field(body, "exportable"):
            key.exportable = True
        if _bool_field(body, "allow_plaintext_backup"):
            key.allow_plaintext_backup = True
        if rotate_period is not None:
            key.auto_rotate_period = rotate_period
        return self._ok(key.policy(), warnings)

    def _trim(self, keys: dict[str, TransitKey], name: str, body: JSONDict) -> web.Response:
        key = keys.get(name)
        if key is None:
            raise _bad("invalid key name")
        wanted = _int_field(body, "min_available_version")
        if wanted is None:
            raise _bad("missing min_available_version")
        if wanted < key.min_available_version:
            raise _bad("minimum available version cannot be decremented")
        if key.min_encryption_version == 0:
            raise _bad(
                "minimum available version cannot be set when minimum encryption version is not set"
            )
        if key.min_decryption_version == 0:
            raise _bad(
                "minimum available version cannot be set when minimum decryption version is not set"
            )
        if wanted > key.min_encryption_version:
            raise _bad("minimum available version cannot be greater than minmum encryption version")
        if wanted > key.min_decryption_version:
            raise _bad(
                "minimum available version cannot be greater than minimum decryption version"
            )
        if wanted == 0:
            raise _bad("minimum available version should be positive")
        key.min_available_version = wanted
        for version in [v for v in key.versions if v < wanted]:
            # Trimmed versions are gone for good: nothing can decrypt under them again.
            del key.versions[version]
            del key.created[version]
        return self._ok(key.policy())

    # -- encrypt, decrypt, rewrap ------------------------------------------------------------

    @staticmethod
    def _items(
        body: JSONDict, single: tuple[str, ...], missing: str
    ) -> tuple[list[JSONDict], bool]:
        batch = body.get("batch_input")
        if batch is not None:
            if not isinstance(batch, list) or not all(isinstance(i, dict) for i in batch):
                raise VaultResponse(500, "failed to parse batch input: expected a list of maps")
            if not batch:
                raise _bad("missing batch input to process")
            return batch, True
        if body.get(single[0]) in (None, ""):
            raise _bad(missing)
        return [{name: body.get(name) for name in single}], False

    @staticmethod
    def _refuse_context(items: list[JSONDict]) -> None:
        if any(item.get("context") for item in items):
            raise _bad("key derivation is not implemented by the stand-in")

    def _answer(
        self,
        results: list[JSONDict],
        batched: bool,
        items: list[JSONDict],
        *,
        status_on_error: bool,
    ) -> web.Response:
        if batched:
            for result, item in zip(results, items, strict=True):
                result["reference"] = str(item.get("reference") or "")
            body = self._envelope({"batch_results": results})
            failed = any("error" in result for result in results)
            return self._json(400 if failed and status_on_error else 200, body)
        (result,) = results
        if "error" in result:
            raise _bad(str(result["error"]))
        return self._ok(result)

    def _each_item(
        self,
        body: JSONDict,
        fields: tuple[str, ...],
        missing: str,
        key_for: Callable[[], TransitKey],
        work: Callable[[TransitKey, JSONDict], JSONDict],
        *,
        status_on_error: bool,
    ) -> web.Response:
        """One request's items (a batch, or the single one in the body), each worked on its
        own after the body and then the key are checked: an item that fails carries its error,
        as Vault's batch results do."""
        items, batched = self._items(body, fields, missing)
        self._refuse_context(items)
        key = key_for()
        results: list[JSONDict] = []
        for item in items:
            try:
                results.append(work(key, item))
            except (ValueError, VaultResponse) as error:
                results.append({"error": str(error)})
        return self._answer(results, batched, items, status_on_error=status_on_error)

    @staticmethod
    def _existing(keys: dict[str, TransitKey], name: str) -> Callable[[], TransitKey]:
        def find() -> TransitKey:
            key = keys.get(name)
            if key is None:
                raise _bad("encryption key not found")
            return key

        return find

    def _encrypt(self, keys: dict[str, TransitKey], name: str, body: JSONDict) -> web.Response:
        def upsert() -> TransitKey:
            if name not in keys:  # a root token may create the key by encrypting
                keys[name] = self._new_key(name, body)
            return keys[name]

        def encrypt(key: TransitKey, item: JSONDict) -> JSONDict:
            plaintext = _b64_field(item.get("plaintext"), "plaintext") or b""
            aad = _b64_field(item.get("associated_data"), "associated data")
            version = _int_field(item, "key_version") or 0
            ciphertext = key.encrypt(plaintext, version, aad)
            return {"ciphertext": ciphertext, "key_version": version or key.latest_version}

        fields = ("plaintext", "key_version", "associated_data")
        return self._each_item(
            body, fields, "missing plaintext to encrypt", upsert, encrypt, status_on_error=True
        )

    def _decrypt(self, keys: dict[str, TransitKey], name: str, body: JSONDict) -> web.Response:
        def decrypt(key: TransitKey, item: JSONDict) -> JSONDict:
            aad = _b64_field(item.get("associated_data"), "associated data")
            plaintext = key.decrypt(str(item.get("ciphertext") or ""), aad)
            return {"plaintext": base64.b64encode(plaintext).decode("ascii")}

        return self._each_item(
            body,
            ("ciphertext", "associated_data"),
            "missing ciphertext to decrypt",
            self._existing(keys, name),
            decrypt,
            status_on_error=True,
        )

    def _rewrap(self, keys: dict[str, TransitKey], name: str, body: JSONDict) -> web.Response:
        def rewrap(key: TransitKey, item: JSONDict) -> JSONDict:
            if not item.get("ciphertext"):
                raise ValueError("missing ciphertext to decrypt")
            plaintext = key.decrypt(str(item["ciphertext"]), None)
            version = _int_field(item, "key_version") or 0
            ciphertext = key.encrypt(plaintext, version, None)
            return {"ciphertext": ciphertext, "key_version": version or key.latest_version}

        # Vault answers a rewrap batch 200 whatever failed inside it: callers must look.
        return self._each_item(
            body,
            ("ciphertext", "key_version"),
            "missing ciphertext to decrypt",
            self._existing(keys, name),
            rewrap,
            status_on_error=False,
        )
