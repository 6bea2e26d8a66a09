#ifndef AGENTHOST_COPENSSL_SHIM_H
#define AGENTHOST_COPENSSL_SHIM_H
// The low-level SHA-256 API (SHA256_CTX) is deprecated in OpenSSL 3 but is the only way to copy
// an HMAC midstate without an allocation; HMAC.swift documents why it is used.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/param_build.h>
#include <openssl/core_names.h>
#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/err.h>
// OSSL_PARAM_BLD keeps the key names (and string values) it is given until it makes the
// parameters, so they must outlive the call: C string literals do, a Swift string's temporary
// C copy does not.
static const char *const agenthost_param_group_name = OSSL_PKEY_PARAM_GROUP_NAME;
static const char *const agenthost_param_pub_key = OSSL_PKEY_PARAM_PUB_KEY;
static const char *const agenthost_param_rsa_n = OSSL_PKEY_PARAM_RSA_N;
static const char *const agenthost_param_rsa_e = OSSL_PKEY_PARAM_RSA_E;
static const char *const agenthost_group_p256 = "prime256v1";
// EVP_PKEY_PUBLIC_KEY is a macro of macros, which Swift does not import.
static const int agenthost_evp_pkey_public_key = EVP_PKEY_PUBLIC_KEY;
#endif
