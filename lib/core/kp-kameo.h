/* kameo 0.19 remote messaging (/kameo/messaging/1.0.0), sans-I/O: the CBOR
 * SwarmRequest / SwarmResponse envelopes as serde + cbor4ii 0.3 write them,
 * and the MessagePack payloads of kping::Ping as rmp_serde::to_vec_named
 * writes them. Facts from tqwewe/kameo v0.19.0; see
 * shared/specs/kameo-remote-0.19.md.
 *
 * Encoding is canonical: shortest heads, definite lengths, fields in
 * declaration order, no tags, no floats. Decoding is as lenient as serde
 * derive + cbor4ii: struct keys in any order, unknown keys ignored (but
 * still required to be well formed), non-shortest heads and indefinite
 * lengths accepted, a missing Option field is None, null or undefined is None.
 * Like cbor4ii (and unlike rmp_serde) a CBOR struct must be a map; duplicate
 * keys, tags and floats where a value is expected are refused, as serde does.
 * kping also refuses bytes after the top-level item and text holding NUL.
 *
 * Hostile input cannot expand: CBOR is read with libcbor's streaming decoder
 * (cbor_stream_decode, one header at a time, no item tree), so the decoded
 * value never takes more memory than the input; nesting in skipped values is
 * bounded by KP_KAMEO_MAX_DEPTH. MessagePack is pre-scanned without
 * allocating (every declared element must fit in the bytes left, at most
 * KP_KAMEO_MSGPACK_MAX_ITEMS objects, depth at most KP_KAMEO_MSGPACK_MAX_DEPTH)
 * before msgpack-c builds its object tree.
 *
 * Every decode error is KP_ERROR_INVALID with a message naming what was
 * wrong, except input over a size limit (KP_ERROR_TOO_LARGE) and a
 * well-formed SwarmRequest kping does not serve (Link, Unlink,
 * SignalLinkDied: KP_ERROR_UNSUPPORTED). */
#pragma once

#include <glib.h>

#include "core/kp-peer-id.h"

G_BEGIN_DECLS

#define KP_KAMEO_PROTOCOL_MESSAGING "/kameo/messaging/1.0.0"

/* kameo's request_response limits (messaging.rs Config::default). */
#define KP_KAMEO_MAX_REQUEST  (1024 * 1024)
#define KP_KAMEO_MAX_RESPONSE (10 * 1024 * 1024)
/* Nesting of arrays, maps and tags; kameo's own values nest at most 4 deep,
 * so deeper data can only be in an ignored field. */
#define KP_KAMEO_MAX_DEPTH 64
/* Objects in one MessagePack payload: each costs msgpack-c a 24-byte
 * msgpack_object, so this caps the tree at 1.5 MiB whatever the input. */
#define KP_KAMEO_MSGPACK_MAX_ITEMS 65536
/* MessagePack nesting; msgpack-c's own parser stack holds 32 levels. */
#define KP_KAMEO_MSGPACK_MAX_DEPTH 16

/* An ActorId on the wire: u64 LE sequence id, then the peer id bytes. */
#define KP_KAMEO_ACTOR_SEQ_LEN 8

#define KP_KAMEO_PING_ACTOR_REMOTE_ID   "kping::PingActor"
#define KP_KAMEO_PING_MESSAGE_REMOTE_ID "kping::Ping"

typedef struct {
        guint64 secs;
        guint32 nanos; /* < 1e9 after decoding (serde carries the excess) */
} KpKameoDuration;

typedef enum {
        KP_KAMEO_REQUEST_ASK,
        KP_KAMEO_REQUEST_TELL,
} KpKameoRequestKind;

typedef struct {
        KpKameoRequestKind kind;
        guint64 actor_seq;
        gboolean actor_is_local; /* an 8-byte actor_id: no peer id */
        KpPeerId actor_peer;     /* when !actor_is_local */
        char *actor_remote_id;
        char *message_remote_id;
        GBytes *payload; /* MessagePack; never NULL after decoding */
        gboolean has_mailbox_timeout;
        KpKameoDuration mailbox_timeout;
        gboolean has_reply_timeout; /* Ask only; ignored for Tell */
        KpKameoDuration reply_timeout;
        gboolean immediate;
} KpKameoRequest;

void kp_kameo_request_free(KpKameoRequest *req);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpKameoRequest, kp_kameo_request_free)

/* NULL with KP_ERROR_TOO_LARGE when the body would exceed
 * KP_KAMEO_MAX_REQUEST. A NULL payload encodes as an empty one. */
GBytes *kp_kameo_request_encode(const KpKameoRequest *req, GError **error);
KpKameoRequest *kp_kameo_request_decode(const guint8 *data, gsize len, GError **error);

typedef enum {
        KP_KAMEO_RESPONSE_ASK,
        KP_KAMEO_RESPONSE_TELL,
        KP_KAMEO_RESPONSE_LINK,
        KP_KAMEO_RESPONSE_UNLINK,
        KP_KAMEO_RESPONSE_SIGNAL_LINK_DIED,
        KP_KAMEO_RESPONSE_OUTBOUND_FAILURE,
} KpKameoResponseKind;

/* RemoteSendError, minus Io (#[serde(skip)]: never on the wire). */
typedef enum {
        KP_KAMEO_SEND_ERROR_ACTOR_NOT_RUNNING,
        KP_KAMEO_SEND_ERROR_ACTOR_STOPPED,
        KP_KAMEO_SEND_ERROR_UNKNOWN_ACTOR,   /* actor_remote_id */
        KP_KAMEO_SEND_ERROR_UNKNOWN_MESSAGE, /* actor_remote_id, message_remote_id */
        KP_KAMEO_SEND_ERROR_BAD_ACTOR_TYPE,
        KP_KAMEO_SEND_ERROR_MAILBOX_FULL,
        KP_KAMEO_SEND_ERROR_REPLY_TIMEOUT,
        KP_KAMEO_SEND_ERROR_HANDLER_ERROR,     /* handler_error; Ask responses only */
        KP_KAMEO_SEND_ERROR_SERIALIZE_MESSAGE, /* text */
        KP_KAMEO_SEND_ERROR_DESERIALIZE_MESSAGE,
        KP_KAMEO_SEND_ERROR_SERIALIZE_REPLY,
        KP_KAMEO_SEND_ERROR_SERIALIZE_HANDLER_ERROR,
        KP_KAMEO_SEND_ERROR_DESERIALIZE_HANDLER_ERROR,
        KP_KAMEO_SEND_ERROR_SWARM_NOT_BOOTSTRAPPED,
        KP_KAMEO_SEND_ERROR_DIAL_FAILURE,
        KP_KAMEO_SEND_ERROR_NETWORK_TIMEOUT,
        KP_KAMEO_SEND_ERROR_CONNECTION_CLOSED,
        KP_KAMEO_SEND_ERROR_UNSUPPORTED_PROTOCOLS,
        KP_KAMEO_SEND_ERROR_LAST,
} KpKameoSendError;

/* The serde variant name, e.g. "ActorNotRunning"; NULL when out of range. */
const char *kp_kameo_send_error_to_string(KpKameoSendError err);

typedef struct {
        KpKameoResponseKind kind;
        gboolean ok;             /* Ok(..); always FALSE for OUTBOUND_FAILURE */
        GBytes *reply;           /* ASK and ok: the MessagePack reply (NULL encodes as empty) */
        KpKameoSendError error;  /* when !ok */
        char *actor_remote_id;   /* UNKNOWN_ACTOR, UNKNOWN_MESSAGE */
        char *message_remote_id; /* UNKNOWN_MESSAGE */
        char *text;              /* the five String variants */
        GBytes *handler_error;   /* HANDLER_ERROR */
} KpKameoResponse;

void kp_kameo_response_free(KpKameoResponse *resp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpKameoResponse, kp_kameo_response_free)

KpKameoResponse *kp_kameo_response_new_ask_ok(GBytes *reply);
KpKameoResponse *kp_kameo_response_new_error(KpKameoResponseKind kind, KpKameoSendError error);

/* NULL with KP_ERROR_INVALID for a shape kameo cannot express (HandlerError
 * outside an Ask response, a text variant without text), KP_ERROR_TOO_LARGE
 * over KP_KAMEO_MAX_RESPONSE. */
GBytes *kp_kameo_response_encode(const KpKameoResponse *resp, GError **error);
KpKameoResponse *kp_kameo_response_decode(const guint8 *data, gsize len, GError **error);

/* kping::Ping {seq} and its reply {seq, total}, MessagePack maps. Decoding
 * also takes the array form ([seq], [seq, total]), keys in any order, field
 * indices as keys, and ignores unknown keys, as rmp_serde does. */
GBytes *kp_kameo_ping_encode(guint64 seq);
gboolean kp_kameo_ping_decode(const guint8 *data, gsize len, guint64 *ret_seq, GError **error);
GBytes *kp_kameo_pong_encode(guint64 seq, guint64 total);
gboolean kp_kameo_pong_decode(const guint8 *data, gsize len, guint64 *ret_seq, guint64 *ret_total,
                              GError **error);

G_END_DECLS
