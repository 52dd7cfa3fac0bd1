/* kameo 0.19 remote messaging wire format. */
#include "core/kp-kameo.h"

#include <cbor.h>
#include <msgpack.h>
#include <string.h>

#include "core/kp-error.h"

#define NANOS_PER_SEC 1000000000u

/* The actor id's sequence number is a u64, copied as one. */
G_STATIC_ASSERT(KP_KAMEO_ACTOR_SEQ_LEN == sizeof(guint64));

/* A name and its length: names are matched where they lie in the input. */
typedef struct {
        const char *str;
        gsize len;
} Name;
#define NAME(literal)                                                                              \
        {                                                                                          \
                "" literal, sizeof(literal) - 1                                                    \
        }

static const Name send_error_names[KP_KAMEO_SEND_ERROR_LAST] = {
        [KP_KAMEO_SEND_ERROR_ACTOR_NOT_RUNNING] = NAME("ActorNotRunning"),
        [KP_KAMEO_SEND_ERROR_ACTOR_STOPPED] = NAME("ActorStopped"),
        [KP_KAMEO_SEND_ERROR_UNKNOWN_ACTOR] = NAME("UnknownActor"),
        [KP_KAMEO_SEND_ERROR_UNKNOWN_MESSAGE] = NAME("UnknownMessage"),
        [KP_KAMEO_SEND_ERROR_BAD_ACTOR_TYPE] = NAME("BadActorType"),
        [KP_KAMEO_SEND_ERROR_MAILBOX_FULL] = NAME("MailboxFull"),
        [KP_KAMEO_SEND_ERROR_REPLY_TIMEOUT] = NAME("ReplyTimeout"),
        [KP_KAMEO_SEND_ERROR_HANDLER_ERROR] = NAME("HandlerError"),
        [KP_KAMEO_SEND_ERROR_SERIALIZE_MESSAGE] = NAME("SerializeMessage"),
        [KP_KAMEO_SEND_ERROR_DESERIALIZE_MESSAGE] = NAME("DeserializeMessage"),
        [KP_KAMEO_SEND_ERROR_SERIALIZE_REPLY] = NAME("SerializeReply"),
        [KP_KAMEO_SEND_ERROR_SERIALIZE_HANDLER_ERROR] = NAME("SerializeHandlerError"),
        [KP_KAMEO_SEND_ERROR_DESERIALIZE_HANDLER_ERROR] = NAME("DeserializeHandlerError"),
        [KP_KAMEO_SEND_ERROR_SWARM_NOT_BOOTSTRAPPED] = NAME("SwarmNotBootstrapped"),
        [KP_KAMEO_SEND_ERROR_DIAL_FAILURE] = NAME("DialFailure"),
        [KP_KAMEO_SEND_ERROR_NETWORK_TIMEOUT] = NAME("NetworkTimeout"),
        [KP_KAMEO_SEND_ERROR_CONNECTION_CLOSED] = NAME("ConnectionClosed"),
        [KP_KAMEO_SEND_ERROR_UNSUPPORTED_PROTOCOLS] = NAME("UnsupportedProtocols"),
};

static const Name response_kind_names[] = {
        [KP_KAMEO_RESPONSE_ASK] = NAME("Ask"),
        [KP_KAMEO_RESPONSE_TELL] = NAME("Tell"),
        [KP_KAMEO_RESPONSE_LINK] = NAME("Link"),
        [KP_KAMEO_RESPONSE_UNLINK] = NAME("Unlink"),
        [KP_KAMEO_RESPONSE_SIGNAL_LINK_DIED] = NAME("SignalLinkDied"),
        [KP_KAMEO_RESPONSE_OUTBOUND_FAILURE] = NAME("OutboundFailure"),
};

const char *
kp_kameo_send_error_to_string(KpKameoSendError err)
{
        if ((guint)err >= KP_KAMEO_SEND_ERROR_LAST)
                return NULL;
        return send_error_names[err].str;
}

static gboolean
send_error_has_text(KpKameoSendError err)
{
        return err >= KP_KAMEO_SEND_ERROR_SERIALIZE_MESSAGE
               && err <= KP_KAMEO_SEND_ERROR_DESERIALIZE_HANDLER_ERROR;
}

static gboolean
send_error_is_unit(KpKameoSendError err)
{
        return err != KP_KAMEO_SEND_ERROR_UNKNOWN_ACTOR
               && err != KP_KAMEO_SEND_ERROR_UNKNOWN_MESSAGE
               && err != KP_KAMEO_SEND_ERROR_HANDLER_ERROR && !send_error_has_text(err);
}

void
kp_kameo_request_free(KpKameoRequest *req)
{
        if (req == NULL)
                return;
        g_free(req->actor_remote_id);
        g_free(req->message_remote_id);
        g_clear_pointer(&req->payload, g_bytes_unref);
        g_free(req);
}

void
kp_kameo_response_free(KpKameoResponse *resp)
{
        if (resp == NULL)
                return;
        g_clear_pointer(&resp->reply, g_bytes_unref);
        g_clear_pointer(&resp->handler_error, g_bytes_unref);
        g_free(resp->actor_remote_id);
        g_free(resp->message_remote_id);
        g_free(resp->text);
        g_free(resp);
}

KpKameoResponse *
kp_kameo_response_new_ask_ok(GBytes *reply)
{
        KpKameoResponse *resp = g_new(KpKameoResponse, 1);

        /* not g_new0(): calloc() is served past glibc's per-thread cache */
        *resp = (KpKameoResponse){
                .kind = KP_KAMEO_RESPONSE_ASK,
                .ok = TRUE,
                .reply = reply != NULL ? g_bytes_ref(reply) : g_bytes_new(NULL, 0),
        };
        return resp;
}

KpKameoResponse *
kp_kameo_response_new_error(KpKameoResponseKind kind, KpKameoSendError error)
{
        KpKameoResponse *resp = g_new0(KpKameoResponse, 1);

        resp->kind = kind;
        resp->ok = FALSE;
        resp->error = error;
        return resp;
}

/* ---- CBOR encoding ---------------------------------------------------- */

/* libcbor's encoders pick the shortest head; 9 bytes fit any head. */
#define HEAD_MAX 9

/* A message is written once into one buffer, sized up front from the
 * lengths of its parts with every head at its longest, and handed to its
 * GBytes as it is: appending to a GByteArray cost a call, a size check and
 * sometimes a reallocation for every head and every string. */
typedef struct {
        guint8 *data;
        gsize len;
        gsize cap;
} Writer;

static void
w_init(Writer *w, gsize cap)
{
        *w = (Writer){ .data = g_malloc(cap), .cap = cap };
}

/* Room for @n more bytes; only what the size estimate left out (the text
 * of an error response) grows the buffer. */
static inline guint8 *
w_room(Writer *w, gsize n)
{
        if (G_UNLIKELY(n > w->cap - w->len)) {
                w->cap = MAX(2 * w->cap, w->len + n);
                w->data = g_realloc(w->data, w->cap);
        }
        return w->data + w->len;
}

static inline void
enc_uint(Writer *w, guint64 v)
{
        w->len += cbor_encode_uint(v, w_room(w, HEAD_MAX), HEAD_MAX);
}

static inline void
enc_map(Writer *w, gsize n)
{
        w->len += cbor_encode_map_start(n, w_room(w, HEAD_MAX), HEAD_MAX);
}

static inline void
enc_array(Writer *w, gsize n)
{
        w->len += cbor_encode_array_start(n, w_room(w, HEAD_MAX), HEAD_MAX);
}

static inline void
enc_tstr_len(Writer *w, const char *s, gsize len)
{
        guint8 *p = w_room(w, HEAD_MAX + len);
        gsize h = cbor_encode_string_start(len, p, HEAD_MAX);

        if (len > 0)
                memcpy(p + h, s, len);
        w->len += h + len;
}

/* A field or variant name: a string literal, whose length is known at
 * compile time (field names make most of a message). */
#define enc_name(w, literal) enc_tstr_len((w), "" literal, sizeof(literal) - 1)

static void
enc_tstr(Writer *w, const char *s)
{
        enc_tstr_len(w, s, s != NULL ? strlen(s) : 0);
}

static void
enc_simple(Writer *w, guint8 byte)
{
        *w_room(w, 1) = byte;
        w->len++;
}

/* serde's Vec<u8>: an array of unsigned integers, written in place as
 * cbor_encode_uint would (0..23 in one byte, 24..255 as 0x18 and the
 * value): one libcbor call per byte made this the costliest part of every
 * message. Two bytes each is room enough, without counting first. */
static void
enc_u8_seq(Writer *w, const guint8 *data, gsize len)
{
        guint8 *p;

        enc_array(w, len);
        p = w_room(w, 2 * len);
        for (gsize i = 0; i < len; i++) {
                guint8 b = data[i];

                if (b >= 24)
                        *p++ = 0x18;
                *p++ = b;
        }
        w->len = (gsize)(p - w->data);
}

static const guint8 *
bytes_data(GBytes *bytes, gsize *ret_len)
{
        *ret_len = 0;
        return bytes != NULL ? g_bytes_get_data(bytes, ret_len) : NULL;
}

/* The longest a Some(Duration) can take: a map head, two names (sizeof
 * counts a byte for each one's head) and two integers. */
#define DURATION_MAX (3 * HEAD_MAX + sizeof("secs") + sizeof("nanos"))

static void
enc_duration_opt(Writer *w, gboolean has, const KpKameoDuration *d)
{
        if (!has) {
                enc_simple(w, 0xf6);
                return;
        }
        enc_map(w, 2);
        enc_name(w, "secs");
        enc_uint(w, d->secs);
        enc_name(w, "nanos");
        enc_uint(w, d->nanos);
}

static GBytes *
finish(Writer *w, gsize max, const char *what, GError **error)
{
        if (w->len > max) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "kameo: %s of %" G_GSIZE_FORMAT " bytes exceeds limit %" G_GSIZE_FORMAT,
                            what, w->len, max);
                g_free(w->data);
                return NULL;
        }
        return g_bytes_new_take(w->data, w->len);
}

/* A request but for its strings, peer id and payload bytes: the names
 * (sizeof counts a byte for each one's head), six more heads, the actor
 * id's sequence number, two Durations and the immediate flag. */
#define REQUEST_FRAME_MAX                                                                          \
        (sizeof("Tell") + sizeof("actor_id") + sizeof("actor_remote_id")                           \
         + sizeof("message_remote_id") + sizeof("payload") + sizeof("mailbox_timeout")             \
         + sizeof("reply_timeout") + sizeof("immediate") + 6 * HEAD_MAX + KP_KAMEO_ACTOR_SEQ_LEN   \
         + 2 * DURATION_MAX + 1)

GBytes *
kp_kameo_request_encode(const KpKameoRequest *req, GError **error)
{
        gboolean ask = req->kind == KP_KAMEO_REQUEST_ASK;
        gsize actor_len = strlen(req->actor_remote_id != NULL ? req->actor_remote_id : "");
        gsize message_len = strlen(req->message_remote_id != NULL ? req->message_remote_id : "");
        gsize peer_len = req->actor_is_local ? 0 : req->actor_peer.len;
        gsize payload_len;
        const guint8 *payload = bytes_data(req->payload, &payload_len);
        guint64 seq_le;
        Writer w;
        guint8 *p;

        g_return_val_if_fail(
            req->kind == KP_KAMEO_REQUEST_ASK || req->kind == KP_KAMEO_REQUEST_TELL, NULL);

        w_init(&w, REQUEST_FRAME_MAX + peer_len + actor_len + message_len + 2 * payload_len);
        enc_map(&w, 1);
        if (ask)
                enc_name(&w, "Ask");
        else
                enc_name(&w, "Tell");
        enc_map(&w, ask ? 7 : 6);
        enc_name(&w, "actor_id");
        w.len += cbor_encode_bytestring_start(KP_KAMEO_ACTOR_SEQ_LEN + peer_len,
                                              w_room(&w, HEAD_MAX), HEAD_MAX);
        p = w_room(&w, KP_KAMEO_ACTOR_SEQ_LEN + peer_len);
        seq_le = GUINT64_TO_LE(req->actor_seq);
        memcpy(p, &seq_le, sizeof seq_le);
        if (peer_len > 0)
                memcpy(p + KP_KAMEO_ACTOR_SEQ_LEN, req->actor_peer.bytes, peer_len);
        w.len += KP_KAMEO_ACTOR_SEQ_LEN + peer_len;
        enc_name(&w, "actor_remote_id");
        enc_tstr_len(&w, req->actor_remote_id, actor_len);
        enc_name(&w, "message_remote_id");
        enc_tstr_len(&w, req->message_remote_id, message_len);
        enc_name(&w, "payload");
        enc_u8_seq(&w, payload, payload_len);
        enc_name(&w, "mailbox_timeout");
        enc_duration_opt(&w, req->has_mailbox_timeout, &req->mailbox_timeout);
        if (ask) {
                enc_name(&w, "reply_timeout");
                enc_duration_opt(&w, req->has_reply_timeout, &req->reply_timeout);
        }
        enc_name(&w, "immediate");
        enc_simple(&w, req->immediate ? 0xf5 : 0xf4);
        return finish(&w, KP_KAMEO_MAX_REQUEST, "request", error);
}

static gboolean
enc_send_error(Writer *w, const KpKameoResponse *resp, gboolean ask, GError **error)
{
        const char *name = kp_kameo_send_error_to_string(resp->error);
        gsize len;
        const guint8 *data;

        if (name == NULL) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "kameo: no RemoteSendError variant %d", resp->error);
                return FALSE;
        }
        if (send_error_is_unit(resp->error)) {
                enc_tstr(w, name);
                return TRUE;
        }
        enc_map(w, 1);
        enc_tstr(w, name);
        switch (resp->error) {
        case KP_KAMEO_SEND_ERROR_UNKNOWN_ACTOR:
                enc_map(w, 1);
                enc_name(w, "actor_remote_id");
                enc_tstr(w, resp->actor_remote_id);
                return TRUE;
        case KP_KAMEO_SEND_ERROR_UNKNOWN_MESSAGE:
                enc_map(w, 2);
                enc_name(w, "actor_remote_id");
                enc_tstr(w, resp->actor_remote_id);
                enc_name(w, "message_remote_id");
                enc_tstr(w, resp->message_remote_id);
                return TRUE;
        case KP_KAMEO_SEND_ERROR_HANDLER_ERROR:
                /* RemoteSendError<Infallible> cannot hold one. */
                if (!ask) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "kameo: HandlerError is only valid in an Ask response");
                        return FALSE;
                }
                data = bytes_data(resp->handler_error, &len);
                enc_u8_seq(w, data, len);
                return TRUE;
        default:
                if (resp->text == NULL) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "kameo: RemoteSendError::%s needs its text", name);
                        return FALSE;
                }
                enc_tstr(w, resp->text);
                return TRUE;
        }
}

/* Room for the heads and names of any response; an Ask reply's bytes come
 * on top, the strings of an error response grow the buffer. */
#define RESPONSE_FRAME_MAX 128

GBytes *
kp_kameo_response_encode(const KpKameoResponse *resp, GError **error)
{
        gboolean ask = resp->kind == KP_KAMEO_RESPONSE_ASK;
        gsize reply_len;
        const guint8 *reply = bytes_data(resp->reply, &reply_len);
        Writer w;

        g_return_val_if_fail((guint)resp->kind <= KP_KAMEO_RESPONSE_OUTBOUND_FAILURE, NULL);

        w_init(&w, RESPONSE_FRAME_MAX + (ask && resp->ok ? 2 * reply_len : 0));
        enc_map(&w, 1);
        enc_tstr_len(&w, response_kind_names[resp->kind].str, response_kind_names[resp->kind].len);
        if (resp->kind == KP_KAMEO_RESPONSE_OUTBOUND_FAILURE) {
                if (!enc_send_error(&w, resp, FALSE, error))
                        goto fail;
        } else if (resp->ok) {
                enc_map(&w, 1);
                enc_name(&w, "Ok");
                if (ask)
                        enc_u8_seq(&w, reply, reply_len);
                else
                        enc_array(&w, 0); /* () */
        } else {
                enc_map(&w, 1);
                enc_name(&w, "Err");
                if (!enc_send_error(&w, resp, ask, error))
                        goto fail;
        }
        return finish(&w, KP_KAMEO_MAX_RESPONSE, "response", error);
fail:
        g_free(w.data);
        return NULL;
}

/* ---- CBOR decoding ---------------------------------------------------- */

typedef enum {
        TOK_UINT,
        TOK_NEGINT,
        TOK_BSTR,
        TOK_BSTR_INDEF,
        TOK_TSTR,
        TOK_TSTR_INDEF,
        TOK_ARRAY,
        TOK_ARRAY_INDEF,
        TOK_MAP,
        TOK_MAP_INDEF,
        TOK_TAG,
        TOK_FLOAT,
        TOK_BOOL,
        TOK_NULL,
        TOK_UNDEF,
        TOK_BREAK,
        TOK_NONE, /* no callback ran (simple values libcbor skips) */
} TokType;

static const char *const tok_names[] = {
        [TOK_UINT] = "an unsigned integer",
        [TOK_NEGINT] = "a negative integer",
        [TOK_BSTR] = "a byte string",
        [TOK_BSTR_INDEF] = "a byte string",
        [TOK_TSTR] = "a text string",
        [TOK_TSTR_INDEF] = "a text string",
        [TOK_ARRAY] = "an array",
        [TOK_ARRAY_INDEF] = "an array",
        [TOK_MAP] = "a map",
        [TOK_MAP_INDEF] = "a map",
        [TOK_TAG] = "a tag",
        [TOK_FLOAT] = "a float",
        [TOK_BOOL] = "a bool",
        [TOK_NULL] = "null",
        [TOK_UNDEF] = "undefined",
        [TOK_BREAK] = "a break",
        [TOK_NONE] = "an unassigned simple value",
};

typedef struct {
        TokType type;
        gboolean b;
        guint64 u;         /* integer value, tag number, or container length */
        const guint8 *ptr; /* definite strings */
        gsize len;
} Tok;

typedef struct {
        const guint8 *data;
        gsize len;
        gsize pos;
        Tok *tok; /* where the callbacks put the token being read */
} Reader;

/* libcbor has one callback per item kind and integer width; each sets the
 * token's type and what that type carries, the value (or length) or
 * nothing. */
#define KP_CBOR_INT_CALLBACK(name, ctype, toktype)                                                 \
        static void name(void *ctx, ctype v)                                                       \
        {                                                                                          \
                Tok *tok = ((Reader *)ctx)->tok;                                                   \
                tok->type = toktype;                                                               \
                tok->u = v;                                                                        \
        }
#define KP_CBOR_MARK_CALLBACK(name, toktype)                                                       \
        static void name(void *ctx)                                                                \
        {                                                                                          \
                ((Reader *)ctx)->tok->type = toktype;                                              \
        }
KP_CBOR_INT_CALLBACK(cb_u8, uint8_t, TOK_UINT)
KP_CBOR_INT_CALLBACK(cb_u16, uint16_t, TOK_UINT)
KP_CBOR_INT_CALLBACK(cb_u32, uint32_t, TOK_UINT)
KP_CBOR_INT_CALLBACK(cb_u64, uint64_t, TOK_UINT)
KP_CBOR_INT_CALLBACK(cb_n8, uint8_t, TOK_NEGINT)
KP_CBOR_INT_CALLBACK(cb_n16, uint16_t, TOK_NEGINT)
KP_CBOR_INT_CALLBACK(cb_n32, uint32_t, TOK_NEGINT)
KP_CBOR_INT_CALLBACK(cb_n64, uint64_t, TOK_NEGINT)
static void
cb_bstr(void *ctx, cbor_data p, size_t n)
{
        *((Reader *)ctx)->tok = (Tok){ .type = TOK_BSTR, .ptr = p, .len = n };
}
KP_CBOR_MARK_CALLBACK(cb_bstr_indef, TOK_BSTR_INDEF)
static void
cb_tstr(void *ctx, cbor_data p, size_t n)
{
        *((Reader *)ctx)->tok = (Tok){ .type = TOK_TSTR, .ptr = p, .len = n };
}
KP_CBOR_MARK_CALLBACK(cb_tstr_indef, TOK_TSTR_INDEF)
KP_CBOR_INT_CALLBACK(cb_array, size_t, TOK_ARRAY)
KP_CBOR_MARK_CALLBACK(cb_array_indef, TOK_ARRAY_INDEF)
KP_CBOR_INT_CALLBACK(cb_map, size_t, TOK_MAP)
KP_CBOR_MARK_CALLBACK(cb_map_indef, TOK_MAP_INDEF)
KP_CBOR_INT_CALLBACK(cb_tag, uint64_t, TOK_TAG)
static void
cb_float(void *ctx, float v)
{
        ((Reader *)ctx)->tok->type = TOK_FLOAT;
}
static void
cb_double(void *ctx, double v)
{
        ((Reader *)ctx)->tok->type = TOK_FLOAT;
}
KP_CBOR_MARK_CALLBACK(cb_undef, TOK_UNDEF)
KP_CBOR_MARK_CALLBACK(cb_null, TOK_NULL)
static void
cb_bool(void *ctx, bool v)
{
        Tok *tok = ((Reader *)ctx)->tok;

        tok->type = TOK_BOOL;
        tok->b = v;
}
KP_CBOR_MARK_CALLBACK(cb_break, TOK_BREAK)

/* The header comments in libcbor's callbacks.h swap "definite" and
 * "indefinite"; the member types are what counts. */
static const struct cbor_callbacks reader_callbacks = {
        .uint8 = cb_u8,
        .uint16 = cb_u16,
        .uint32 = cb_u32,
        .uint64 = cb_u64,
        .negint8 = cb_n8,
        .negint16 = cb_n16,
        .negint32 = cb_n32,
        .negint64 = cb_n64,
        .byte_string_start = cb_bstr_indef,
        .byte_string = cb_bstr,
        .string = cb_tstr,
        .string_start = cb_tstr_indef,
        .indef_array_start = cb_array_indef,
        .array_start = cb_array,
        .indef_map_start = cb_map_indef,
        .map_start = cb_map,
        .tag = cb_tag,
        .float2 = cb_float,
        .float4 = cb_float,
        .float8 = cb_double,
        .undefined = cb_undef,
        .null = cb_null,
        .boolean = cb_bool,
        .indef_break = cb_break,
};

static gboolean
rd_next(Reader *r, Tok *ret, const char *what, GError **error)
{
        struct cbor_decoder_result res;

        if (r->pos >= r->len) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "kameo: CBOR ends before %s", what);
                return FALSE;
        }
        /* The callbacks fill in only what the token's type carries. */
        ret->type = TOK_NONE;
        r->tok = ret;
        res = cbor_stream_decode(r->data + r->pos, r->len - r->pos, &reader_callbacks, r);
        if (res.status == CBOR_DECODER_NEDATA) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "kameo: CBOR truncated in %s at offset %" G_GSIZE_FORMAT, what, r->pos);
                return FALSE;
        }
        if (res.status != CBOR_DECODER_FINISHED || res.read == 0 || res.read > r->len - r->pos
            || ret->type == TOK_NONE) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "kameo: malformed CBOR in %s at offset %" G_GSIZE_FORMAT
                            " (byte 0x%02x)",
                            what, r->pos, r->data[r->pos]);
                return FALSE;
        }
        r->pos += res.read;
        return TRUE;
}

static gboolean
rd_peek_break(Reader *r)
{
        return r->pos < r->len && r->data[r->pos] == 0xff;
}

static gboolean
wrong_type(const Tok *tok, const char *what, const char *expected, GError **error)
{
        g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "kameo: %s must be %s, got %s", what,
                    expected, tok_names[tok->type]);
        return FALSE;
}

static gboolean skip_item(Reader *r, guint depth, const char *what, GError **error);

static gboolean
skip_rest(Reader *r, const Tok *tok, guint depth, const char *what, GError **error)
{
        Tok chunk;

        if (depth >= KP_KAMEO_MAX_DEPTH) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "kameo: CBOR nesting in %s exceeds depth %d", what, KP_KAMEO_MAX_DEPTH);
                return FALSE;
        }
        switch (tok->type) {
        case TOK_BSTR_INDEF:
        case TOK_TSTR_INDEF:
                for (;;) {
                        if (!rd_next(r, &chunk, what, error))
                                return FALSE;
                        if (chunk.type == TOK_BREAK)
                                return TRUE;
                        if (chunk.type != (tok->type == TOK_BSTR_INDEF ? TOK_BSTR : TOK_TSTR))
                                return wrong_type(&chunk, what, "a string chunk", error);
                }
        case TOK_ARRAY:
        case TOK_MAP:
                /* Every item takes a byte at least: a count larger than the
                 * input ends in truncation, never in a long loop. */
                for (guint64 i = 0; i < tok->u; i++) {
                        if (!skip_item(r, depth + 1, what, error))
                                return FALSE;
                        if (tok->type == TOK_MAP && !skip_item(r, depth + 1, what, error))
                                return FALSE;
                }
                return TRUE;
        case TOK_ARRAY_INDEF:
        case TOK_MAP_INDEF:
                while (!rd_peek_break(r)) {
                        if (!skip_item(r, depth + 1, what, error))
                                return FALSE;
                        if (tok->type == TOK_MAP_INDEF && !skip_item(r, depth + 1, what, error))
                                return FALSE;
                }
                r->pos++;
                return TRUE;
        case TOK_TAG:
                return skip_item(r, depth + 1, what, error);
        case TOK_BREAK:
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "kameo: unexpected break in %s",
                            what);
                return FALSE;
        default:
                return TRUE;
        }
}

static gboolean
skip_item(Reader *r, guint depth, const char *what, GError **error)
{
        Tok tok;

        if (!rd_next(r, &tok, what, error))
                return FALSE;
        return skip_rest(r, &tok, depth, what, error);
}

/* A definite or indefinite string of @type; @out receives its bytes. */
static gboolean
read_string_rest(Reader *r, const Tok *tok, gboolean text, const char *what, GByteArray *out,
                 GError **error)
{
        TokType def = text ? TOK_TSTR : TOK_BSTR;
        Tok chunk;

        if (tok->type == def) {
                g_byte_array_append(out, tok->ptr, (guint)tok->len);
                return TRUE;
        }
        if (tok->type != (text ? TOK_TSTR_INDEF : TOK_BSTR_INDEF))
                return wrong_type(tok, what, text ? "a text string" : "a byte string", error);
        for (;;) {
                if (!rd_next(r, &chunk, what, error))
                        return FALSE;
                if (chunk.type == TOK_BREAK)
                        return TRUE;
                if (chunk.type != def)
                        return wrong_type(&chunk, what, "a definite string chunk", error);
                g_byte_array_append(out, chunk.ptr, (guint)chunk.len);
        }
}

static char *
text_from_bytes(const guint8 *data, gsize len, const char *what, GError **error)
{
        char *text;

        /* g_utf8_validate_len() refuses NUL too: one pass over valid text.
         * A NUL is reported first, whatever else is wrong. */
        if (!g_utf8_validate_len((const char *)data, len, NULL)) {
                if (memchr(data, '\0', len) != NULL)
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "kameo: %s contains a NUL byte", what);
                else
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "kameo: %s is not valid UTF-8", what);
                return NULL;
        }
        text = g_malloc(len + 1);
        if (len > 0)
                memcpy(text, data, len);
        text[len] = '\0';
        return text;
}

static char *
read_text_rest(Reader *r, const Tok *tok, const char *what, GError **error)
{
        g_autoptr(GByteArray) buf = NULL;

        /* A definite string (every encoder's choice) needs no copy. */
        if (tok->type == TOK_TSTR)
                return text_from_bytes(tok->ptr, tok->len, what, error);
        buf = g_byte_array_new();
        if (!read_string_rest(r, tok, TRUE, what, buf, error))
                return NULL;
        return text_from_bytes(buf->data, buf->len, what, error);
}

static char *
read_text(Reader *r, const char *what, GError **error)
{
        Tok tok;

        if (!rd_next(r, &tok, what, error))
                return NULL;
        return read_text_rest(r, &tok, what, error);
}

/* serde's Vec<u8>: an array of unsigned integers 0..255. */
static GBytes *
read_u8_seq(Reader *r, const char *what, GError **error)
{
        g_autofree guint8 *out = NULL;
        const guint8 *in = r->data;
        gsize n = 0, pos, len = r->len;
        guint64 count;
        Tok tok, el;
        gboolean indef;

        if (!rd_next(r, &tok, what, error))
                return NULL;
        if (tok.type != TOK_ARRAY && tok.type != TOK_ARRAY_INDEF) {
                wrong_type(&tok, what, "an array of unsigned integers", error);
                return NULL;
        }
        indef = tok.type == TOK_ARRAY_INDEF;
        count = indef ? G_MAXUINT64 : tok.u;
        /* Each element takes at least one byte of input: what is left of it
         * bounds the count, so @out never needs to grow. */
        out = g_malloc(MAX(MIN(count, len - r->pos), 1));
        /* The position is kept in a local: stores through @out could alias
         * the Reader's fields and would reload them for every byte. */
        pos = r->pos;
        for (guint64 i = 0; indef || i < count; i++) {
                guint8 b = pos < len ? in[pos] : 0xff;

                /* The shortest forms, as every encoder writes them, without
                 * a trip through libcbor; anything else goes the long way. */
                if (b < 24) {
                        out[n++] = b;
                        pos++;
                        continue;
                }
                if (b == 0x18 && len - pos >= 2) {
                        out[n++] = in[pos + 1];
                        pos += 2;
                        continue;
                }
                if (indef && b == 0xff && pos < len) {
                        pos++;
                        break;
                }
                r->pos = pos;
                if (!rd_next(r, &el, what, error))
                        return NULL;
                pos = r->pos;
                if (el.type != TOK_UINT) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "kameo: %s element %" G_GUINT64_FORMAT
                                    " must be an unsigned integer, got %s",
                                    what, i, tok_names[el.type]);
                        return NULL;
                }
                if (el.u > 255) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "kameo: %s element %" G_GUINT64_FORMAT " is %" G_GUINT64_FORMAT
                                    ", over 255",
                                    what, i, el.u);
                        return NULL;
                }
                out[n++] = (guint8)el.u;
        }
        r->pos = pos;
        return g_bytes_new_take(g_steal_pointer(&out), n);
}

static gboolean
read_uint(Reader *r, const char *what, guint64 max, guint64 *ret, GError **error)
{
        Tok tok;

        if (!rd_next(r, &tok, what, error))
                return FALSE;
        if (tok.type != TOK_UINT)
                return wrong_type(&tok, what, "an unsigned integer", error);
        if (tok.u > max) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "kameo: %s is %" G_GUINT64_FORMAT ", over %" G_GUINT64_FORMAT, what,
                            tok.u, max);
                return FALSE;
        }
        *ret = tok.u;
        return TRUE;
}

typedef struct {
        gboolean indef;
        guint64 left;
} Entries;

static gboolean
map_begin(Reader *r, const Tok *tok, const char *what, Entries *ret, GError **error)
{
        if (tok->type == TOK_MAP)
                *ret = (Entries){ FALSE, tok->u };
        else if (tok->type == TOK_MAP_INDEF)
                *ret = (Entries){ TRUE, 0 };
        else
                return wrong_type(tok, what, "a map", error);
        return TRUE;
}

/* TRUE while another entry follows. */
static gboolean
map_more(Reader *r, Entries *e)
{
        if (e->indef) {
                if (rd_peek_break(r)) {
                        r->pos++;
                        return FALSE;
                }
                return TRUE;
        }
        if (e->left == 0)
                return FALSE;
        e->left--;
        return TRUE;
}

/* read_name_rest() for a name that is not simply there: read as text.
 * Out of line so that the common case needs no stack frame. */
static G_GNUC_NO_INLINE gboolean
read_other_name(Reader *r, const Tok *tok, const char *what, const Name *names, guint n_names,
                gint *ret_index, char **ret_other, GError **error)
{
        char *text = read_text_rest(r, tok, what, error);

        if (text == NULL)
                return FALSE;
        *ret_index = -1;
        for (guint i = 0; i < n_names; i++) {
                if (g_str_equal(names[i].str, text))
                        *ret_index = (gint)i;
        }
        if (ret_other != NULL)
                *ret_other = text;
        else
                g_free(text);
        return TRUE;
}

/* The index in @names of the name @tok starts, or -1 with the name in
 * *ret_other (unless that is NULL). A definite string (every encoder's
 * choice) equal to one of @names is matched where it lies, without a copy
 * or a UTF-8 check; anything else is read as text. */
static gboolean
read_name_rest(Reader *r, const Tok *tok, const char *what, const Name *names, guint n_names,
               gint *ret_index, char **ret_other, GError **error)
{
        if (tok->type == TOK_TSTR) {
                for (guint i = 0; i < n_names; i++) {
                        /* length and first byte rule out most names cheaply */
                        if (names[i].len == tok->len && names[i].str[0] == (char)tok->ptr[0]
                            && memcmp(names[i].str, tok->ptr, tok->len) == 0) {
                                *ret_index = (gint)i;
                                return TRUE;
                        }
                }
        }
        return read_other_name(r, tok, what, names, n_names, ret_index, ret_other, error);
}

/* A map key, as read_name_rest() reads it. */
static gboolean
read_field_name(Reader *r, const char *what, const Name *names, guint n_names, gint *ret_index,
                char **ret_other, GError **error)
{
        Tok tok;

        if (!rd_next(r, &tok, what, error))
                return FALSE;
        return read_name_rest(r, &tok, what, names, n_names, ret_index, ret_other, error);
}

static gboolean
dup_field(const char *what, const char *key, GError **error)
{
        g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "kameo: duplicate field '%s' in %s", key,
                    what);
        return FALSE;
}

static gboolean
missing_field(const char *what, const char *key, GError **error)
{
        g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "kameo: missing field '%s' in %s", key,
                    what);
        return FALSE;
}

/* Option<Duration>: null or undefined is None, else {"secs", "nanos"};
 * serde's Duration refuses unknown fields and carries nanos over 1e9. */
static gboolean
read_duration_opt(Reader *r, const char *what, gboolean *ret_has, KpKameoDuration *ret,
                  GError **error)
{
        Tok tok;
        Entries e;
        gboolean have_secs = FALSE, have_nanos = FALSE;
        guint64 secs = 0, nanos = 0;

        if (!rd_next(r, &tok, what, error))
                return FALSE;
        if (tok.type == TOK_NULL || tok.type == TOK_UNDEF) {
                *ret_has = FALSE;
                return TRUE;
        }
        if (!map_begin(r, &tok, what, &e, error))
                return FALSE;
        while (map_more(r, &e)) {
                static const Name names[] = { NAME("secs"), NAME("nanos") };
                g_autofree char *key = NULL;
                gint i;

                if (!read_field_name(r, "a Duration key", names, G_N_ELEMENTS(names), &i, &key,
                                     error))
                        return FALSE;
                if (i == 0) {
                        if (have_secs)
                                return dup_field(what, names[i].str, error);
                        if (!read_uint(r, "Duration secs", G_MAXUINT64, &secs, error))
                                return FALSE;
                        have_secs = TRUE;
                } else if (i == 1) {
                        if (have_nanos)
                                return dup_field(what, names[i].str, error);
                        if (!read_uint(r, "Duration nanos", G_MAXUINT32, &nanos, error))
                                return FALSE;
                        have_nanos = TRUE;
                } else {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "kameo: unknown Duration field '%s' in %s", key, what);
                        return FALSE;
                }
        }
        if (!have_secs)
                return missing_field(what, "secs", error);
        if (!have_nanos)
                return missing_field(what, "nanos", error);
        if (secs > G_MAXUINT64 - nanos / NANOS_PER_SEC) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "kameo: %s overflows a Duration",
                            what);
                return FALSE;
        }
        ret->secs = secs + nanos / NANOS_PER_SEC;
        ret->nanos = (guint32)(nanos % NANOS_PER_SEC);
        *ret_has = TRUE;
        return TRUE;
}

static gboolean
read_bool(Reader *r, const char *what, gboolean *ret, GError **error)
{
        Tok tok;

        if (!rd_next(r, &tok, what, error))
                return FALSE;
        if (tok.type != TOK_BOOL)
                return wrong_type(&tok, what, "a bool", error);
        *ret = tok.b;
        return TRUE;
}

/* An externally tagged enum: "Name" (unit variant) or {"Name": value}.
 * The name is matched against @names as read_name_rest() does. */
static gboolean
read_variant(Reader *r, const char *what, const Name *names, guint n_names, gint *ret_index,
             char **ret_other, gboolean *ret_has_value, GError **error)
{
        Tok tok;

        if (!rd_next(r, &tok, what, error))
                return FALSE;
        if (tok.type == TOK_TSTR || tok.type == TOK_TSTR_INDEF) {
                *ret_has_value = FALSE;
                return read_name_rest(r, &tok, what, names, n_names, ret_index, ret_other, error);
        }
        /* cbor4ii takes only a definite one-entry map here. */
        if (tok.type == TOK_MAP && tok.u == 1) {
                *ret_has_value = TRUE;
                return read_field_name(r, what, names, n_names, ret_index, ret_other, error);
        }
        if (tok.type == TOK_MAP) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "kameo: %s must be a one-entry map, got %" G_GUINT64_FORMAT " entries",
                            what, tok.u);
                return FALSE;
        }
        return wrong_type(&tok, what, "a variant name or a one-entry map", error);
}

static gboolean
check_end(Reader *r, const char *what, GError **error)
{
        if (r->pos != r->len) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "kameo: %" G_GSIZE_FORMAT " trailing bytes after the %s",
                            r->len - r->pos, what);
                return FALSE;
        }
        return TRUE;
}

enum {
        F_ACTOR_ID = 1 << 0,
        F_ACTOR_REMOTE_ID = 1 << 1,
        F_MESSAGE_REMOTE_ID = 1 << 2,
        F_PAYLOAD = 1 << 3,
        F_MAILBOX_TIMEOUT = 1 << 4,
        F_REPLY_TIMEOUT = 1 << 5,
        F_IMMEDIATE = 1 << 6,
};

/* The fields of Ask and Tell, in the order of their F_ bits. */
static const Name field_names[] = {
        NAME("actor_id"),  NAME("actor_remote_id"), NAME("message_remote_id"),
        NAME("payload"),   NAME("mailbox_timeout"), NAME("reply_timeout"),
        NAME("immediate"),
};

static gboolean
read_actor_id(Reader *r, KpKameoRequest *req, GError **error)
{
        g_autoptr(GByteArray) buf = NULL;
        g_autoptr(GError) error_local = NULL;
        const guint8 *id;
        gsize len;
        guint64 seq_le;
        Tok tok;

        if (!rd_next(r, &tok, "actor_id", error))
                return FALSE;
        /* A definite string (every encoder's choice) is read where it lies. */
        if (tok.type == TOK_BSTR) {
                id = tok.ptr;
                len = tok.len;
        } else {
                buf = g_byte_array_new();
                if (!read_string_rest(r, &tok, FALSE, "actor_id", buf, error))
                        return FALSE;
                id = buf->data;
                len = buf->len;
        }
        /* kameo 0.19 panics on this one (bytes[0..8]). */
        if (len < KP_KAMEO_ACTOR_SEQ_LEN) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "kameo: actor_id of %" G_GSIZE_FORMAT
                            " bytes is shorter than its %d-byte sequence id",
                            len, KP_KAMEO_ACTOR_SEQ_LEN);
                return FALSE;
        }
        memcpy(&seq_le, id, sizeof seq_le);
        req->actor_seq = GUINT64_FROM_LE(seq_le);
        req->actor_is_local = len == KP_KAMEO_ACTOR_SEQ_LEN;
        if (!req->actor_is_local
            && !kp_peer_id_from_bytes(id + KP_KAMEO_ACTOR_SEQ_LEN, len - KP_KAMEO_ACTOR_SEQ_LEN,
                                      &req->actor_peer, &error_local)) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "kameo: actor_id: %s",
                            error_local->message);
                return FALSE;
        }
        return TRUE;
}

static gboolean
read_request_body(Reader *r, KpKameoRequest *req, const char *what, GError **error)
{
        gboolean ask = req->kind == KP_KAMEO_REQUEST_ASK;
        guint seen = 0;
        Entries e;
        Tok tok;

        if (!rd_next(r, &tok, what, error))
                return FALSE;
        if (!map_begin(r, &tok, what, &e, error))
                return FALSE;
        while (map_more(r, &e)) {
                gint i;
                guint bit;

                if (!read_field_name(r, "a request field name", field_names,
                                     G_N_ELEMENTS(field_names), &i, NULL, error))
                        return FALSE;
                bit = i >= 0 ? 1u << i : 0;
                if (bit == 0 || (bit == F_REPLY_TIMEOUT && !ask)) {
                        if (!skip_item(r, 0, "an unknown request field", error))
                                return FALSE;
                        continue;
                }
                if (seen & bit)
                        return dup_field(what, field_names[i].str, error);
                seen |= bit;
                switch (bit) {
                case F_ACTOR_ID:
                        if (!read_actor_id(r, req, error))
                                return FALSE;
                        break;
                case F_ACTOR_REMOTE_ID:
                        req->actor_remote_id = read_text(r, "actor_remote_id", error);
                        if (req->actor_remote_id == NULL)
                                return FALSE;
                        break;
                case F_MESSAGE_REMOTE_ID:
                        req->message_remote_id = read_text(r, "message_remote_id", error);
                        if (req->message_remote_id == NULL)
                                return FALSE;
                        break;
                case F_PAYLOAD:
                        req->payload = read_u8_seq(r, "payload", error);
                        if (req->payload == NULL)
                                return FALSE;
                        break;
                case F_MAILBOX_TIMEOUT:
                        if (!read_duration_opt(r, "mailbox_timeout", &req->has_mailbox_timeout,
                                               &req->mailbox_timeout, error))
                                return FALSE;
                        break;
                case F_REPLY_TIMEOUT:
                        if (!read_duration_opt(r, "reply_timeout", &req->has_reply_timeout,
                                               &req->reply_timeout, error))
                                return FALSE;
                        break;
                default:
                        if (!read_bool(r, "immediate", &req->immediate, error))
                                return FALSE;
                        break;
                }
        }
        /* Option fields may be absent (serde makes them None); no others. */
        if (!(seen & F_ACTOR_ID))
                return missing_field(what, "actor_id", error);
        if (!(seen & F_ACTOR_REMOTE_ID))
                return missing_field(what, "actor_remote_id", error);
        if (!(seen & F_MESSAGE_REMOTE_ID))
                return missing_field(what, "message_remote_id", error);
        if (!(seen & F_PAYLOAD))
                return missing_field(what, "payload", error);
        if (!(seen & F_IMMEDIATE))
                return missing_field(what, "immediate", error);
        return TRUE;
}

/* The SwarmRequest variants, Ask and Tell (served) first. */
static const Name request_kind_names[] = {
        [KP_KAMEO_REQUEST_ASK] = NAME("Ask"),
        [KP_KAMEO_REQUEST_TELL] = NAME("Tell"),
        NAME("Link"),
        NAME("Unlink"),
        NAME("SignalLinkDied"),
};

KpKameoRequest *
kp_kameo_request_decode(const guint8 *data, gsize len, GError **error)
{
        Reader r = { .data = data, .len = len };
        g_autoptr(KpKameoRequest) req = NULL;
        g_autofree char *other = NULL;
        gboolean has_value = FALSE;
        gint kind;

        if (len > KP_KAMEO_MAX_REQUEST) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "kameo: request of %" G_GSIZE_FORMAT " bytes exceeds limit %d", len,
                            KP_KAMEO_MAX_REQUEST);
                return NULL;
        }
        if (!read_variant(&r, "SwarmRequest", request_kind_names, G_N_ELEMENTS(request_kind_names),
                          &kind, &other, &has_value, error))
                return NULL;
        if (kind < 0) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "kameo: unknown SwarmRequest variant '%s'", other);
                return NULL;
        }
        if (kind != KP_KAMEO_REQUEST_ASK && kind != KP_KAMEO_REQUEST_TELL) {
                g_set_error(error, KP_ERROR, KP_ERROR_UNSUPPORTED,
                            "kameo: SwarmRequest::%s is not supported",
                            request_kind_names[kind].str);
                return NULL;
        }
        if (!has_value) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "kameo: SwarmRequest::%s without its fields",
                            request_kind_names[kind].str);
                return NULL;
        }
        /* not g_new0(): calloc() is served past glibc's per-thread cache */
        req = g_new(KpKameoRequest, 1);
        *req = (KpKameoRequest){ .kind = (KpKameoRequestKind)kind };
        if (!read_request_body(&r, req,
                               req->kind == KP_KAMEO_REQUEST_ASK ? "SwarmRequest::Ask"
                                                                 : "SwarmRequest::Tell",
                               error))
                return NULL;
        if (!check_end(&r, "request", error))
                return NULL;
        return g_steal_pointer(&req);
}

static gboolean
read_unknown_struct(Reader *r, KpKameoResponse *resp, const char *what, gboolean want_message,
                    GError **error)
{
        Entries e;
        Tok tok;

        if (!rd_next(r, &tok, what, error))
                return FALSE;
        if (!map_begin(r, &tok, what, &e, error))
                return FALSE;
        while (map_more(r, &e)) {
                g_autofree char *key = read_text(r, "a RemoteSendError field name", error);
                char **slot = NULL;

                if (key == NULL)
                        return FALSE;
                if (g_strcmp0(key, "actor_remote_id") == 0)
                        slot = &resp->actor_remote_id;
                else if (want_message && g_strcmp0(key, "message_remote_id") == 0)
                        slot = &resp->message_remote_id;
                if (slot == NULL) {
                        if (!skip_item(r, 0, "an unknown RemoteSendError field", error))
                                return FALSE;
                        continue;
                }
                if (*slot != NULL)
                        return dup_field(what, key, error);
                *slot = read_text(r, key, error);
                if (*slot == NULL)
                        return FALSE;
        }
        if (resp->actor_remote_id == NULL)
                return missing_field(what, "actor_remote_id", error);
        if (want_message && resp->message_remote_id == NULL)
                return missing_field(what, "message_remote_id", error);
        return TRUE;
}

static gboolean
read_send_error(Reader *r, KpKameoResponse *resp, gboolean ask, GError **error)
{
        g_autofree char *other = NULL;
        gboolean has_value = FALSE;
        const char *name;
        gint i;

        if (!read_variant(r, "RemoteSendError", send_error_names, G_N_ELEMENTS(send_error_names),
                          &i, &other, &has_value, error))
                return FALSE;
        if (i < 0) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "kameo: unknown RemoteSendError variant '%s'", other);
                return FALSE;
        }
        name = send_error_names[i].str;
        resp->error = (KpKameoSendError)i;
        if (send_error_is_unit(resp->error)) {
                /* cbor4ii would leave the value unread and fail later on. */
                if (has_value) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "kameo: RemoteSendError::%s carries no value", name);
                        return FALSE;
                }
                return TRUE;
        }
        if (!has_value) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "kameo: RemoteSendError::%s without its value", name);
                return FALSE;
        }
        switch (resp->error) {
        case KP_KAMEO_SEND_ERROR_UNKNOWN_ACTOR:
                return read_unknown_struct(r, resp, "RemoteSendError::UnknownActor", FALSE, error);
        case KP_KAMEO_SEND_ERROR_UNKNOWN_MESSAGE:
                return read_unknown_struct(r, resp, "RemoteSendError::UnknownMessage", TRUE, error);
        case KP_KAMEO_SEND_ERROR_HANDLER_ERROR:
                if (!ask) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "kameo: HandlerError is only valid in an Ask response");
                        return FALSE;
                }
                resp->handler_error = read_u8_seq(r, "HandlerError", error);
                return resp->handler_error != NULL;
        default:
                resp->text = read_text(r, name, error);
                return resp->text != NULL;
        }
}

static const Name result_names[] = { NAME("Ok"), NAME("Err") };

KpKameoResponse *
kp_kameo_response_decode(const guint8 *data, gsize len, GError **error)
{
        Reader r = { .data = data, .len = len };
        g_autoptr(KpKameoResponse) resp = NULL;
        g_autofree char *other = NULL;
        gboolean has_value = FALSE;
        const char *name;
        gint kind, result;

        if (len > KP_KAMEO_MAX_RESPONSE) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "kameo: response of %" G_GSIZE_FORMAT " bytes exceeds limit %d", len,
                            KP_KAMEO_MAX_RESPONSE);
                return NULL;
        }
        if (!read_variant(&r, "SwarmResponse", response_kind_names,
                          G_N_ELEMENTS(response_kind_names), &kind, &other, &has_value, error))
                return NULL;
        if (kind < 0) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "kameo: unknown SwarmResponse variant '%s'", other);
                return NULL;
        }
        name = response_kind_names[kind].str;
        if (!has_value) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "kameo: SwarmResponse::%s without its value", name);
                return NULL;
        }
        /* not g_new0(): calloc() is served past glibc's per-thread cache */
        resp = g_new(KpKameoResponse, 1);
        *resp = (KpKameoResponse){ .kind = (KpKameoResponseKind)kind };
        if (resp->kind == KP_KAMEO_RESPONSE_OUTBOUND_FAILURE) {
                if (!read_send_error(&r, resp, FALSE, error))
                        return NULL;
                return check_end(&r, "response", error) ? g_steal_pointer(&resp) : NULL;
        }
        g_clear_pointer(&other, g_free);
        if (!read_variant(&r, "Result", result_names, G_N_ELEMENTS(result_names), &result, &other,
                          &has_value, error))
                return NULL;
        if (result < 0) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "kameo: unknown Result variant '%s'",
                            other);
                return NULL;
        }
        if (!has_value) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "kameo: Result::%s without its value", result_names[result].str);
                return NULL;
        }
        resp->ok = result == 0;
        if (!resp->ok) {
                if (!read_send_error(&r, resp, resp->kind == KP_KAMEO_RESPONSE_ASK, error))
                        return NULL;
        } else if (resp->kind == KP_KAMEO_RESPONSE_ASK) {
                resp->reply = read_u8_seq(&r, "the Ask reply", error);
                if (resp->reply == NULL)
                        return NULL;
        } else {
                /* cbor4ii's unit is exactly the byte 0x80. */
                if (r.pos >= r.len || r.data[r.pos] != 0x80) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "kameo: Result::Ok of SwarmResponse::%s must be () (0x80)",
                                    name);
                        return NULL;
                }
                r.pos++;
        }
        if (!check_end(&r, "response", error))
                return NULL;
        return g_steal_pointer(&resp);
}

/* ---- MessagePack ------------------------------------------------------ */

static gboolean
mp_need(gsize pos, gsize n, gsize len, GError **error)
{
        if (n > len - pos) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "kameo: MessagePack truncated at offset %" G_GSIZE_FORMAT, pos);
                return FALSE;
        }
        return TRUE;
}

static guint64
mp_be(const guint8 *p, guint n)
{
        guint64 v = 0;

        for (guint i = 0; i < n; i++)
                v = v << 8 | p[i];
        return v;
}

/* Walks one object without allocating, so that msgpack-c, which sizes its
 * arrays from the declared counts, only ever sees counts the input can
 * back. Also bounds depth and the number of objects. */
static gboolean
mp_prescan(const guint8 *data, gsize len, GError **error)
{
        /* Objects still to read at each open container level. */
        guint64 pending[KP_KAMEO_MSGPACK_MAX_DEPTH + 1];
        guint depth = 0;
        guint64 items = 0;
        gsize pos = 0;

        pending[0] = 1;
        while (TRUE) {
                guint8 b;
                guint64 children = 0; /* objects this one contains */
                guint64 skip = 0;     /* payload bytes after the head */
                gsize head = 1;

                while (pending[depth] == 0) {
                        if (depth == 0)
                                goto done;
                        depth--;
                }
                pending[depth]--;
                if (++items > KP_KAMEO_MSGPACK_MAX_ITEMS) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "kameo: MessagePack has more than %d objects",
                                    KP_KAMEO_MSGPACK_MAX_ITEMS);
                        return FALSE;
                }
                if (!mp_need(pos, 1, len, error))
                        return FALSE;
                b = data[pos];
                if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
                        /* fixint, nil, bool */
                } else if (b <= 0x8f) {
                        children = 2 * (guint64)(b & 0x0f);
                } else if (b <= 0x9f) {
                        children = b & 0x0f;
                } else if (b <= 0xbf) {
                        skip = b & 0x1f;
                } else if (b == 0xc1) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "kameo: MessagePack byte 0xc1 (never used) at offset "
                                    "%" G_GSIZE_FORMAT,
                                    pos);
                        return FALSE;
                } else {
                        /* 0xc4..0xdf: head size and what follows. */
                        static const struct {
                                guint8 lenbytes; /* big-endian length after the marker */
                                guint8 fixed;    /* fixed payload bytes (ext type, numbers) */
                                guint8 kind;     /* 0 data, 1 array, 2 map */
                        } t[] = {
                                [0xc4 - 0xc4] = { 1, 0, 0 },  [0xc5 - 0xc4] = { 2, 0, 0 },
                                [0xc6 - 0xc4] = { 4, 0, 0 },  [0xc7 - 0xc4] = { 1, 1, 0 },
                                [0xc8 - 0xc4] = { 2, 1, 0 },  [0xc9 - 0xc4] = { 4, 1, 0 },
                                [0xca - 0xc4] = { 0, 4, 0 },  [0xcb - 0xc4] = { 0, 8, 0 },
                                [0xcc - 0xc4] = { 0, 1, 0 },  [0xcd - 0xc4] = { 0, 2, 0 },
                                [0xce - 0xc4] = { 0, 4, 0 },  [0xcf - 0xc4] = { 0, 8, 0 },
                                [0xd0 - 0xc4] = { 0, 1, 0 },  [0xd1 - 0xc4] = { 0, 2, 0 },
                                [0xd2 - 0xc4] = { 0, 4, 0 },  [0xd3 - 0xc4] = { 0, 8, 0 },
                                [0xd4 - 0xc4] = { 0, 2, 0 },  [0xd5 - 0xc4] = { 0, 3, 0 },
                                [0xd6 - 0xc4] = { 0, 5, 0 },  [0xd7 - 0xc4] = { 0, 9, 0 },
                                [0xd8 - 0xc4] = { 0, 17, 0 }, [0xd9 - 0xc4] = { 1, 0, 0 },
                                [0xda - 0xc4] = { 2, 0, 0 },  [0xdb - 0xc4] = { 4, 0, 0 },
                                [0xdc - 0xc4] = { 2, 0, 1 },  [0xdd - 0xc4] = { 4, 0, 1 },
                                [0xde - 0xc4] = { 2, 0, 2 },  [0xdf - 0xc4] = { 4, 0, 2 },
                        };
                        guint i = b - 0xc4;
                        guint64 n;

                        if (!mp_need(pos, 1 + t[i].lenbytes, len, error))
                                return FALSE;
                        n = mp_be(data + pos + 1, t[i].lenbytes);
                        head = 1 + t[i].lenbytes;
                        if (t[i].kind == 1)
                                children = n;
                        else if (t[i].kind == 2)
                                children = 2 * n;
                        else
                                skip = n + t[i].fixed;
                }
                pos += head;
                if (!mp_need(pos, skip, len, error))
                        return FALSE;
                pos += skip;
                if (children == 0)
                        continue;
                /* Every object takes a byte at least. */
                if (children > len - pos) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "kameo: MessagePack container of %" G_GUINT64_FORMAT
                                    " objects at offset %" G_GSIZE_FORMAT " exceeds the input",
                                    children, pos - head);
                        return FALSE;
                }
                if (depth + 1 > KP_KAMEO_MSGPACK_MAX_DEPTH) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "kameo: MessagePack nesting exceeds depth %d",
                                    KP_KAMEO_MSGPACK_MAX_DEPTH);
                        return FALSE;
                }
                pending[++depth] = children;
        }
done:
        if (pos != len) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "kameo: %" G_GSIZE_FORMAT " trailing bytes after the MessagePack value",
                            len - pos);
                return FALSE;
        }
        return TRUE;
}

/* A Pong, the larger of the two, is at most 1 (map) + 4 ("seq") + 9 +
 * 6 ("total") + 9 bytes: both are packed on the stack, where msgpack-c's
 * sbuffer would allocate 8 KiB for each. */
#define MP_SMALL_MAX 32

typedef struct {
        guint8 data[MP_SMALL_MAX];
        gsize len;
} MpSmall;

static int
mp_small_write(void *user_data, const char *buf, size_t len)
{
        MpSmall *out = user_data;

        g_return_val_if_fail(len <= sizeof out->data - out->len, -1);
        memcpy(out->data + out->len, buf, len);
        out->len += len;
        return 0;
}

static void
mp_key(msgpack_packer *pk, const Name *key)
{
        msgpack_pack_str(pk, key->len);
        msgpack_pack_str_body(pk, key->str, key->len);
}

static const Name ping_fields[] = { NAME("seq") };
static const Name pong_fields[] = { NAME("seq"), NAME("total") };

GBytes *
kp_kameo_ping_encode(guint64 seq)
{
        MpSmall out = { .len = 0 };
        msgpack_packer pk;

        msgpack_packer_init(&pk, &out, mp_small_write);
        msgpack_pack_map(&pk, 1);
        mp_key(&pk, &ping_fields[0]);
        msgpack_pack_uint64(&pk, seq);
        return g_bytes_new(out.data, out.len);
}

GBytes *
kp_kameo_pong_encode(guint64 seq, guint64 total)
{
        MpSmall out = { .len = 0 };
        msgpack_packer pk;

        msgpack_packer_init(&pk, &out, mp_small_write);
        msgpack_pack_map(&pk, 2);
        mp_key(&pk, &pong_fields[0]);
        msgpack_pack_uint64(&pk, seq);
        mp_key(&pk, &pong_fields[1]);
        msgpack_pack_uint64(&pk, total);
        return g_bytes_new(out.data, out.len);
}

static gboolean
mp_u64(const msgpack_object *o, const char *what, const char *field, guint64 *ret, GError **error)
{
        if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
                *ret = o->via.u64;
                return TRUE;
        }
        if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "kameo: %s '%s' is negative", what,
                            field);
                return FALSE;
        }
        g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "kameo: %s '%s' must be an unsigned integer",
                    what, field);
        return FALSE;
}

/* Decodes a struct of u64 fields named @fields, as rmp_serde + serde derive
 * do: a map (string, binary or field-index keys; unknown ones ignored;
 * duplicates refused) or an array of exactly n_fields values. */
static gboolean
mp_decode_struct(const guint8 *data, gsize len, const char *what, const Name *fields,
                 guint n_fields, guint64 *ret, GError **error)
{
        msgpack_zone zone;
        msgpack_object obj;
        msgpack_unpack_return rc;
        guint64 vals[2] = { 0, 0 };
        guint seen = 0;
        gboolean ok = FALSE;

        g_assert(n_fields <= G_N_ELEMENTS(vals));
        if (!mp_prescan(data, len, error)) {
                g_prefix_error(error, "%s: ", what);
                return FALSE;
        }
        msgpack_zone_init(&zone, 256);
        rc = msgpack_unpack((const char *)data, len, NULL, &zone, &obj);
        if (rc != MSGPACK_UNPACK_SUCCESS) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "kameo: %s: MessagePack does not decode (%d)", what, rc);
                goto out;
        }
        if (obj.type == MSGPACK_OBJECT_ARRAY) {
                if (obj.via.array.size != n_fields) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "kameo: %s as an array must have %u elements, got %u", what,
                                    n_fields, obj.via.array.size);
                        goto out;
                }
                for (guint i = 0; i < n_fields; i++) {
                        if (!mp_u64(&obj.via.array.ptr[i], what, fields[i].str, &vals[i], error))
                                goto out;
                }
                seen = (1u << n_fields) - 1;
        } else if (obj.type == MSGPACK_OBJECT_MAP) {
                for (guint32 j = 0; j < obj.via.map.size; j++) {
                        const msgpack_object *k = &obj.via.map.ptr[j].key;
                        const msgpack_object *v = &obj.via.map.ptr[j].val;
                        guint idx = n_fields;

                        if (k->type == MSGPACK_OBJECT_STR || k->type == MSGPACK_OBJECT_BIN) {
                                const char *p = k->type == MSGPACK_OBJECT_STR ? k->via.str.ptr
                                                                              : k->via.bin.ptr;
                                guint32 n = k->type == MSGPACK_OBJECT_STR ? k->via.str.size
                                                                          : k->via.bin.size;
                                for (idx = 0; idx < n_fields; idx++) {
                                        if (fields[idx].len == n
                                            && memcmp(fields[idx].str, p, n) == 0)
                                                break;
                                }
                        } else if (k->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
                                if (k->via.u64 < n_fields)
                                        idx = (guint)k->via.u64;
                        } else {
                                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                            "kameo: %s map key must be a string", what);
                                goto out;
                        }
                        if (idx == n_fields)
                                continue;
                        if (seen & (1u << idx)) {
                                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                            "kameo: duplicate field '%s' in %s", fields[idx].str,
                                            what);
                                goto out;
                        }
                        if (!mp_u64(v, what, fields[idx].str, &vals[idx], error))
                                goto out;
                        seen |= 1u << idx;
                }
        } else {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "kameo: %s must be a map or an array", what);
                goto out;
        }
        for (guint i = 0; i < n_fields; i++) {
                if (!(seen & (1u << i))) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "kameo: missing field '%s' in %s", fields[i].str, what);
                        goto out;
                }
        }
        for (guint i = 0; i < n_fields; i++)
                ret[i] = vals[i];
        ok = TRUE;
out:
        msgpack_zone_destroy(&zone);
        return ok;
}

gboolean
kp_kameo_ping_decode(const guint8 *data, gsize len, guint64 *ret_seq, GError **error)
{
        guint64 v[1];

        if (!mp_decode_struct(data, len, "kping::Ping", ping_fields, 1, v, error))
                return FALSE;
        *ret_seq = v[0];
        return TRUE;
}

gboolean
kp_kameo_pong_decode(const guint8 *data, gsize len, guint64 *ret_seq, guint64 *ret_total,
                     GError **error)
{
        guint64 v[2];

        if (!mp_decode_struct(data, len, "kping::Ping reply", pong_fields, 2, v, error))
                return FALSE;
        *ret_seq = v[0];
        *ret_total = v[1];
        return TRUE;
}
