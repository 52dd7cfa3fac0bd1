/* kameo 0.19 remote messaging on /kameo/messaging/1.0.0: one stream per
 * request; the requester writes a CBOR SwarmRequest and closes its side, the
 * responder answers with a SwarmResponse and closes. Failures are answered as
 * kameo 0.19 answers them (see shared/specs/kameo-remote-0.19.md). */
#pragma once

#include "core/kp-kameo.h"
#include "net/kp-host.h"

G_BEGIN_DECLS

/* A request's write side must be closed within this time, or it is reset
 * (kameo does the same). */
#define KP_ACTOR_REQUEST_READ_TIMEOUT_MS 10000
/* Requests being read or handled at once for one remote peer id, across
 * all its connections; more are reset, with the peer id logged. */
#define KP_ACTOR_MAX_REQUESTS_PER_PEER     256
#define KP_ACTOR_MAX_REQUESTS_PER_PEER_MIN 1
#define KP_ACTOR_MAX_REQUESTS_PER_PEER_MAX 65536
/* Bounds of the request and response size limits; the upper bounds are the
 * codec's own (KP_KAMEO_MAX_REQUEST, KP_KAMEO_MAX_RESPONSE). */
#define KP_ACTOR_MAX_MESSAGE_BYTES_MIN 1024
/* Refusals logged per server at most once per interval; the rest are summed
 * up in one line at its end. */
#define KP_ACTOR_REFUSAL_LOG_INTERVAL_MS 1000

/* Per-peer request counts that fell to zero are kept for the peer's next
 * request (a sequential client's count goes 0, 1, 0 every ask) until this
 * many have piled up; then every zero count is dropped at once. */
#define KP_ACTOR_MAX_IDLE_PEER_COUNTS 64
/* An ask without a reply by then fails with KP_ERROR_TIMEOUT. */
#define KP_ACTOR_DEFAULT_ASK_TIMEOUT_MS 10000

/* An ask is written at once, not at the end of the read being handled,
 * while its connection has no more streams open than this: itself and the
 * ask whose answer started it. */
#define KP_ACTOR_LONE_ASK_STREAMS 2

typedef struct _KpActorServer KpActorServer;
typedef struct _KpActorRequest KpActorRequest;

/* Handles one message for a local actor. Reply (later is fine) with
 * kp_actor_request_reply() or kp_actor_request_fail(); a Tell's reply is
 * dropped and "Ok" sent. */
typedef void (*KpActorMessageFunc)(KpActorRequest *request, guint64 actor_seq,
                                   const guint8 *payload, gsize len, gpointer user_data);

typedef struct {
        guint max_requests_per_peer; /* KP_ACTOR_MAX_REQUESTS_PER_PEER_MIN .. _MAX */
        /* A request whose bytes pass this is reset unanswered. */
        guint max_request_bytes; /* KP_ACTOR_MAX_MESSAGE_BYTES_MIN .. KP_KAMEO_MAX_REQUEST */
        /* A reply that encodes larger is not sent: the stream is reset. */
        guint max_response_bytes; /* KP_ACTOR_MAX_MESSAGE_BYTES_MIN .. KP_KAMEO_MAX_RESPONSE */
} KpActorLimits;

/* The defaults: KP_ACTOR_MAX_REQUESTS_PER_PEER, KP_KAMEO_MAX_REQUEST and
 * KP_KAMEO_MAX_RESPONSE. */
void kp_actor_limits_init(KpActorLimits *limits);
/* FALSE with KP_ERROR_INVALID naming the first field out of its bounds. */
gboolean kp_actor_limits_validate(const KpActorLimits *limits, GError **error);

KpActorServer *kp_actor_server_new(KpHost *host);
/* For requests from now on; @limits must pass kp_actor_limits_validate(). */
void kp_actor_server_set_limits(KpActorServer *server, const KpActorLimits *limits);
void kp_actor_server_free(KpActorServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpActorServer, kp_actor_server_free)

/* A running actor of type @actor_remote_id; returns its sequence id. */
guint64 kp_actor_server_spawn(KpActorServer *server, const char *actor_remote_id);
void kp_actor_server_stop(KpActorServer *server, guint64 actor_seq);
void kp_actor_server_add_handler(KpActorServer *server, const char *actor_remote_id,
                                 const char *message_remote_id, KpActorMessageFunc func,
                                 gpointer user_data);
/* Requests answered, and requests refused or dropped, since start. */
guint64 kp_actor_server_get_n_answered(KpActorServer *server);
guint64 kp_actor_server_get_n_failed(KpActorServer *server);

void kp_actor_request_reply(KpActorRequest *request, GBytes *reply);
void kp_actor_request_fail(KpActorRequest *request, KpKameoSendError error, const char *text);
const KpPeerId *kp_actor_request_get_peer(KpActorRequest *request);
KpKameoRequestKind kp_actor_request_get_kind(KpActorRequest *request);

/* Called once per ask: @response (owned by the callee) is the peer's
 * SwarmResponse, which may carry a RemoteSendError; or NULL with @error. */
typedef void (*KpActorReplyFunc)(KpKameoResponse *response, const GError *error,
                                 gpointer user_data);

/* Sends @request on a new stream of @conn; @func is called once, never from
 * inside this call; the timeout bounds the wait. A plain callback, not a
 * GTask: kpingctl asks many times a second, and a GTask is a GObject made
 * and finalised per ask (a tenth of a pipelined ask's instructions). */
void kp_actor_ask(KpConnection *conn, const KpKameoRequest *request, guint timeout_ms,
                  KpActorReplyFunc func, gpointer user_data);

G_END_DECLS
