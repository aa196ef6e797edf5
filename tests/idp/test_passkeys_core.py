"""idp.core.passkeys with a software authenticator: registration, sign-in and what must
be refused (replay, wrong origin, wrong RP ID, no user verification, counter regression,
expired or misused challenges, removing the last way in).

The core is Flask-free; Flask appears here only as Flask-SQLAlchemy's host, so these tests
do not depend on the web layer.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask

from idp.core import passkeys as pk
from idp.core.db import db
from idp.core.models import Customer, FederatedIdentity, Realm, utcnow
from tests.conftest import database_uri
from tests.support.soft_authenticator import SoftAuthenticator, b64url, unb64url

PUBLIC_URL = "https://connexion.agence.test/realms/paris"
ORIGIN = "https://connexion.agence.test"
RP_ID = "connexion.agence.test"
ICLOUD = "fbfc3007-154e-4ecc-8c0b-6e020557d7bd"


@pytest.fixture
def app(tmp_path):
    application = Flask(__name__)
    application.config["SQLALCHEMY_DATABASE_URI"] = database_uri(tmp_path)
    db.init_app(application)
    with application.app_context():
        db.create_all()
        yield application
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


@pytest.fixture
def realm(app) -> Realm:
    row = Realm(slug="paris", display_name="Paris Île-de-France", settings={})
    db.session.add(row)
    db.session.commit()
    return row


def new_customer(realm: Realm, identifier: str = "100001", password: bool = True,
                 locale: str | None = None) -> Customer:
    customer = Customer(realm_id=realm.id, identifier=identifier, given_name="Marie",
                        family_name="Dupont", locale=locale,
                        password_hash="$argon2id$stub" if password else None)
    db.session.add(customer)
    db.session.commit()
    return customer


@pytest.fixture
def customer(realm) -> Customer:
    return new_customer(realm)


@pytest.fixture
def rp() -> pk.RelyingParty:
    return pk.RelyingParty.from_public_url(PUBLIC_URL, "Paris Île-de-France")


def register(customer, rp, authenticator, name=None) -> pk.Passkey:
    options, challenge = pk.registration_options(customer, rp)
    answer = authenticator.create(options, ORIGIN)
    passkey = pk.verify_registration(customer, rp, challenge, answer, name=name)
    db.session.commit()
    return passkey


# ---------------------------------------------------------------- relying party


def test_relying_party_comes_from_the_public_url():
    rp = pk.RelyingParty.from_public_url("https://Login.Example.com:443/realms/x", "Agence")
    assert (rp.id, rp.origin, rp.name) == ("login.example.com", "https://login.example.com",
                                           "Agence")
    dev = pk.RelyingParty.from_public_url("http://localhost:5100/realms/x", "Agence")
    assert (dev.id, dev.origin) == ("localhost", "http://localhost:5100")
    parent = pk.RelyingParty.from_public_url("https://login.example.com", "A", "example.com")
    assert parent.id == "example.com" and parent.origin == "https://login.example.com"
    with pytest.raises(pk.PasskeyError) as err:
        pk.RelyingParty.from_public_url("https://login.example.com", "A", "evil.com")
    assert err.value.code == "unavailable"
    with pytest.raises(pk.PasskeyError):
        pk.RelyingParty.from_public_url("http://127.0.0.1:5100", "A")
    assert pk.passkeys_available("https://login.example.com/realms/x")
    assert not pk.passkeys_available("http://127.0.0.1:5100")
    assert not pk.passkeys_available("http://[::1]:5100")


# ---------------------------------------------------------------- registration


def test_registration_options_ask_for_a_discoverable_verified_passkey(customer, rp):
    options, challenge = pk.registration_options(customer, rp)
    assert options["rp"] == {"id": RP_ID, "name": "Paris Île-de-France"}
    assert unb64url(options["user"]["id"]) == customer.sub.encode()
    assert options["user"]["name"] == "100001"
    assert options["user"]["displayName"] == "Marie Dupont"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["requireResidentKey"] is True
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["attestation"] == "none"
    assert options["excludeCredentials"] == []
    assert options["timeout"] == 300_000
    assert unb64url(options["challenge"]) == challenge.challenge
    assert len(challenge.challenge) == 32
    assert challenge.purpose == "registration"
    assert challenge.customer_id == customer.id and challenge.realm_id == customer.realm_id
    assert timedelta(minutes=4) < challenge.expires_at - utcnow() <= timedelta(minutes=5)


def test_register_stores_the_passkey(customer, rp):
    auth = SoftAuthenticator(aaguid=bytes.fromhex(ICLOUD.replace("-", "")),
                             backup_eligible=True, backed_up=True, counter_step=0)
    passkey = register(customer, rp, auth)
    [cred] = auth.credentials.values()
    assert passkey.credential_id == cred.credential_id
    assert passkey.customer_id == customer.id and passkey.realm_id == customer.realm_id
    assert passkey.sign_count == 0
    assert passkey.transports == ["internal"]
    assert passkey.backup_eligible is True and passkey.backup_state is True
    assert passkey.aaguid == ICLOUD
    assert passkey.name == "iCloud Keychain" == passkey.device
    assert passkey.last_used_at is None
    assert pk.list_passkeys(customer) == [passkey]


def test_unknown_authenticator_gets_the_generic_name_in_the_customer_language(realm, rp):
    french = new_customer(realm, "100001")
    english = new_customer(realm, "100002", locale="en")
    assert register(french, rp, SoftAuthenticator()).name == "Clé d'accès"
    passkey = register(english, rp, SoftAuthenticator())
    assert passkey.name == "Passkey" and passkey.device is None
    named = register(english, rp, SoftAuthenticator(), name="  Mon   téléphone\n")
    assert named.name == "Mon téléphone"


def test_existing_passkeys_are_excluded_and_not_registered_twice(customer, rp):
    auth = SoftAuthenticator()
    first = register(customer, rp, auth)
    options, challenge = pk.registration_options(customer, rp)
    assert [unb64url(c["id"]) for c in options["excludeCredentials"]] == [first.credential_id]
    assert options["excludeCredentials"][0]["transports"] == ["internal"]
    # The same authenticator honours the exclusion list.
    with pytest.raises(AssertionError, match="InvalidStateError"):
        auth.create(options, ORIGIN)
    # A client that ignores it and sends the same credential again is refused.
    answer = auth.create(options, ORIGIN, credential_id=first.credential_id,
                         ignore_exclusions=True)
    with pytest.raises(pk.PasskeyError) as err:
        pk.verify_registration(customer, rp, challenge, answer)
    assert err.value.code == "already_registered"
    assert pk.list_passkeys(customer) == [first]


@pytest.mark.parametrize("falsify, expected_detail", [
    (dict(origin="https://connexion.agence.test.evil.example"), "origin"),
    (dict(rp_id="evil.example"), "RP ID"),
    (dict(user_verified=False), "verif"),
])
def test_registration_refuses_wrong_origin_rp_id_or_no_user_verification(
        customer, rp, falsify, expected_detail):
    options, challenge = pk.registration_options(customer, rp)
    answer = SoftAuthenticator().create(options, falsify.pop("origin", ORIGIN), **falsify)
    with pytest.raises(pk.PasskeyError) as err:
        pk.verify_registration(customer, rp, challenge, answer)
    assert err.value.code == "invalid_response"
    assert expected_detail.lower() in err.value.detail.lower()
    assert pk.list_passkeys(customer) == []
    assert challenge.used  # burnt even though refused


def test_registration_challenge_is_bound_to_its_customer_and_single_use(realm, customer, rp):
    other = new_customer(realm, "100002")
    options, challenge = pk.registration_options(customer, rp)
    answer = SoftAuthenticator().create(options, ORIGIN)
    with pytest.raises(pk.PasskeyError) as err:
        pk.verify_registration(other, rp, challenge, answer)
    assert err.value.code == "challenge_mismatch"
    with pytest.raises(pk.PasskeyError) as err:
        pk.verify_registration(customer, rp, challenge, answer)
    assert err.value.code == "challenge_used"
    with pytest.raises(pk.PasskeyError) as err:
        pk.verify_registration(customer, rp, None, answer)
    assert err.value.code == "challenge_missing"
    assert pk.list_passkeys(customer) == pk.list_passkeys(other) == []


def test_raw_id_must_be_the_attested_credential_id(customer, rp):
    options, challenge = pk.registration_options(customer, rp)
    answer = SoftAuthenticator().create(options, ORIGIN)
    answer["id"] = answer["rawId"] = b64url(b"\x01" * 32)
    with pytest.raises(pk.PasskeyError) as err:
        pk.verify_registration(customer, rp, challenge, answer)
    assert err.value.code == "invalid_response" and "rawId" in err.value.detail
    assert pk.list_passkeys(customer) == []


def test_malformed_registration_is_an_invalid_response(customer, rp):
    _, challenge = pk.registration_options(customer, rp)
    with pytest.raises(pk.PasskeyError) as err:
        pk.verify_registration(customer, rp, challenge, {"id": "x", "response": "nope"})
    assert err.value.code == "invalid_response"


# ---------------------------------------------------------------- sign-in


def sign_in(realm, rp, auth, **falsify) -> pk.PasskeySignIn:
    options, challenge = pk.authentication_options(rp, realm.id)
    answer = auth.get(options, falsify.pop("origin", ORIGIN), **falsify)
    return pk.verify_authentication(realm.id, rp, challenge, answer)


def test_authentication_options_are_for_discoverable_credentials(realm, rp):
    options, challenge = pk.authentication_options(rp, realm.id)
    assert options["rpId"] == RP_ID
    assert options["allowCredentials"] == []
    assert options["userVerification"] == "required"
    assert unb64url(options["challenge"]) == challenge.challenge
    assert challenge.purpose == "authentication" and challenge.customer_id is None


def test_sign_in_with_a_device_bound_passkey(realm, customer, rp):
    auth = SoftAuthenticator()
    passkey = register(customer, rp, auth)
    before = utcnow()
    result = sign_in(realm, rp, auth)
    db.session.commit()
    assert result.customer.id == customer.id
    assert result.passkey.id == passkey.id
    assert result.amr == ["hwk", "user", "mfa"]
    assert result.acr == pk.PASSKEY_ACR == "2"
    db.session.refresh(passkey)
    assert passkey.sign_count == 1
    assert passkey.last_used_at is not None and passkey.last_used_at >= before
    assert sign_in(realm, rp, auth).passkey.sign_count == 2


def test_sign_in_with_a_synced_passkey_records_backup_state(realm, customer, rp):
    auth = SoftAuthenticator(backup_eligible=True, backed_up=False, counter_step=0)
    passkey = register(customer, rp, auth)
    assert passkey.backup_state is False
    auth.backed_up = True  # the phone has since synced it
    result = sign_in(realm, rp, auth)
    assert result.amr == ["swk", "user", "mfa"]
    assert passkey.backup_state is True and passkey.sign_count == 0
    # Counters that stay at 0 (synced passkeys) are not a regression.
    assert sign_in(realm, rp, auth).passkey.id == passkey.id


def test_replayed_assertion_is_refused(realm, customer, rp):
    auth = SoftAuthenticator()
    register(customer, rp, auth)
    options, challenge = pk.authentication_options(rp, realm.id)
    answer = auth.get(options, ORIGIN)
    pk.verify_authentication(realm.id, rp, challenge, answer)
    with pytest.raises(pk.PasskeyError) as err:
        pk.verify_authentication(realm.id, rp, challenge, answer)
    assert err.value.code == "challenge_used"
    # Replayed under a fresh challenge: the signed challenge is the old one.
    _, fresh = pk.authentication_options(rp, realm.id)
    with pytest.raises(pk.PasskeyError) as err:
        pk.verify_authentication(realm.id, rp, fresh, answer)
    assert err.value.code == "invalid_response" and "challenge" in err.value.detail


@pytest.mark.parametrize("falsify, expected_detail", [
    (dict(origin="https://connexion-agence.example"), "origin"),
    (dict(origin="http://connexion.agence.test"), "origin"),
    (dict(rp_id="agence.test"), "RP ID"),
    (dict(user_verified=False), "verif"),
])
def test_sign_in_refuses_wrong_origin_rp_id_or_no_user_verification(
        realm, customer, rp, falsify, expected_detail):
    auth = SoftAuthenticator()
    passkey = register(customer, rp, auth)
    with pytest.raises(pk.PasskeyError) as err:
        sign_in(realm, rp, auth, **falsify)
    assert err.value.code == "invalid_response"
    assert expected_detail.lower() in err.value.detail.lower()
    db.session.refresh(passkey)
    assert passkey.sign_count == 0 and passkey.last_used_at is None


def test_counter_regression_is_refused(realm, customer, rp):
    auth = SoftAuthenticator()
    passkey = register(customer, rp, auth)
    sign_in(realm, rp, auth)
    sign_in(realm, rp, auth)
    db.session.commit()
    for cloned_count in (2, 1):  # equal to, then below, the stored counter
        with pytest.raises(pk.PasskeyError) as err:
            sign_in(realm, rp, auth, sign_count=cloned_count)
        assert err.value.code == "counter_regression"
    db.session.refresh(passkey)
    assert passkey.sign_count == 2


def test_forged_signature_is_not_mistaken_for_a_clone(realm, customer, rp):
    auth = SoftAuthenticator()
    register(customer, rp, auth)
    sign_in(realm, rp, auth)
    options, challenge = pk.authentication_options(rp, realm.id)
    answer = auth.get(options, ORIGIN, sign_count=1)
    sig = bytearray(unb64url(answer["response"]["signature"]))
    sig[-1] ^= 0x01
    answer["response"]["signature"] = b64url(bytes(sig))
    with pytest.raises(pk.PasskeyError) as err:
        pk.verify_authentication(realm.id, rp, challenge, answer)
    assert err.value.code == "invalid_response"


def test_user_handle_must_name_the_owner(realm, customer, rp):
    other = new_customer(realm, "100002")
    auth = SoftAuthenticator()
    register(customer, rp, auth)
    with pytest.raises(pk.PasskeyError) as err:
        sign_in(realm, rp, auth, user_handle=other.sub.encode())
    assert err.value.code == "invalid_response" and "userHandle" in err.value.detail


def test_passkeys_are_per_realm(realm, customer, rp):
    auth = SoftAuthenticator()
    register(customer, rp, auth)
    lyon = Realm(slug="lyon", display_name="Lyon", settings={})
    db.session.add(lyon)
    db.session.commit()
    options, challenge = pk.authentication_options(rp, lyon.id)
    answer = auth.get({**options, "rpId": RP_ID}, ORIGIN)
    with pytest.raises(pk.PasskeyError) as err:
        pk.verify_authentication(lyon.id, rp, challenge, answer)
    assert err.value.code == "unknown_credential"
    # A challenge made for one realm does not serve in another.
    options, challenge = pk.authentication_options(rp, lyon.id)
    with pytest.raises(pk.PasskeyError) as err:
        pk.verify_authentication(realm.id, rp, challenge, auth.get(options, ORIGIN))
    assert err.value.code == "challenge_mismatch"


def test_disabled_customer_cannot_sign_in(realm, customer, rp):
    auth = SoftAuthenticator()
    register(customer, rp, auth)
    customer.enabled = False
    db.session.commit()
    with pytest.raises(pk.PasskeyError) as err:
        sign_in(realm, rp, auth)
    assert err.value.code == "customer_disabled"


def test_backup_eligibility_cannot_change(realm, customer, rp):
    auth = SoftAuthenticator()
    register(customer, rp, auth)
    auth.backup_eligible = True
    with pytest.raises(pk.PasskeyError) as err:
        sign_in(realm, rp, auth)
    assert err.value.code == "backup_eligibility_changed"


# ---------------------------------------------------------------- challenges


def test_challenge_expires_after_five_minutes(realm, customer, rp):
    auth = SoftAuthenticator()
    register(customer, rp, auth)
    start = utcnow()
    options, challenge = pk.authentication_options(rp, realm.id, now=start)
    answer = auth.get(options, ORIGIN)
    with pytest.raises(pk.PasskeyError) as err:
        pk.verify_authentication(realm.id, rp, challenge, answer,
                                 now=start + pk.CHALLENGE_LIFETIME)
    assert err.value.code == "challenge_expired"


def test_challenge_survives_a_json_round_trip_and_stays_single_use(realm, customer, rp):
    auth = SoftAuthenticator()
    register(customer, rp, auth)
    options, challenge = pk.authentication_options(rp, realm.id)
    stored = challenge.to_dict()
    restored = pk.PasskeyChallenge.from_dict(stored)
    assert restored == challenge
    answer = auth.get(options, ORIGIN)
    pk.verify_authentication(realm.id, rp, restored, answer)
    assert restored.to_dict()["used"] is True
    with pytest.raises(pk.PasskeyError) as err:
        pk.verify_authentication(realm.id, rp, pk.PasskeyChallenge.from_dict(
            restored.to_dict()), answer)
    assert err.value.code == "challenge_used"


def test_registration_challenge_cannot_serve_a_sign_in(realm, customer, rp):
    auth = SoftAuthenticator()
    register(customer, rp, auth)
    options, _ = pk.authentication_options(rp, realm.id)
    _, wrong = pk.registration_options(customer, rp)
    wrong.challenge = unb64url(options["challenge"])
    with pytest.raises(pk.PasskeyError) as err:
        pk.verify_authentication(realm.id, rp, wrong, auth.get(options, ORIGIN))
    assert err.value.code == "challenge_mismatch"


# ---------------------------------------------------------------- Mon compte


def test_rename(customer, rp):
    passkey = register(customer, rp, SoftAuthenticator())
    assert pk.rename_passkey(customer, passkey.id, " Téléphone de Marie ").name == \
        "Téléphone de Marie"
    for bad in ("", "   ", "x" * 65):
        with pytest.raises(pk.PasskeyError) as err:
            pk.rename_passkey(customer, passkey.id, bad)
        assert err.value.code == "invalid_name"
    assert pk.rename_passkey(customer, passkey.id, "a\u0000b\u202ec").name == "abc"


def test_cannot_touch_someone_elses_passkey(realm, customer, rp):
    other = new_customer(realm, "100002")
    passkey = register(customer, rp, SoftAuthenticator())
    for action in (lambda: pk.rename_passkey(other, passkey.id, "mine"),
                   lambda: pk.remove_passkey(other, passkey.id)):
        with pytest.raises(pk.PasskeyError) as err:
            action()
        assert err.value.code == "not_found"
    assert pk.list_passkeys(customer) == [passkey] and passkey.name == "Clé d'accès"


def test_remove_with_a_password_left(customer, rp):
    passkey = register(customer, rp, SoftAuthenticator())
    pk.remove_passkey(customer, passkey.id)
    db.session.commit()
    assert pk.list_passkeys(customer) == []


def test_last_way_in_cannot_be_removed(realm, rp):
    customer = new_customer(realm, "100009", password=False)
    first = register(customer, rp, SoftAuthenticator())
    second = register(customer, rp, SoftAuthenticator())
    pk.remove_passkey(customer, second.id)  # another passkey is left: fine
    db.session.commit()
    with pytest.raises(pk.PasskeyError) as err:
        pk.remove_passkey(customer, first.id)
    assert err.value.code == "last_way_in"
    assert pk.list_passkeys(customer) == [first]
    # A linked social account is another way in.
    db.session.add(FederatedIdentity(realm_id=realm.id, customer_id=customer.id,
                                     provider="google", subject="g-1"))
    db.session.commit()
    pk.remove_passkey(customer, first.id)
    assert pk.list_passkeys(customer) == []


def test_temporary_code_counts_unless_locked_for_good(realm, rp):
    customer = new_customer(realm, "100010", password=False)
    customer.temporary_code_hash = "hmac-sha256$k$s$d"
    customer.locked_permanently = True
    passkey = register(customer, rp, SoftAuthenticator())
    assert not pk.has_other_way_in(customer, without=passkey)
    customer.locked_permanently = False
    assert pk.has_other_way_in(customer, without=passkey)


def test_too_many_passkeys(customer, rp, monkeypatch):
    monkeypatch.setattr(pk, "MAX_PASSKEYS", 2)
    register(customer, rp, SoftAuthenticator())
    register(customer, rp, SoftAuthenticator())
    with pytest.raises(pk.PasskeyError) as err:
        register(customer, rp, SoftAuthenticator())
    assert err.value.code == "too_many"
    assert len(pk.list_passkeys(customer)) == 2
