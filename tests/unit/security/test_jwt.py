"""KeyRing: signing, verification and every way a token must be refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bastion import ManualClock
from bastion.security.errors import InvalidToken, NoSigningKey
from bastion.security.jwt import KeyRing, RingKey

pytestmark = pytest.mark.security

START = datetime(2026, 1, 1, tzinfo=UTC)
NOW = int(START.timestamp())


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def _claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {"sub": "42", "aud": "api", "iss": "bastion", "exp": NOW + 300}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _ring(clock: ManualClock, *algs: str, **options: Any) -> KeyRing:
    keys = [
        RingKey.generate(alg, kid=f"k{i}", created_at=START)  # type: ignore[arg-type]
        for i, alg in enumerate(algs)
    ]
    return KeyRing(keys, clock=clock, **options)


def _verify(ring: KeyRing, token: str) -> dict[str, Any]:
    return ring.verify(token, audience="api", issuer="bastion")


@pytest.mark.parametrize("alg", ["EdDSA", "HS256"])
def test_sign_and_verify(clock: ManualClock, alg: str) -> None:
    ring = _ring(clock, alg)
    token = ring.sign(_claims(scope="read"))
    assert jwt.get_unverified_header(token) == {"alg": alg, "kid": "k0", "typ": "JWT"}
    assert _verify(ring, token) == _claims(scope="read")


def _forge(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return ".".join(
        [part(json.dumps(header).encode()), part(json.dumps(claims).encode()), part(signature)]
    )


def test_alg_none_is_refused(clock: ManualClock) -> None:
    ring = _ring(clock, "EdDSA", "HS256")
    for kid in ("k0", "k1"):
        with pytest.raises(InvalidToken):
            _verify(ring, _forge({"alg": "none", "kid": kid}, _claims()))


def test_hs256_signed_with_the_public_key_is_refused(clock: ManualClock) -> None:
    """The classic confusion: an HS256 token whose HMAC key is the EdDSA public key."""
    ring = _ring(clock, "EdDSA")
    public = ring.signing_key().verifying_key
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)  # type: ignore[union-attr]
    jwk_x = ring.jwks()["keys"][0]["x"].encode()
    for secret in (raw, jwk_x):
        forged = jwt.encode(_claims(), secret, algorithm="HS256", headers={"kid": "k0"})
        with pytest.raises(InvalidToken):
            _verify(ring, forged)


def test_a_token_must_use_the_algorithm_of_its_kid(clock: ManualClock) -> None:
    ring = _ring(clock, "EdDSA", "HS256")
    ed_key, hs_key = ring._keys["k0"], ring._keys["k1"]
    # An EdDSA signature under the HS256 key's kid, and the reverse.
    ed_signed = jwt.encode(_claims(), ed_key.signing_key, algorithm="EdDSA", headers={"kid": "k1"})
    hs_signed = jwt.encode(_claims(), hs_key.private, algorithm="HS256", headers={"kid": "k0"})
    for token in (ed_signed, hs_signed):
        with pytest.raises(InvalidToken):
            _verify(ring, token)


@pytest.mark.parametrize("kid", [None, "nope", 7, ["k0"]])
def test_missing_or_unknown_kid_is_refused(clock: ManualClock, kid: object) -> None:
    ring = _ring(clock, "HS256")
    secret = ring._keys["k0"].private
    header = {"alg": "HS256"} if kid is None else {"alg": "HS256", "kid": kid}
    signing_input = _forge(header, _claims()).rsplit(".", 1)[0]
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    # Correctly signed with the ring's own key: only the kid is wrong.
    token = _forge(header, _claims(), signature)
    with pytest.raises(InvalidToken):
        _verify(ring, token)


def test_another_keys_signature_under_a_known_kid_is_refused(clock: ManualClock) -> None:
    ring, other = _ring(clock, "EdDSA"), _ring(clock, "EdDSA")  # both kids are "k0"
    with pytest.raises(InvalidToken):
        _verify(ring, other.sign(_claims()))


@pytest.mark.parametrize(
    "claims",
    [
        _claims(exp=NOW - 31),  # expired beyond the 30 s leeway
        _claims(nbf=NOW + 31),  # not yet valid
        _claims(aud="other"),
        _claims(iss="someone-else"),
        _claims(exp=None),  # exp is required
        _claims(aud=None),
        _claims(iss=None),
        _claims(exp="tomorrow"),
        _claims(exp=True),
    ],
    ids=[
        "expired",
        "not-yet-valid",
        "audience",
        "issuer",
        "no-exp",
        "no-aud",
        "no-iss",
        "exp-text",
        "exp-bool",
    ],
)
def test_claims_are_checked(clock: ManualClock, claims: dict[str, Any]) -> None:
    ring = _ring(clock, "EdDSA")
    with pytest.raises(InvalidToken) as caught:
        _verify(ring, ring.sign(claims))
    assert caught.value.status == 401
    assert caught.value.code == "auth.invalid_token"
    assert caught.value.detail == "The access token is invalid or expired."
    assert caught.value.headers == {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def test_expiry_follows_the_injected_clock_with_leeway(clock: ManualClock) -> None:
    ring = _ring(clock, "EdDSA", leeway=10)
    token = ring.sign(_claims(exp=NOW + 60))
    clock.advance(seconds=70)
    assert _verify(ring, token)["sub"] == "42"
    clock.advance(seconds=1)
    with pytest.raises(InvalidToken):
        _verify(ring, token)
    assert ring.verify(token, audience="api", issuer="bastion", leeway=60)["sub"] == "42"


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "a.b", "....", "é.é.é"])
def test_malformed_tokens_are_refused(clock: ManualClock, token: str) -> None:
    with pytest.raises(InvalidToken):
        _verify(_ring(clock, "EdDSA"), token)


def test_the_newest_published_key_signs_and_all_verify(clock: ManualClock) -> None:
    old = RingKey.generate("EdDSA", kid="old", created_at=START)
    new = RingKey.generate("HS256", kid="new", created_at=START.replace(minute=1))
    ring = KeyRing([new, old], clock=clock, publish_delay=30)
    assert ring.kids == ["old", "new"]
    clock.set(START.replace(minute=1, second=29))
    assert ring.signing_key().kid == "old"  # the new key is not published yet
    old_token = ring.sign(_claims())
    clock.set(START.replace(minute=1, second=30))
    assert ring.signing_key().kid == "new"
    new_token = ring.sign(_claims())
    assert jwt.get_unverified_header(new_token)["kid"] == "new"
    assert _verify(ring, old_token) == _verify(ring, new_token)
    # With only unpublished keys (the very first one), the newest signs at once.
    assert KeyRing([new], clock=clock, publish_delay=3600).signing_key().kid == "new"


def test_an_empty_ring_cannot_sign(clock: ManualClock) -> None:
    ring = KeyRing([], clock=clock)
    with pytest.raises(NoSigningKey, match="bastion keys rotate"):
        ring.sign(_claims())
    with pytest.raises(InvalidToken):
        _verify(ring, _ring(clock, "EdDSA").sign(_claims()))
    assert ring.jwks() == {"keys": []}


def test_jwks_publishes_public_eddsa_keys_only(clock: ManualClock) -> None:
    ring = _ring(clock, "EdDSA", "HS256", "EdDSA")
    jwks = ring.jwks()
    assert [k["kid"] for k in jwks["keys"]] == ["k0", "k2"]
    for jwk in jwks["keys"]:
        assert set(jwk) == {"kty", "crv", "x", "kid", "alg", "use"}
        assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == (
            "OKP",
            "Ed25519",
            "EdDSA",
            "sig",
        )
    # A standard client verifies our tokens with the published key of their kid.
    token = ring.sign(_claims(exp=2**40))
    published = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    assert jwt.decode(token, published, algorithms=["EdDSA"], audience="api")["sub"] == "42"


def test_keys_never_show_their_private_material(clock: ManualClock) -> None:
    key = RingKey.generate("HS256", kid="k", created_at=START)
    assert repr(key) == "<RingKey k HS256>"
    with pytest.raises(ValueError, match="unknown algorithm"):
        RingKey.generate("RS256", kid="k", created_at=START)  # type: ignore[arg-type]
