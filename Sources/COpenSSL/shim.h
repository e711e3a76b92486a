// OpenSSL for Hotline: TLS on every TCP link, HMAC and PBKDF2, random numbers.
// Macros that Swift cannot import are wrapped as static inline functions (COpenSSL_ prefix).
#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static inline long COpenSSL_CTX_set_min_tls12(SSL_CTX *ctx) { return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION); }
static inline long COpenSSL_CTX_set_partial_write(SSL_CTX *ctx) {
    return SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}
static inline long COpenSSL_set_hostname(SSL *ssl, const char *name) { return SSL_set_tlsext_host_name(ssl, name); }
static inline const EVP_MD *COpenSSL_sha256(void) { return EVP_sha256(); }
#endif
