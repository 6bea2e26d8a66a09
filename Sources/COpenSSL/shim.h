#ifndef AGENTHOST_COPENSSL_SHIM_H
#define AGENTHOST_COPENSSL_SHIM_H
// The low-level SHA-256 API (SHA256_CTX) is deprecated in OpenSSL 3 but is the only way to copy
// an HMAC midstate without an allocation; HMAC.swift documents why it is used.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/err.h>
#endif
