#define G_LOG_DOMAIN "kp-actor"

#include "actor/kp-actor-messaging.h"

#include "core/kp-error.h"
#include "net/kp-deadlines.h"
#include "net/kp-log-limiter.h"

/* ---- the responder ------------------------------------------------------ */

typedef struct {
        KpActorMessageFunc func;
        gpointer user_data;
        char *actor_remote_id;
        char *message_remote_id;
} KpActorHandler;

static void
handler_free(KpActorHandler *h)
{
        g_free(h->actor_remote_id);
        g_free(h->message_remote_id);
        g_free(h);
}

struct _KpActorServer {
        KpHost *host;
        GHashTable *handlers;         /* "actor\nmessage" -> KpActorHandler */
        GHashTable *actors;           /* guint64* seq -> char* actor_remote_id */
        GHashTable *per_peer;         /* &KpActorPeerCount.peer -> KpActorPeerCount* (owned) */
        guint n_idle_counts;          /* entries of @per_peer at zero */
        KpActorHandler *last_handler; /* of lookup_handler(), in @handlers */
        KpDeadlines *read_deadlines;  /* of KpActorRequest*, until their FIN */
        KpActorLimits limits;
        KpLogLimiter refusals; /* MaxRequestsPerPeer lines */
        guint64 next_seq;
        guint64 n_answered;
        guint64 n_failed;
};

/* Open requests of one remote peer, across its connections. */
typedef struct {
        KpPeerId peer;
        guint n_open;
} KpActorPeerCount;

struct _KpActorRequest {
        gint ref_count;
        KpActorServer *server;     /* NULL once the server is gone */
        KpStream *stream;          /* NULL once the stream is finished */
        KpActorPeerCount *counted; /* in per_peer, until released */
        KpPeerId peer;
        GByteArray *body;
        KpDeadline read_deadline;
        KpKameoRequestKind kind;
        gboolean answered;
};

static void log_request_failure(const KpPeerId *peer, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
log_request_failure(const KpPeerId *peer, const char *fmt, ...)
{
        g_autofree char *id = kp_peer_id_to_string(peer);
        g_autofree char *text = NULL;
        va_list args;

        va_start(args, fmt);
        text = g_strdup_vprintf(fmt, args);
        va_end(args);
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "KPING_REMOTE_PEER_ID", id, "MESSAGE",
                         "kameo request from %s: %s", id, text);
}

static KpActorRequest *
request_ref(KpActorRequest *r)
{
        r->ref_count++;
        return r;
}

static void
request_unref(KpActorRequest *r)
{
        if (--r->ref_count > 0)
                return;
        kp_deadline_cancel(&r->read_deadline);
        g_clear_pointer(&r->body, g_byte_array_unref);
        g_clear_pointer(&r->stream, kp_stream_unref);
        g_free(r);
}

static gboolean
peer_count_is_idle(gpointer key, gpointer value, gpointer user_data)
{
        const KpActorPeerCount *count = value;

        return count->n_open == 0;
}

static void
per_peer_release(KpActorRequest *r)
{
        KpActorServer *s = r->server;

        if (s == NULL || r->counted == NULL)
                return;
        if (--r->counted->n_open == 0 && ++s->n_idle_counts > KP_ACTOR_MAX_IDLE_PEER_COUNTS) {
                g_hash_table_foreach_remove(s->per_peer, peer_count_is_idle, NULL);
                s->n_idle_counts = 0;
        }
        r->counted = NULL;
}

void
kp_actor_limits_init(KpActorLimits *limits)
{
        limits->max_requests_per_peer = KP_ACTOR_MAX_REQUESTS_PER_PEER;
        limits->max_request_bytes = KP_KAMEO_MAX_REQUEST;
        limits->max_response_bytes = KP_KAMEO_MAX_RESPONSE;
}

gboolean
kp_actor_limits_validate(const KpActorLimits *l, GError **error)
{
        return kp_error_check_range("max_requests_per_peer", l->max_requests_per_peer,
                                    KP_ACTOR_MAX_REQUESTS_PER_PEER_MIN,
                                    KP_ACTOR_MAX_REQUESTS_PER_PEER_MAX, error)
               && kp_error_check_range("max_request_bytes", l->max_request_bytes,
                                       KP_ACTOR_MAX_MESSAGE_BYTES_MIN, KP_KAMEO_MAX_REQUEST, error)
               && kp_error_check_range("max_response_bytes", l->max_response_bytes,
                                       KP_ACTOR_MAX_MESSAGE_BYTES_MIN, KP_KAMEO_MAX_RESPONSE,
                                       error);
}

void
kp_actor_server_set_limits(KpActorServer *s, const KpActorLimits *limits)
{
        g_autoptr(GError) error = NULL;

        if (!kp_actor_limits_validate(limits, &error)) {
                g_critical("kp_actor_server_set_limits: %s", error->message);
                return;
        }
        s->limits = *limits;
}

static void
send_response(KpActorRequest *r, KpKameoResponse *resp)
{
        KpConnection *conn;
        g_autoptr(GBytes) wire = NULL;
        g_autoptr(GError) error = NULL;
        gsize len;
        const guint8 *data;

        if (r->answered)
                return;
        r->answered = TRUE;
        if (r->stream == NULL)
                return; /* the requester gave up */
        wire = kp_kameo_response_encode(resp, &error);
        if (wire == NULL) {
                log_request_failure(&r->peer, "cannot encode the response: %s", error->message);
                kp_stream_reset(r->stream);
                return;
        }
        if (r->server != NULL && g_bytes_get_size(wire) > r->server->limits.max_response_bytes) {
                log_request_failure(&r->peer,
                                    "response of %" G_GSIZE_FORMAT
                                    " bytes over %u (MaxActorResponseBytes): stream reset",
                                    g_bytes_get_size(wire), r->server->limits.max_response_bytes);
                kp_stream_reset(r->stream);
                return;
        }
        data = g_bytes_get_data(wire, &len);
        conn = kp_stream_get_connection(r->stream);
        if (conn == NULL)
                return;
        /* The reply and its FIN: one frame, one write. */
        kp_connection_ref(conn);
        kp_connection_hold_output(conn);
        kp_stream_write(r->stream, data, len);
        kp_stream_close_write(r->stream);
        kp_connection_release_output(conn);
        /* The only request on the connection (a sequential client): its
         * reply need not wait for the rest of the read. */
        if (kp_connection_get_n_streams(conn) == 0)
                kp_connection_flush_now(conn);
        kp_connection_unref(conn);
}

void
kp_actor_request_reply(KpActorRequest *r, GBytes *reply)
{
        g_autoptr(KpKameoResponse) resp = NULL;

        if (r->kind == KP_KAMEO_REQUEST_TELL) {
                resp = kp_kameo_response_new_ask_ok(NULL);
                resp->kind = KP_KAMEO_RESPONSE_TELL;
        } else {
                resp = kp_kameo_response_new_ask_ok(reply);
        }
        if (r->server != NULL && !r->answered)
                r->server->n_answered++;
        send_response(r, resp);
        request_unref(r);
}

void
kp_actor_request_fail(KpActorRequest *r, KpKameoSendError err, const char *text)
{
        g_autoptr(KpKameoResponse) resp = kp_kameo_response_new_error(
            r->kind == KP_KAMEO_REQUEST_TELL ? KP_KAMEO_RESPONSE_TELL : KP_KAMEO_RESPONSE_ASK, err);

        resp->text = g_strdup(text);
        if (r->server != NULL && !r->answered)
                r->server->n_failed++;
        log_request_failure(&r->peer, "answered %s%s%s", kp_kameo_send_error_to_string(err),
                            text != NULL ? ": " : "", text != NULL ? text : "");
        send_response(r, resp);
        request_unref(r);
}

const KpPeerId *
kp_actor_request_get_peer(KpActorRequest *r)
{
        return &r->peer;
}

KpKameoRequestKind
kp_actor_request_get_kind(KpActorRequest *r)
{
        return r->kind;
}

/* The handler for an (actor type, message) pair; the last one found is
 * remembered, as a client asks the same pair over and over. */
static KpActorHandler *
lookup_handler(KpActorServer *s, const char *actor_remote_id, const char *message_remote_id)
{
        KpActorHandler *h = s->last_handler;
        g_autofree char *key = NULL;

        if (h != NULL && g_str_equal(h->actor_remote_id, actor_remote_id)
            && g_str_equal(h->message_remote_id, message_remote_id))
                return h;
        key = g_strconcat(actor_remote_id, "\n", message_remote_id, NULL);
        h = g_hash_table_lookup(s->handlers, key);
        if (h != NULL)
                s->last_handler = h;
        return h;
}

/* Dispatch in kameo 0.19's order: (actor type, message) pair, then the
 * running actor, then its type; the payload is the handler's to decode. */
static void
dispatch(KpActorRequest *r, KpKameoRequest *req)
{
        KpActorServer *s = r->server;
        KpActorHandler *h = lookup_handler(s, req->actor_remote_id, req->message_remote_id);
        const char *running_type;
        gsize len;
        const guint8 *payload;

        r->kind = req->kind;
        if (h == NULL) {
                g_autoptr(KpKameoResponse) resp = kp_kameo_response_new_error(
                    req->kind == KP_KAMEO_REQUEST_TELL ? KP_KAMEO_RESPONSE_TELL
                                                       : KP_KAMEO_RESPONSE_ASK,
                    KP_KAMEO_SEND_ERROR_UNKNOWN_MESSAGE);
                resp->actor_remote_id = g_strdup(req->actor_remote_id);
                resp->message_remote_id = g_strdup(req->message_remote_id);
                s->n_failed++;
                log_request_failure(&r->peer, "answered UnknownMessage for %s / %s",
                                    req->actor_remote_id, req->message_remote_id);
                send_response(r, resp);
                return;
        }
        running_type = g_hash_table_lookup(s->actors, &req->actor_seq);
        if (running_type == NULL
            || (!req->actor_is_local
                && !kp_peer_id_equal(&req->actor_peer, kp_host_get_peer_id(s->host)))) {
                kp_actor_request_fail(request_ref(r), KP_KAMEO_SEND_ERROR_ACTOR_NOT_RUNNING, NULL);
                return;
        }
        if (!g_str_equal(running_type, req->actor_remote_id)) {
                kp_actor_request_fail(request_ref(r), KP_KAMEO_SEND_ERROR_BAD_ACTOR_TYPE, NULL);
                return;
        }
        payload = g_bytes_get_data(req->payload, &len);
        h->func(request_ref(r), req->actor_seq, payload, len, h->user_data);
}

static void
on_request_data(KpStream *stream, const guint8 *data, gsize len, gpointer user_data)
{
        KpActorRequest *r = user_data;

        guint max = r->server != NULL ? r->server->limits.max_request_bytes : KP_KAMEO_MAX_REQUEST;

        if (r->body->len + len > max) {
                log_request_failure(&r->peer,
                                    "request over %u bytes (MaxActorRequestBytes): stream "
                                    "reset",
                                    max);
                kp_stream_reset(stream);
                return;
        }
        g_byte_array_append(r->body, data, (guint)len);
}

static void
on_request_eof(KpStream *stream, gpointer user_data)
{
        KpActorRequest *r = user_data;
        g_autoptr(KpKameoRequest) req = NULL;
        g_autoptr(GError) error = NULL;

        kp_deadline_cancel(&r->read_deadline);
        if (r->server == NULL) {
                kp_stream_reset(stream);
                return;
        }
        req = kp_kameo_request_decode(r->body->data, r->body->len, &error);
        g_byte_array_set_size(r->body, 0);
        if (req == NULL) {
                /* kameo sends nothing back for a request it cannot decode: the
                 * requester sees a clean end of stream. */
                r->server->n_failed++;
                r->answered = TRUE;
                log_request_failure(&r->peer, "does not decode (%s): closed without answer",
                                    error->message);
                kp_stream_close_write(stream);
                return;
        }
        dispatch(r, req);
}

static void
on_request_closed(KpStream *stream, const GError *error, gpointer user_data)
{
        KpActorRequest *r = user_data;

        if (error != NULL && !r->answered)
                log_request_failure(&r->peer, "stream failed: %s", error->message);
        per_peer_release(r);
        g_clear_pointer(&r->stream, kp_stream_unref);
        request_unref(r);
}

static void
on_request_read_timeout(gpointer data, gpointer user_data)
{
        KpActorRequest *r = data;

        log_request_failure(&r->peer, "write side not closed within %d ms: stream reset",
                            KP_ACTOR_REQUEST_READ_TIMEOUT_MS);
        if (r->stream != NULL)
                kp_stream_reset(r->stream);
}

static void
on_messaging_stream(KpStream *stream, gpointer user_data)
{
        static const KpStreamCallbacks callbacks = {
                .data = on_request_data,
                .eof = on_request_eof,
                .closed = on_request_closed,
        };
        KpActorServer *s = user_data;
        KpConnection *conn = kp_stream_get_connection(stream);
        const KpPeerId *peer = kp_connection_get_remote_peer_id(conn);
        KpActorPeerCount *count = g_hash_table_lookup(s->per_peer, peer);
        guint n = count != NULL ? count->n_open : 0;
        KpActorRequest *r;

        if (n >= s->limits.max_requests_per_peer) {
                /* at most one line per interval, the rest summed up, so a
                 * peer opening streams in a loop cannot flood the log */
                if (kp_log_limiter_admit(&s->refusals, 1))
                        log_request_failure(peer,
                                            "%u requests at once from this peer "
                                            "(MaxRequestsPerPeer): stream reset",
                                            n);
                s->n_failed++;
                kp_stream_reset(stream);
                return;
        }
        if (count == NULL) {
                count = g_new0(KpActorPeerCount, 1);
                count->peer = *peer;
                g_hash_table_insert(s->per_peer, &count->peer, count);
        } else if (count->n_open == 0) {
                s->n_idle_counts--;
        }
        count->n_open++;
        r = g_new0(KpActorRequest, 1);
        r->ref_count = 1; /* the stream's */
        r->server = s;
        r->counted = count;
        r->stream = kp_stream_ref(stream);
        r->peer = *peer;
        r->body = g_byte_array_new();
        kp_deadlines_add(s->read_deadlines, &r->read_deadline, KP_ACTOR_REQUEST_READ_TIMEOUT_MS, r);
        kp_stream_set_callbacks(stream, &callbacks, r);
}

KpActorServer *
kp_actor_server_new(KpHost *host)
{
        KpActorServer *s = g_new0(KpActorServer, 1);

        s->host = host;
        s->handlers
            = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)handler_free);
        s->actors = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
        s->per_peer = g_hash_table_new_full(kp_peer_id_hash, kp_peer_id_equal_func, NULL, g_free);
        s->read_deadlines = kp_deadlines_new(on_request_read_timeout, s);
        kp_actor_limits_init(&s->limits);
        kp_log_limiter_init(&s->refusals, G_LOG_DOMAIN, "kameo requests", "MaxRequestsPerPeer",
                            KP_ACTOR_REFUSAL_LOG_INTERVAL_MS);
        s->next_seq = 0;
        kp_host_set_stream_handler(host, KP_KAMEO_PROTOCOL_MESSAGING, on_messaging_stream, s);
        return s;
}

void
kp_actor_server_free(KpActorServer *s)
{
        if (s == NULL)
                return;
        g_hash_table_unref(s->handlers);
        g_hash_table_unref(s->actors);
        g_hash_table_unref(s->per_peer);
        kp_log_limiter_clear(&s->refusals);
        kp_deadlines_free(s->read_deadlines);
        g_free(s);
}

guint64
kp_actor_server_spawn(KpActorServer *s, const char *actor_remote_id)
{
        guint64 *seq = g_new(guint64, 1);

        *seq = s->next_seq++;
        g_hash_table_insert(s->actors, seq, g_strdup(actor_remote_id));
        return *seq;
}

void
kp_actor_server_stop(KpActorServer *s, guint64 actor_seq)
{
        g_hash_table_remove(s->actors, &actor_seq);
}

void
kp_actor_server_add_handler(KpActorServer *s, const char *actor_remote_id,
                            const char *message_remote_id, KpActorMessageFunc func,
                            gpointer user_data)
{
        KpActorHandler *h = g_new0(KpActorHandler, 1);

        h->func = func;
        h->user_data = user_data;
        h->actor_remote_id = g_strdup(actor_remote_id);
        h->message_remote_id = g_strdup(message_remote_id);
        /* a replaced handler is freed: forget the remembered one */
        s->last_handler = NULL;
        g_hash_table_replace(s->handlers,
                             g_strconcat(actor_remote_id, "\n", message_remote_id, NULL), h);
}

guint64
kp_actor_server_get_n_answered(KpActorServer *s)
{
        return s->n_answered;
}

guint64
kp_actor_server_get_n_failed(KpActorServer *s)
{
        return s->n_failed;
}

/* ---- the requester ------------------------------------------------------ */

typedef struct {
        KpActorReplyFunc func; /* NULL once called */
        gpointer user_data;
        KpStream *stream;
        GByteArray *body;
        KpDeadline deadline;
        gboolean eof;
        gboolean starting; /* inside kp_actor_ask(): a reply waits for an idle */
} KpActorSend;

/* A reply that came before kp_actor_ask() returned: callers never see
 * their callback run inside the call that started the ask. */
typedef struct {
        KpActorReplyFunc func;
        gpointer user_data;
        KpKameoResponse *response;
        GError *error;
} KpActorLateReply;

static void on_send_timeout(gpointer data, gpointer user_data);

/* The asks of the process share one timer: like g_timeout_add(), on the
 * global default main context. Never freed (still reachable at exit). */
static KpDeadlines *
send_deadlines(void)
{
        static KpDeadlines *deadlines;

        if (deadlines == NULL)
                deadlines = kp_deadlines_new(on_send_timeout, NULL);
        return deadlines;
}

static gboolean
deliver_late_reply(gpointer data)
{
        KpActorLateReply *late = data;

        late->func(late->response, late->error, late->user_data);
        g_clear_error(&late->error);
        g_free(late);
        return G_SOURCE_REMOVE;
}

static void
reply_later(KpActorReplyFunc func, gpointer user_data, KpKameoResponse *resp, GError *error)
{
        KpActorLateReply *late = g_new0(KpActorLateReply, 1);

        late->func = func;
        late->user_data = user_data;
        late->response = resp;
        late->error = error;
        g_idle_add(deliver_late_reply, late);
}

/* Calls the requester once; takes @resp and @error. @s may be freed by the
 * callback (it can close the connection): not touched after it. */
static void
send_complete(KpActorSend *s, KpKameoResponse *resp, GError *error)
{
        KpActorReplyFunc func = s->func;

        if (func == NULL) {
                g_clear_error(&error);
                g_clear_pointer(&resp, kp_kameo_response_free);
                return;
        }
        s->func = NULL;
        kp_deadline_cancel(&s->deadline);
        if (s->starting) {
                reply_later(func, s->user_data, resp, error);
                return;
        }
        func(resp, error, s->user_data);
        g_clear_error(&error);
}

static void
on_response_data(KpStream *stream, const guint8 *data, gsize len, gpointer user_data)
{
        KpActorSend *s = user_data;

        if (s->body->len + len > KP_KAMEO_MAX_RESPONSE) {
                send_complete(s, NULL,
                              g_error_new(KP_ERROR, KP_ERROR_TOO_LARGE,
                                          "kameo response over %d bytes", KP_KAMEO_MAX_RESPONSE));
                kp_stream_reset(stream);
                return;
        }
        g_byte_array_append(s->body, data, (guint)len);
}

static void
on_response_eof(KpStream *stream, gpointer user_data)
{
        KpActorSend *s = user_data;
        GError *error = NULL;
        KpKameoResponse *resp;

        s->eof = TRUE;
        if (s->body->len == 0) {
                send_complete(s, NULL,
                              g_error_new(KP_ERROR, KP_ERROR_PROTOCOL,
                                          "the peer closed the request without an answer "
                                          "(it could not decode it)"));
                return;
        }
        resp = kp_kameo_response_decode(s->body->data, s->body->len, &error);
        if (resp == NULL)
                g_prefix_error(&error, "kameo response: ");
        send_complete(s, resp, error);
}

static void
on_response_closed(KpStream *stream, const GError *error, gpointer user_data)
{
        KpActorSend *s = user_data;

        /* Answered asks (nearly all) close here too: no error to make. */
        if (s->func != NULL)
                send_complete(s, NULL,
                              error != NULL
                                  ? g_error_copy(error)
                                  : g_error_new(KP_ERROR, KP_ERROR_CLOSED,
                                                "request stream closed without an answer"));
        kp_deadline_cancel(&s->deadline);
        g_clear_pointer(&s->stream, kp_stream_unref);
        g_clear_pointer(&s->body, g_byte_array_unref);
        g_free(s);
}

static void
on_send_timeout(gpointer data, gpointer user_data)
{
        KpActorSend *s = data;
        g_autoptr(KpStream) stream = s->stream != NULL ? kp_stream_ref(s->stream) : NULL;

        send_complete(s, NULL, g_error_new(KP_ERROR, KP_ERROR_TIMEOUT, "no answer in time"));
        if (stream != NULL)
                kp_stream_reset(stream);
}

void
kp_actor_ask(KpConnection *conn, const KpKameoRequest *request, guint timeout_ms,
             KpActorReplyFunc func, gpointer user_data)
{
        static const char *const protocols[] = { KP_KAMEO_PROTOCOL_MESSAGING, NULL };
        static const KpStreamCallbacks callbacks = {
                .data = on_response_data,
                .eof = on_response_eof,
                .closed = on_response_closed,
        };
        g_autoptr(GBytes) wire = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(KpStream) stream = NULL;
        KpActorSend *s;
        gsize len;
        const guint8 *data;

        g_return_if_fail(func != NULL);
        wire = kp_kameo_request_encode(request, &error);
        if (wire == NULL) {
                reply_later(func, user_data, NULL, g_steal_pointer(&error));
                return;
        }
        s = g_new0(KpActorSend, 1);
        s->func = func;
        s->user_data = user_data;
        s->body = g_byte_array_new();
        /* The stream's SYN, the proposal, the request and the FIN: one frame. */
        kp_connection_hold_output(conn);
        stream = kp_connection_open_stream(conn, protocols, &callbacks, s, &error);
        if (stream == NULL) {
                kp_connection_release_output(conn);
                g_byte_array_unref(s->body);
                g_free(s);
                reply_later(func, user_data, NULL, g_steal_pointer(&error));
                return;
        }
        /* kp_connection_open_stream()'s reference belongs to the connection;
         * ours keeps @stream while a failed write may finish it (and free
         * @s) below. */
        kp_stream_ref(stream);
        s->stream = kp_stream_ref(stream);
        s->starting = TRUE;
        kp_deadlines_add(send_deadlines(), &s->deadline,
                         timeout_ms > 0 ? timeout_ms : KP_ACTOR_DEFAULT_ASK_TIMEOUT_MS, s);
        data = g_bytes_get_data(wire, &len);
        kp_stream_write(stream, data, len);
        /* A stream finished by a failed write has freed @s. */
        if (kp_stream_get_connection(stream) != NULL)
                kp_stream_close_write(stream);
        kp_connection_release_output(conn);
        if (kp_stream_get_connection(stream) != NULL)
                s->starting = FALSE;
        /* Alone but for the ask just answered (a sequential session): the
         * request leaves now, not after that ask's bookkeeping. */
        if (kp_connection_get_n_streams(conn) <= KP_ACTOR_LONE_ASK_STREAMS)
                kp_connection_flush_now(conn);
}
