"""Makes webauthn_vectors.json: a registration and an assertion per key type (ES256, EdDSA,
RS256), built with python-fido2's CBOR and COSE encoders and the cryptography package's keys, and
each checked by the py_webauthn library (duo-labs) before it is written, so the Swift relying party
(WebAuthnRelyingPartyTests) is checked against two implementations that are not ours.

Run: .build/test-tools/sdk/bin/python Tests/SecurityCoreTests/Vectors/webauthn/make_vectors.py
(needs fido2, webauthn and cryptography from PyPI; scripts/bootstrap --test installs them).
"""

import base64
import hashlib
import json
import os
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from fido2 import cbor
from fido2.cose import ES256, EdDSA, RS256
import webauthn

RP_ID = "example.com"
ORIGIN = "https://app.example.com"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def client_data(kind, challenge):
    return json.dumps({"type": kind, "challenge": b64(challenge), "origin": ORIGIN, "crossOrigin": False},
                      separators=(",", ":")).encode()


def make(name, private, cose_class, sign):
    credential_id = hashlib.sha256(name.encode()).digest()
    cose_key = cbor.encode(dict(cose_class.from_cryptography_key(private.public_key())))
    rp_hash = hashlib.sha256(RP_ID.encode()).digest()
    registration_challenge = hashlib.sha256(b"registration " + name.encode()).digest()
    flags = 0x01 | 0x04 | 0x40  # UP, UV, AT
    auth_data = rp_hash + bytes([flags]) + struct.pack(">I", 0) + bytes(16) + struct.pack(">H", len(credential_id)) + credential_id + cose_key
    attestation = cbor.encode({"fmt": "none", "attStmt": {}, "authData": auth_data})
    registration_client = client_data("webauthn.create", registration_challenge)
    verified = webauthn.verify_registration_response(
        credential={"id": b64(credential_id), "rawId": b64(credential_id), "type": "public-key",
                    "response": {"clientDataJSON": b64(registration_client), "attestationObject": b64(attestation)}},
        expected_challenge=registration_challenge, expected_origin=ORIGIN, expected_rp_id=RP_ID, require_user_verification=True)
    assert verified.credential_public_key == cose_key

    assertion_challenge = hashlib.sha256(b"assertion " + name.encode()).digest()
    assertion_data = rp_hash + bytes([0x01 | 0x04]) + struct.pack(">I", 5)
    assertion_client = client_data("webauthn.get", assertion_challenge)
    signature = sign(private, assertion_data + hashlib.sha256(assertion_client).digest())
    checked = webauthn.verify_authentication_response(
        credential={"id": b64(credential_id), "rawId": b64(credential_id), "type": "public-key",
                    "response": {"clientDataJSON": b64(assertion_client), "authenticatorData": b64(assertion_data),
                                 "signature": b64(signature)}},
        expected_challenge=assertion_challenge, expected_origin=ORIGIN, expected_rp_id=RP_ID,
        credential_public_key=cose_key, credential_current_sign_count=0, require_user_verification=True)
    assert checked.new_sign_count == 5
    return {
        "name": name, "rp_id": RP_ID, "origin": ORIGIN, "credential_id": b64(credential_id), "public_key": b64(cose_key),
        "registration": {"challenge": b64(registration_challenge), "client_data_json": b64(registration_client),
                         "attestation_object": b64(attestation)},
        "assertion": {"challenge": b64(assertion_challenge), "client_data_json": b64(assertion_client),
                      "authenticator_data": b64(assertion_data), "signature": b64(signature), "sign_count": 5},
        "checked_by": f"py_webauthn {webauthn.__version__}" if hasattr(webauthn, "__version__") else "py_webauthn",
    }


vectors = [
    make("ES256", ec.generate_private_key(ec.SECP256R1()), ES256, lambda key, data: key.sign(data, ec.ECDSA(hashes.SHA256()))),
    make("EdDSA", ed25519.Ed25519PrivateKey.generate(), EdDSA, lambda key, data: key.sign(data)),
    make("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048), RS256,
         lambda key, data: key.sign(data, padding.PKCS1v15(), hashes.SHA256())),
]
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "webauthn_vectors.json"), "w") as file:
    json.dump({"source": "Tests/SecurityCoreTests/Vectors/webauthn/make_vectors.py", "vectors": vectors}, file, indent=1)
print("wrote", len(vectors), "vectors, each verified by py_webauthn")
