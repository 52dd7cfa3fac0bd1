/* The libp2p Noise secure channel (libp2p/specs noise/README.md) as a sans-I/O
 * state machine: Noise_XX_25519_ChaChaPoly_SHA256 with an empty prologue,
 * every message framed with a 2-byte big-endian length, the handshake payload
 * a NoiseHandshakePayload protobuf proving the peer's libp2p identity.
 *
 * Two layers:
 * - KpNoise: the libp2p channel. Bytes read from the socket go to
 *   kp_noise_feed(); bytes to write come from kp_noise_take_output() and
 *   kp_noise_encrypt(); plaintext comes out of kp_noise_take_plaintext().
 * - KpNoiseXX / KpNoiseCipher: the Noise Protocol Framework's HandshakeState
 *   (pattern XX only) and CipherState, unframed, with any prologue. KpNoise is
 *   built on them; they are public for the framework's test vectors. */
#pragma once

#include <glib.h>

#include "core/kp-keys.h"
#include "core/kp-peer-id.h"

G_BEGIN_DECLS

#define KP_NOISE_PROTOCOL_ID   "/noise"
#define KP_NOISE_PROTOCOL_NAME "Noise_XX_25519_ChaChaPoly_SHA256"
/* DHLEN, HASHLEN and the cipher key size all happen to be 32. */
#define KP_NOISE_KEY_BYTES  32
#define KP_NOISE_HASH_BYTES 32
#define KP_NOISE_TAG_BYTES  16
/* The 2-byte length prefix caps every Noise message, handshake or transport. */
#define KP_NOISE_FRAME_HEADER_BYTES 2
#define KP_NOISE_MAX_FRAME          65535
/* Plaintext carried by one transport frame; larger writes become several. */
#define KP_NOISE_MAX_PLAINTEXT (KP_NOISE_MAX_FRAME - KP_NOISE_TAG_BYTES)
/* A NoiseHandshakePayload holds a public key (at most KP_KEY_PROTOBUF_MAX), a
 * signature and a few muxer names: anything larger is refused, sent or
 * received. */
#define KP_NOISE_MAX_PAYLOAD 8192
/* The largest handshake message kping accepts: message 2 (e, encrypted s,
 * encrypted payload) is the longest. A frame header announcing more fails at
 * once, before any of it is buffered. */
#define KP_NOISE_MAX_HANDSHAKE_MESSAGE                                                             \
        (KP_NOISE_KEY_BYTES + KP_NOISE_KEY_BYTES + KP_NOISE_TAG_BYTES + KP_NOISE_MAX_PAYLOAD       \
         + KP_NOISE_TAG_BYTES)
/* Early muxer negotiation: entries in a stream_muxers list, and bytes in one
 * (multistream-select protocol ids are short). */
#define KP_NOISE_MAX_MUXERS    16
#define KP_NOISE_MAX_MUXER_LEN 256
/* What the identity key signs: this prefix, then the static X25519 key. */
#define KP_NOISE_STATIC_KEY_SIG_PREFIX "noise-libp2p-static-key:"
/* Noise reserves nonce 2^64-1: a CipherState that reaches it is spent. */
#define KP_NOISE_MAX_NONCE G_MAXUINT64

/* ---- CipherState ---- */

typedef struct _KpNoiseCipher KpNoiseCipher;

KpNoiseCipher *kp_noise_cipher_new(const guint8 key[KP_NOISE_KEY_BYTES]);
/* Appends ciphertext || tag to @out. Fails with KP_ERROR_CRYPTO once the
 * nonce is exhausted; @out is then unchanged. */
gboolean kp_noise_cipher_encrypt(KpNoiseCipher *cipher, const guint8 *ad, gsize ad_len,
                                 const guint8 *plaintext, gsize len, GByteArray *out,
                                 GError **error);
/* Appends the plaintext to @out. A bad tag fails with KP_ERROR_CRYPTO and
 * does not advance the nonce. */
gboolean kp_noise_cipher_decrypt(KpNoiseCipher *cipher, const guint8 *ad, gsize ad_len,
                                 const guint8 *ciphertext, gsize len, GByteArray *out,
                                 GError **error);
guint64 kp_noise_cipher_get_nonce(const KpNoiseCipher *cipher);
/* Tests only: jump to a nonce near exhaustion. */
void kp_noise_cipher_set_nonce(KpNoiseCipher *cipher, guint64 nonce);
void kp_noise_cipher_free(KpNoiseCipher *cipher);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpNoiseCipher, kp_noise_cipher_free)

/* ---- HandshakeState, pattern XX ---- */

typedef struct _KpNoiseXX KpNoiseXX;

KpNoiseXX *kp_noise_xx_new(gboolean initiator, const guint8 *prologue, gsize prologue_len);
/* The static key pair; the public half is derived. Must be set before the
 * message that sends s (2 for the responder, 3 for the initiator). */
gboolean kp_noise_xx_set_static(KpNoiseXX *xx, const guint8 secret[KP_NOISE_KEY_BYTES],
                                GError **error);
/* Tests only: a fixed ephemeral key instead of a random one. */
gboolean kp_noise_xx_set_ephemeral(KpNoiseXX *xx, const guint8 secret[KP_NOISE_KEY_BYTES],
                                   GError **error);
const guint8 *kp_noise_xx_get_static_public(const KpNoiseXX *xx);
/* NULL until the remote static key has been read. */
const guint8 *kp_noise_xx_get_remote_static(const KpNoiseXX *xx);
/* TRUE when the next handshake message is ours to write. */
gboolean kp_noise_xx_is_my_turn(const KpNoiseXX *xx);
/* 1, 2 or 3 for the next message; 4 once complete, 5 once split, 0 once failed. */
guint kp_noise_xx_get_message_number(const KpNoiseXX *xx);
/* Appends the next handshake message (unframed) to @out. */
gboolean kp_noise_xx_write_message(KpNoiseXX *xx, const guint8 *payload, gsize payload_len,
                                   GByteArray *out, GError **error);
/* Reads one whole handshake message (unframed) and appends its payload to
 * @ret_payload. A low-order DH public key fails with KP_ERROR_CRYPTO. */
gboolean kp_noise_xx_read_message(KpNoiseXX *xx, const guint8 *msg, gsize len,
                                  GByteArray *ret_payload, GError **error);
/* Valid once the handshake is complete; equal on both sides. */
void kp_noise_xx_get_handshake_hash(const KpNoiseXX *xx, guint8 ret_hash[KP_NOISE_HASH_BYTES]);
/* Split(): after message 3, the ciphers for sending and receiving. Wipes the
 * chaining key. */
gboolean kp_noise_xx_split(KpNoiseXX *xx, KpNoiseCipher **ret_send, KpNoiseCipher **ret_recv,
                           GError **error);
void kp_noise_xx_free(KpNoiseXX *xx);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpNoiseXX, kp_noise_xx_free)

/* ---- A signed static key for many handshakes ----
 *
 * The libp2p Noise spec lets a peer keep one static Noise key for the
 * module's lifetime ("generate new static Noise keys when initializing the
 * noise-libp2p module"). Making it once, with its identity signature,
 * saves an X25519 base-point multiplication and an Ed25519 signature per
 * handshake; the ephemeral key stays fresh per handshake. */

typedef struct _KpNoiseStaticKey KpNoiseStaticKey;

/* A random X25519 key signed by @identity (borrowed: it must outlive the
 * key). */
KpNoiseStaticKey *kp_noise_static_key_new(const KpKeypair *identity);
/* The same from a given secret (tests, or a persisted key). Fails with
 * KP_ERROR_CRYPTO when the secret gives no usable public key. */
KpNoiseStaticKey *kp_noise_static_key_new_from_secret(const KpKeypair *identity,
                                                      const guint8 secret[KP_NOISE_KEY_BYTES],
                                                      GError **error);
const guint8 *kp_noise_static_key_get_public(const KpNoiseStaticKey *key);
const KpKeypair *kp_noise_static_key_get_identity(const KpNoiseStaticKey *key);
KpNoiseStaticKey *kp_noise_static_key_ref(KpNoiseStaticKey *key);
/* Wipes the secret with the last reference. */
void kp_noise_static_key_unref(KpNoiseStaticKey *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpNoiseStaticKey, kp_noise_static_key_unref)

/* ---- The libp2p Noise channel ---- */

typedef enum {
        KP_NOISE_STATE_HANDSHAKE,
        KP_NOISE_STATE_TRANSPORT,
        KP_NOISE_STATE_FAILED,
} KpNoiseState;

typedef struct _KpNoise KpNoise;

/* @identity is borrowed and must outlive the KpNoise. @expected_remote (from
 * a /p2p/ address) is copied; when set, a remote proving another identity
 * fails the handshake with KP_ERROR_PEER_ID_MISMATCH. @muxers is a
 * NULL-terminated preference list sent as stream_muxers, or NULL. */
KpNoise *kp_noise_new_initiator(const KpKeypair *identity, const KpPeerId *expected_remote,
                                const char *const *muxers);
KpNoise *kp_noise_new_responder(const KpKeypair *identity, const char *const *muxers);
/* Before kp_noise_start(): use @key (a reference is taken; its identity
 * must be the channel's) instead of a static key made for this channel
 * alone. */
void kp_noise_set_static_key(KpNoise *noise, KpNoiseStaticKey *key);
/* Tests only, before kp_noise_start(): fixed X25519 secrets. The static key
 * is otherwise random per connection, or the one kp_noise_set_static_key()
 * gave. */
void kp_noise_set_static_for_testing(KpNoise *noise, const guint8 secret[KP_NOISE_KEY_BYTES]);
void kp_noise_set_ephemeral_for_testing(KpNoise *noise, const guint8 secret[KP_NOISE_KEY_BYTES]);
/* Replaces the static public key this side sends (and signs) with @pub, its
 * secret staying what it was: how a peer offering a low-order static key is
 * made. */
void kp_noise_set_static_public_for_testing(KpNoise *noise, const guint8 pub[KP_NOISE_KEY_BYTES]);
/* Tests only, in transport state: jump the nonces near exhaustion. */
void kp_noise_set_nonces_for_testing(KpNoise *noise, guint64 send_nonce, guint64 recv_nonce);

/* Signs the static key (unless a KpNoiseStaticKey was set) and, for the
 * initiator, queues message 1. */
gboolean kp_noise_start(KpNoise *noise, GError **error);
/* Bytes read from the connection, any split. Whole frames are processed at
 * once (the handshake, then transport frames); a partial frame is kept, at
 * most one frame's worth. @ret_consumed (nullable) is @len on success. Any
 * error moves the channel to KP_NOISE_STATE_FAILED and wipes its keys. */
gboolean kp_noise_feed(KpNoise *noise, const guint8 *data, gsize len, gsize *ret_consumed,
                       GError **error);
/* The connection's read side ended: fails with KP_ERROR_TRUNCATED inside a
 * frame, KP_ERROR_CLOSED during the handshake. */
gboolean kp_noise_feed_eof(KpNoise *noise, GError **error);
/* Moves queued handshake frames to @out; returns the bytes appended. */
gsize kp_noise_take_output(KpNoise *noise, GByteArray *out);
/* Moves decrypted transport plaintext to @out; returns the bytes appended.
 * The queue only grows with what is fed: drain it after each feed. */
gsize kp_noise_take_plaintext(KpNoise *noise, GByteArray *out);
/* Transport state only: appends framed ciphertext for @plaintext to @out,
 * split into frames of at most KP_NOISE_MAX_PLAINTEXT. Queued handshake
 * output (message 3) is moved to @out first so the two cannot be reordered. */
gboolean kp_noise_encrypt(KpNoise *noise, const guint8 *plaintext, gsize len, GByteArray *out,
                          GError **error);

KpNoiseState kp_noise_get_state(const KpNoise *noise);
gboolean kp_noise_is_initiator(const KpNoise *noise);
/* Transport state only (NULL before): the verified remote identity. */
const KpPeerId *kp_noise_get_remote_peer_id(const KpNoise *noise);
const KpPublicKey *kp_noise_get_remote_public_key(const KpNoise *noise);
/* The remote's stream_muxers in its order, NULL-terminated (empty when it
 * sent none); NULL before transport state. */
const char *const *kp_noise_get_remote_muxers(const KpNoise *noise);
/* The muxer both sides listed, first in the initiator's order (libp2p/specs
 * connections/inlined-muxer-negotiation.md), or NULL: then negotiate it with
 * multistream-select as usual. */
const char *kp_noise_select_muxer(const KpNoise *noise);
/* Transport state only: the Noise handshake hash, equal on both sides. */
gboolean kp_noise_get_handshake_hash(const KpNoise *noise, guint8 ret_hash[KP_NOISE_HASH_BYTES]);
void kp_noise_free(KpNoise *noise);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpNoise, kp_noise_free)

G_END_DECLS
