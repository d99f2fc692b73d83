"""Envelope encryption: what must hold for sealed fields, wrapped data keys and blind indexes."""

from __future__ import annotations

import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.crypto import (
    CryptoError,
    FieldContext,
    KeyEncryptionKey,
    KeyRing,
    KeySource,
    area_blind_index,
    area_blind_index_key,
    blind_index,
    new_data_key,
    normalise_identifier,
    open_sealed,
    seal,
)

CONTEXT = FieldContext("cases", "victim_name", 42)


def make_ring(*key_ids: str, active: str | None = None, blind: bytes | None = None) -> KeyRing:
    keks = [KeyEncryptionKey(key_id, secrets.token_bytes(32)) for key_id in key_ids]
    return KeyRing(keks, active or key_ids[-1], blind or secrets.token_bytes(32))


@pytest.fixture
def data_key() -> bytes:
    return new_data_key()


@pytest.fixture
def ring() -> KeyRing:
    return make_ring("kek-1")


# --- seal / open_sealed ---------------------------------------------------------------


@pytest.mark.parametrize(
    "plaintext",
    [
        "Jane Smith",
        "",
        "Zoë O'Neil — 12 Rue de l'Église, Kraków, 東京, 🙂",
        "x" * 100_000,
        "line one\nline two\ttabbed\x00nul",
    ],
    ids=["ascii", "empty", "non-ascii", "long", "control-chars"],
)
def test_seal_then_open_returns_the_original_text(data_key: bytes, plaintext: str) -> None:
    sealed = seal(data_key, plaintext, CONTEXT)
    assert open_sealed(data_key, sealed, CONTEXT) == plaintext


def test_sealed_value_does_not_contain_the_plaintext(data_key: bytes) -> None:
    plaintext = "Jane Smith lives at 1 Acacia Avenue"
    sealed = seal(data_key, plaintext, CONTEXT)
    assert plaintext.encode() not in sealed
    assert b"Jane" not in sealed


def test_sealing_the_same_text_twice_gives_different_ciphertexts(data_key: bytes) -> None:
    # A fresh nonce each time: equal values must not be recognisable as equal in the database.
    first = seal(data_key, "same", CONTEXT)
    second = seal(data_key, "same", CONTEXT)
    assert first != second
    assert open_sealed(data_key, first, CONTEXT) == open_sealed(data_key, second, CONTEXT)


def test_tampering_any_byte_of_a_sealed_value_is_detected(data_key: bytes) -> None:
    sealed = seal(data_key, "Jane Smith", CONTEXT)
    for index in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[index] ^= 0x01
        with pytest.raises(CryptoError):
            open_sealed(data_key, bytes(tampered), CONTEXT)


@pytest.mark.parametrize("length", [0, 1, 12, 13, 28])
def test_truncated_sealed_value_is_refused(data_key: bytes, length: int) -> None:
    sealed = seal(data_key, "Jane Smith", CONTEXT)
    with pytest.raises(CryptoError):
        open_sealed(data_key, sealed[:length], CONTEXT)


def test_appending_bytes_to_a_sealed_value_is_detected(data_key: bytes) -> None:
    sealed = seal(data_key, "Jane Smith", CONTEXT)
    with pytest.raises(CryptoError):
        open_sealed(data_key, sealed + b"\x00", CONTEXT)


@pytest.mark.parametrize(
    "elsewhere",
    [
        FieldContext("cases", "victim_name", 43),
        FieldContext("cases", "perpetrator_name", 42),
        FieldContext("referrals", "victim_name", 42),
    ],
    ids=["other-row", "other-column", "other-table"],
)
def test_ciphertext_moved_elsewhere_fails_to_open(data_key: bytes, elsewhere: FieldContext) -> None:
    sealed = seal(data_key, "Jane Smith", CONTEXT)
    with pytest.raises(CryptoError):
        open_sealed(data_key, sealed, elsewhere)


def test_wrong_data_key_fails_to_open(data_key: bytes) -> None:
    sealed = seal(data_key, "Jane Smith", CONTEXT)
    with pytest.raises(CryptoError):
        open_sealed(new_data_key(), sealed, CONTEXT)


def test_crypto_error_messages_never_contain_the_plaintext(data_key: bytes) -> None:
    plaintext = "Jane-Secret-Smith"
    sealed = seal(data_key, plaintext, CONTEXT)
    attempts = [
        lambda: open_sealed(new_data_key(), sealed, CONTEXT),
        lambda: open_sealed(data_key, sealed, FieldContext("cases", "victim_name", 7)),
        lambda: open_sealed(data_key, sealed[:-1] + bytes([sealed[-1] ^ 1]), CONTEXT),
        lambda: open_sealed(data_key, b"\x02" + sealed[1:], CONTEXT),
    ]
    for attempt in attempts:
        with pytest.raises(CryptoError) as caught:
            attempt()
        rendered = str(caught.value) + repr(caught.value)
        assert plaintext not in rendered
        assert "Secret" not in rendered
        # It names where the value belongs so an operator can find it.
        assert "cases.victim_name" in str(caught.value)


@settings(max_examples=150, deadline=None)
@given(plaintext=st.text(), row_id=st.one_of(st.integers(), st.text(max_size=20)))
def test_property_seal_open_round_trip(plaintext: str, row_id: int | str) -> None:
    key = new_data_key()
    context = FieldContext("cases", "notes", row_id)
    assert open_sealed(key, seal(key, plaintext, context), context) == plaintext


# --- key-encryption keys and the key ring ----------------------------------------------


def test_wrap_then_unwrap_returns_the_data_key(ring: KeyRing, data_key: bytes) -> None:
    key_id, wrapped = ring.wrap(data_key, "dk-1")
    assert key_id == "kek-1"
    assert data_key not in wrapped
    assert ring.unwrap(key_id, wrapped, "dk-1") == data_key


def test_unwrap_with_unknown_key_id_fails(ring: KeyRing, data_key: bytes) -> None:
    _, wrapped = ring.wrap(data_key, "dk-1")
    with pytest.raises(CryptoError, match="unknown key"):
        ring.unwrap("kek-missing", wrapped, "dk-1")


def test_unwrap_with_a_different_kek_of_the_same_id_fails(data_key: bytes) -> None:
    key_id, wrapped = make_ring("kek-1").wrap(data_key, "dk-1")
    with pytest.raises(CryptoError):
        make_ring("kek-1").unwrap(key_id, wrapped, "dk-1")


def test_rotated_ring_unwraps_old_keys_and_wraps_new_ones_under_the_active_kek(
    data_key: bytes,
) -> None:
    old = KeyEncryptionKey("kek-old", secrets.token_bytes(32))
    new = KeyEncryptionKey("kek-new", secrets.token_bytes(32))
    blind = secrets.token_bytes(32)
    before = KeyRing([old], "kek-old", blind)
    old_id, old_wrapped = before.wrap(data_key, "dk-1")

    after = KeyRing([old, new], "kek-new", blind)
    assert after.active_key_id == "kek-new"
    assert sorted(after.key_ids) == ["kek-new", "kek-old"]
    assert after.unwrap(old_id, old_wrapped, "dk-1") == data_key

    new_id, new_wrapped = after.wrap(data_key, "dk-1")
    assert new_id == "kek-new"
    assert after.unwrap(new_id, new_wrapped, "dk-1") == data_key
    # The old ring cannot read what only the new KEK wrapped.
    with pytest.raises(CryptoError):
        before.unwrap(new_id, new_wrapped, "dk-1")
    # And the wrapped bytes really depend on the KEK: claiming the old id fails.
    with pytest.raises(CryptoError):
        after.unwrap("kek-old", new_wrapped, "dk-1")


def test_data_key_wrapped_for_one_id_cannot_be_unwrapped_as_another(
    ring: KeyRing, data_key: bytes
) -> None:
    key_id, wrapped = ring.wrap(data_key, "dk-1")
    with pytest.raises(CryptoError):
        ring.unwrap(key_id, wrapped, "dk-2")


@pytest.mark.parametrize("index", [1, 12, 13, -1])
def test_tampered_wrapped_key_is_refused(ring: KeyRing, data_key: bytes, index: int) -> None:
    key_id, wrapped = ring.wrap(data_key, "dk-1")
    tampered = bytearray(wrapped)
    tampered[index] ^= 0x01
    with pytest.raises(CryptoError):
        ring.unwrap(key_id, bytes(tampered), "dk-1")


@pytest.mark.parametrize("length", [0, 5])
def test_truncated_wrapped_key_raises_crypto_error(
    ring: KeyRing, data_key: bytes, length: int
) -> None:
    key_id, wrapped = ring.wrap(data_key, "dk-1")
    with pytest.raises(CryptoError):
        ring.unwrap(key_id, wrapped[:length], "dk-1")


def test_wrapped_key_with_wrong_version_byte_is_refused(ring: KeyRing, data_key: bytes) -> None:
    key_id, wrapped = ring.wrap(data_key, "dk-1")
    with pytest.raises(CryptoError):
        ring.unwrap(key_id, bytes([9]) + wrapped[1:], "dk-1")


def test_unwrap_error_does_not_contain_key_material(ring: KeyRing, data_key: bytes) -> None:
    key_id, wrapped = ring.wrap(data_key, "dk-1")
    with pytest.raises(CryptoError) as caught:
        ring.unwrap(key_id, wrapped, "dk-2")
    rendered = str(caught.value)
    assert data_key.hex() not in rendered
    assert repr(data_key) not in rendered


def test_key_ring_refuses_inactive_or_short_keys() -> None:
    kek = KeyEncryptionKey("kek-1", secrets.token_bytes(32))
    with pytest.raises(CryptoError):
        KeyRing([kek], "kek-2", secrets.token_bytes(32))
    with pytest.raises(CryptoError):
        KeyRing([kek], "kek-1", secrets.token_bytes(16))
    with pytest.raises(CryptoError):
        KeyEncryptionKey("kek-short", secrets.token_bytes(16))


def test_kek_repr_hides_the_secret() -> None:
    secret = secrets.token_bytes(32)
    kek = KeyEncryptionKey("kek-1", secret)
    assert "kek-1" in repr(kek)
    assert repr(secret) not in repr(kek)
    assert secret.hex() not in repr(kek)


# --- blind index --------------------------------------------------------------------------


def test_normalise_identifier_folds_case_accents_and_spacing() -> None:
    assert normalise_identifier("Zoë  O'Neil") == "zoe o'neil"
    assert normalise_identifier("  ZOË\tO'NEIL \n") == "zoe o'neil"
    assert normalise_identifier("Straße") == normalise_identifier("STRASSE")


def test_blind_index_matches_normalised_variants(ring: KeyRing) -> None:
    reference = ring.blind_index("person-name", "zoe o'neil", area_id=1)
    for variant in ["Zoë  O'Neil", "ZOE O'NEIL", " zoë o'neil ", "Zoe\u0308 O'Neil"]:
        assert ring.blind_index("person-name", variant, area_id=1) == reference


def test_blind_index_distinguishes_different_names(ring: KeyRing) -> None:
    assert ring.blind_index("person-name", "Zoe O'Neil", area_id=1) != ring.blind_index(
        "person-name", "Zoe O'Neal", area_id=1
    )


def test_blind_index_differs_between_purposes(ring: KeyRing) -> None:
    assert ring.blind_index("person-name", "Zoe O'Neil", area_id=1) != ring.blind_index(
        "address", "Zoe O'Neil", area_id=1
    )


def test_blind_index_differs_between_keys() -> None:
    first, second = make_ring("kek-1"), make_ring("kek-1")
    assert first.blind_index("person-name", "Zoe O'Neil", area_id=1) != second.blind_index(
        "person-name", "Zoe O'Neil", area_id=1
    )


def test_blind_index_is_stable_for_the_same_key() -> None:
    blind = secrets.token_bytes(32)
    first, second = make_ring("kek-a", blind=blind), make_ring("kek-b", blind=blind)
    assert first.blind_index("person-name", "Zoe", "1990-01-01", area_id=1) == second.blind_index(
        "person-name", "Zoe", "1990-01-01", area_id=1
    )


def test_blind_index_keeps_parts_apart(ring: KeyRing) -> None:
    # ("ab", "c") and ("a", "bc") are different people; so are ("a b",) and ("a", "b").
    assert ring.blind_index("p", "ab", "c", area_id=1) != ring.blind_index(
        "p", "a", "bc", area_id=1
    )
    assert ring.blind_index("p", "a b", area_id=1) != ring.blind_index("p", "a", "b", area_id=1)


def test_blind_index_is_not_the_plaintext(ring: KeyRing) -> None:
    index = ring.blind_index("person-name", "Zoë O'Neil", area_id=1)
    assert len(index) == 64
    assert all(ch in "0123456789abcdef" for ch in index)
    lowered = index.lower()
    assert "zoe" not in lowered
    assert "neil" not in lowered
    assert normalise_identifier("Zoë O'Neil") not in lowered


# --- the key ring as a KeySource -------------------------------------------------------------


async def test_the_key_ring_wraps_and_unwraps_as_a_key_source(
    ring: KeyRing, data_key: bytes
) -> None:
    source: KeySource = ring
    key_id, wrapped = await source.wrap_data_key(data_key, "dk-1")
    assert key_id == ring.active_key_id
    assert await source.unwrap_data_key(key_id, wrapped, "dk-1") == data_key
    with pytest.raises(CryptoError):
        await source.unwrap_data_key(key_id, wrapped, "dk-2")


def test_any_source_with_the_same_blind_index_key_gives_the_same_index() -> None:
    """What lets the KEK move (to Vault) without breaking repeat-victim matching."""
    key = secrets.token_bytes(32)
    assert area_blind_index(key, 1, "person-name", "Zoë") == make_ring(
        "kek-x", blind=key
    ).blind_index("person-name", "zoe", area_id=1)
    with pytest.raises(CryptoError):
        blind_index(b"short", "person-name", "Zoe")


def test_the_same_victim_has_unrelated_indexes_in_different_areas(ring: KeyRing) -> None:
    """One key for every area let anyone with the database link cases across areas."""
    north = ring.blind_index("victim", "Zoë O'Neil", "1990-03-14", area_id=1)
    south = ring.blind_index("victim", "Zoë O'Neil", "1990-03-14", area_id=2)
    assert north != south
    assert ring.blind_index("victim", "zoe o'neil", "1990-03-14", area_id=1) == north


def test_each_area_key_is_derived_with_hkdf_from_the_one_secret() -> None:
    key = secrets.token_bytes(32)
    first, second = area_blind_index_key(key, 1), area_blind_index_key(key, 2)
    assert len({key, first, second}) == 3 and len(first) == 32
    assert area_blind_index_key(key, 1) == first
    assert area_blind_index(key, 1, "p", "a") == blind_index(first, "p", "a")
