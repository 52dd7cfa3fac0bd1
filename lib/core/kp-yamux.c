#include "core/kp-yamux.h"

#include <string.h>

#include "core/kp-error.h"

/* Output buffers that grew past this during a burst are freed once drained. */
#define KP_YAMUX_KEEP_BUFFER 65536

typedef struct {
        guint8 *data;
        gsize start;
        gsize end;
        gsize cap;
} KpYamuxBuf;

enum {
        KP_YAMUX_QUEUED_READABLE = 1 << 0,
        KP_YAMUX_QUEUED_WRITABLE = 1 << 1,
};

typedef struct {
        guint32 id;
        gboolean outbound;
        gboolean syn_pending; /* outbound: the SYN has not gone out */
        gboolean ack_pending; /* inbound: the ACK has not gone out */
        gboolean acked;
        gboolean local_fin;
        gboolean remote_fin;
        gboolean reset;
        gboolean detached; /* released by the host, waiting for the peer's FIN */
        gboolean write_blocked;
        guint queued; /* KP_YAMUX_QUEUED_*: coalesces events while one is unread */
        guint32 send_window;
        /* recv_credit + buffered + recv_unacked == KP_YAMUX_INITIAL_WINDOW */
        guint32 recv_credit;
        guint32 recv_unacked;
        KpYamuxBuf recv;
        gpointer user_data;
} KpYamuxStream;

typedef struct {
        guint32 opaque;
        gint64 sent_us;
} KpYamuxPing;

struct _KpYamuxSession {
        KpYamuxRole role;
        GHashTable *streams; /* id -> KpYamuxStream */
        /* The stream last looked up: one ask or ping calls into the same
         * stream several times in a row. NULL when it was removed. */
        KpYamuxStream *looked_up;
        guint64 next_id;
        guint32 highest_inbound;
        guint n_backlog;
        guint max_streams;
        guint64 n_refused;
        gsize buffered;
        KpYamuxBuf out;
        /* The last frame in @out while it is a DATA frame still there whole:
         * more data for its stream joins it instead of costing a frame (a
         * stream's negotiation and its first message make one frame). */
        gboolean last_open;
        gsize last_at; /* offset of its header from out.start */
        guint32 last_stream;
        /* Unread events, by value, from @events_head on: no allocation per
         * event, and nothing to walk when a stream is released (next_event
         * drops the events of streams that are gone; ids are never reused). */
        GArray *events;
        guint events_head;
        GError *error;
        gboolean go_away_sent;
        gboolean go_away_received;
        gboolean any_write_blocked;
        KpYamuxPing pings[KP_YAMUX_MAX_PENDING_PINGS];
        guint n_pings;
        guint32 next_ping;
        /* parser */
        guint8 hdr[KP_YAMUX_HEADER_SIZE];
        gsize hdr_fill;
        gboolean in_payload;
        gboolean cur_discard;
        KpYamuxHeader cur;
        guint32 payload_left;
};

static const char *
type_name(guint8 type)
{
        return type == KP_YAMUX_TYPE_DATA ? "DATA" : "WINDOW_UPDATE";
}

void
kp_yamux_header_encode(const KpYamuxHeader *header, guint8 out[KP_YAMUX_HEADER_SIZE])
{
        out[0] = header->version;
        out[1] = header->type;
        out[2] = (guint8)(header->flags >> 8);
        out[3] = (guint8)header->flags;
        out[4] = (guint8)(header->stream_id >> 24);
        out[5] = (guint8)(header->stream_id >> 16);
        out[6] = (guint8)(header->stream_id >> 8);
        out[7] = (guint8)header->stream_id;
        out[8] = (guint8)(header->length >> 24);
        out[9] = (guint8)(header->length >> 16);
        out[10] = (guint8)(header->length >> 8);
        out[11] = (guint8)header->length;
}

void
kp_yamux_header_decode(const guint8 in[KP_YAMUX_HEADER_SIZE], KpYamuxHeader *ret_header)
{
        ret_header->version = in[0];
        ret_header->type = in[1];
        ret_header->flags = (guint16)((in[2] << 8) | in[3]);
        ret_header->stream_id
            = ((guint32)in[4] << 24) | ((guint32)in[5] << 16) | ((guint32)in[6] << 8) | in[7];
        ret_header->length
            = ((guint32)in[8] << 24) | ((guint32)in[9] << 16) | ((guint32)in[10] << 8) | in[11];
}

/* buffers */

static gsize
buf_len(const KpYamuxBuf *buf)
{
        return buf->end - buf->start;
}

static void
buf_clear(KpYamuxBuf *buf)
{
        g_free(buf->data);
        memset(buf, 0, sizeof(*buf));
}

static void
buf_append(KpYamuxBuf *buf, const guint8 *data, gsize n)
{
        if (n == 0)
                return;
        if (buf->end + n > buf->cap) {
                gsize live = buf_len(buf);

                if (buf->start > 0) {
                        memmove(buf->data, buf->data + buf->start, live);
                        buf->start = 0;
                        buf->end = live;
                }
                if (live + n > buf->cap) {
                        /* Grow geometrically from a small start: a stream
                         * that receives little must cost little. */
                        gsize cap = MAX(buf->cap * 2, 1024);
                        while (cap < live + n)
                                cap *= 2;
                        buf->data = g_realloc(buf->data, cap);
                        buf->cap = cap;
                }
        }
        memcpy(buf->data + buf->end, data, n);
        buf->end += n;
}

static void
buf_consume(KpYamuxBuf *buf, gsize n, gsize keep_cap)
{
        g_assert(n <= buf_len(buf));
        buf->start += n;
        if (buf->start == buf->end) {
                if (buf->cap > keep_cap)
                        buf_clear(buf);
                else
                        buf->start = buf->end = 0;
        }
}

/* frames and events */

static void
emit_frame(KpYamuxSession *self, guint8 type, guint16 flags, guint32 stream_id, guint32 length,
           const guint8 *payload, gsize payload_len)
{
        KpYamuxHeader h = { KP_YAMUX_VERSION, type, flags, stream_id, length };
        guint8 hdr[KP_YAMUX_HEADER_SIZE];

        self->last_open
            = type == KP_YAMUX_TYPE_DATA && !(flags & (KP_YAMUX_FLAG_FIN | KP_YAMUX_FLAG_RST));
        self->last_at = buf_len(&self->out);
        self->last_stream = stream_id;
        kp_yamux_header_encode(&h, hdr);
        buf_append(&self->out, hdr, sizeof(hdr));
        buf_append(&self->out, payload, payload_len);
}

/* Appends to the last frame when it belongs to @stream_id and has room. */
static gboolean
extend_last_frame(KpYamuxSession *self, guint32 stream_id, const guint8 *data, gsize n)
{
        guint8 *hdr = self->out.data + self->out.start + self->last_at;
        KpYamuxHeader h;

        if (!self->last_open || self->last_stream != stream_id)
                return FALSE;
        kp_yamux_header_decode(hdr, &h);
        if (h.length + n > KP_YAMUX_MAX_SEND_FRAME)
                return FALSE;
        h.length += (guint32)n;
        kp_yamux_header_encode(&h, hdr);
        buf_append(&self->out, data, n);
        return TRUE;
}

/* A frame the peer made us send: bounded, so that a peer that floods us and
 * never reads cannot grow our output without limit. */
static gboolean
emit_reply(KpYamuxSession *self, guint8 type, guint16 flags, guint32 stream_id, guint32 length,
           GError **error)
{
        gsize pending = buf_len(&self->out);

        if (pending + KP_YAMUX_HEADER_SIZE > KP_YAMUX_MAX_OUTPUT_BACKLOG) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "yamux: output backlog of %" G_GSIZE_FORMAT
                            " bytes exceeds limit %d: the peer is not reading",
                            pending, KP_YAMUX_MAX_OUTPUT_BACKLOG);
                return FALSE;
        }
        emit_frame(self, type, flags, stream_id, length, NULL, 0);
        return TRUE;
}

/* The pointer is valid until the next push. */
static KpYamuxEvent *
push_event(KpYamuxSession *self, KpYamuxEventKind kind, guint32 stream_id)
{
        KpYamuxEvent ev = { .kind = kind, .stream_id = stream_id };

        g_array_append_val(self->events, ev);
        return &g_array_index(self->events, KpYamuxEvent, self->events->len - 1);
}

static gboolean
is_stream_event(KpYamuxEventKind kind)
{
        return kind <= KP_YAMUX_EVENT_STREAM_RESET;
}

/* streams */

static KpYamuxStream *
stream_lookup(KpYamuxSession *self, guint32 id)
{
        KpYamuxStream *st;

        if (self->looked_up != NULL && self->looked_up->id == id)
                return self->looked_up;
        st = g_hash_table_lookup(self->streams, GUINT_TO_POINTER(id));
        if (st != NULL)
                self->looked_up = st;
        return st;
}

static KpYamuxStream *
stream_new(KpYamuxSession *self, guint32 id, gboolean outbound)
{
        KpYamuxStream *st = g_new0(KpYamuxStream, 1);

        st->id = id;
        st->outbound = outbound;
        st->syn_pending = outbound;
        st->ack_pending = !outbound;
        st->send_window = KP_YAMUX_INITIAL_WINDOW;
        st->recv_credit = KP_YAMUX_INITIAL_WINDOW;
        if (!outbound)
                self->n_backlog++;
        g_hash_table_insert(self->streams, GUINT_TO_POINTER(id), st);
        return st;
}

static void
stream_free(gpointer data)
{
        KpYamuxStream *st = data;

        buf_clear(&st->recv);
        g_free(st);
}

static void
stream_drop_ack_pending(KpYamuxSession *self, KpYamuxStream *st)
{
        if (!st->ack_pending)
                return;
        st->ack_pending = FALSE;
        self->n_backlog--;
}

static void
stream_drop_buffer(KpYamuxSession *self, KpYamuxStream *st)
{
        self->buffered -= buf_len(&st->recv);
        buf_clear(&st->recv);
}

static void
stream_remove(KpYamuxSession *self, KpYamuxStream *st)
{
        stream_drop_ack_pending(self, st);
        stream_drop_buffer(self, st);
        if (self->looked_up == st)
                self->looked_up = NULL;
        g_hash_table_remove(self->streams, GUINT_TO_POINTER(st->id));
}

/* SYN or ACK ride on the first frame we send for a stream. */
static guint16
stream_take_open_flags(KpYamuxSession *self, KpYamuxStream *st)
{
        guint16 flags = 0;

        if (st->syn_pending) {
                flags |= KP_YAMUX_FLAG_SYN;
                st->syn_pending = FALSE;
        }
        if (st->ack_pending) {
                flags |= KP_YAMUX_FLAG_ACK;
                stream_drop_ack_pending(self, st);
                st->acked = TRUE;
        }
        return flags;
}

static void
stream_mark_reset(KpYamuxSession *self, KpYamuxStream *st)
{
        st->reset = TRUE;
        st->write_blocked = FALSE;
        stream_drop_ack_pending(self, st);
        stream_drop_buffer(self, st);
}

/* Credit goes back in one WINDOW_UPDATE per half window, not per read. */
static void
stream_maybe_send_window_update(KpYamuxSession *self, KpYamuxStream *st)
{
        guint16 flags;

        if (st->remote_fin || st->reset || st->recv_unacked < KP_YAMUX_INITIAL_WINDOW / 2)
                return;
        flags = stream_take_open_flags(self, st);
        emit_frame(self, KP_YAMUX_TYPE_WINDOW_UPDATE, flags, st->id, st->recv_unacked, NULL, 0);
        st->recv_credit += st->recv_unacked;
        st->recv_unacked = 0;
}

/* A blocked stream waits for credit (a WINDOW_UPDATE wakes it) or for the
 * output to drain (kp_yamux_session_output_consumed() wakes it). */
static void
stream_maybe_writable(KpYamuxSession *self, KpYamuxStream *st)
{
        if (!st->write_blocked || st->send_window == 0)
                return;
        if (buf_len(&self->out) >= KP_YAMUX_OUTPUT_HIGH_WATER / 2) {
                self->any_write_blocked = TRUE;
                return;
        }
        st->write_blocked = FALSE;
        if (st->queued & KP_YAMUX_QUEUED_WRITABLE)
                return;
        st->queued |= KP_YAMUX_QUEUED_WRITABLE;
        push_event(self, KP_YAMUX_EVENT_STREAM_WRITABLE, st->id);
}

static gboolean
is_local_id(KpYamuxSession *self, guint32 id)
{
        return (id & 1) == (self->role == KP_YAMUX_ROLE_CLIENT ? 1u : 0u);
}

/* Ids are handed out in increasing order on both sides, so an id at or below
 * the highest seen belonged to a stream that has since gone away. */
static gboolean
id_was_used(KpYamuxSession *self, guint32 id)
{
        if (is_local_id(self, id))
                return id < self->next_id;
        return id <= self->highest_inbound;
}

/* session */

KpYamuxSession *
kp_yamux_session_new(KpYamuxRole role)
{
        KpYamuxSession *self = g_new0(KpYamuxSession, 1);

        self->role = role;
        self->streams = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, stream_free);
        self->next_id = role == KP_YAMUX_ROLE_CLIENT ? 1 : 2;
        self->max_streams = KP_YAMUX_MAX_STREAMS;
        self->next_ping = 1;
        self->events = g_array_new(FALSE, FALSE, sizeof(KpYamuxEvent));
        return self;
}

void
kp_yamux_session_free(KpYamuxSession *session)
{
        if (session == NULL)
                return;
        g_hash_table_unref(session->streams);
        g_array_unref(session->events);
        buf_clear(&session->out);
        g_clear_error(&session->error);
        g_free(session);
}

static void
session_fail(KpYamuxSession *self, GError *error)
{
        KpYamuxEvent *ev;

        self->error = error;
        if (!self->go_away_sent) {
                self->go_away_sent = TRUE;
                emit_frame(self, KP_YAMUX_TYPE_GO_AWAY, 0, 0, KP_YAMUX_GO_AWAY_PROTOCOL_ERROR, NULL,
                           0);
        }
        ev = push_event(self, KP_YAMUX_EVENT_SESSION_ERROR, 0);
        ev->error = self->error;
}

static gboolean
check_not_failed(KpYamuxSession *self, GError **error)
{
        if (self->error == NULL)
                return TRUE;
        g_set_error(error, KP_ERROR, KP_ERROR_CLOSED, "yamux: session failed: %s",
                    self->error->message);
        return FALSE;
}

static void
begin_payload(KpYamuxSession *self, const KpYamuxHeader *h, gboolean discard)
{
        self->cur = *h;
        self->cur_discard = discard;
        self->payload_left = h->type == KP_YAMUX_TYPE_DATA ? h->length : 0;
        self->in_payload = self->payload_left > 0;
}

static void
handle_payload(KpYamuxSession *self, const guint8 *data, gsize n)
{
        KpYamuxStream *st;

        if (self->cur_discard)
                return;
        /* Looked up per chunk: the host may reset or release the stream
         * between two feeds of one frame. */
        st = stream_lookup(self, self->cur.stream_id);
        if (st == NULL || st->reset)
                return;
        if (st->detached) {
                st->recv_unacked += (guint32)n;
                stream_maybe_send_window_update(self, st);
                return;
        }
        buf_append(&st->recv, data, n);
        self->buffered += n;
        if (!(st->queued & KP_YAMUX_QUEUED_READABLE)) {
                st->queued |= KP_YAMUX_QUEUED_READABLE;
                push_event(self, KP_YAMUX_EVENT_STREAM_READABLE, st->id);
        }
}

/* FIN and RST take effect after the frame's payload. */
static void
finish_frame(KpYamuxSession *self)
{
        KpYamuxStream *st;
        guint16 flags = self->cur.flags;

        if (self->cur_discard)
                return;
        st = stream_lookup(self, self->cur.stream_id);
        if (st == NULL || st->reset)
                return;
        if (flags & KP_YAMUX_FLAG_RST) {
                stream_mark_reset(self, st);
                if (st->detached)
                        stream_remove(self, st);
                else
                        push_event(self, KP_YAMUX_EVENT_STREAM_RESET, st->id);
                return;
        }
        if ((flags & KP_YAMUX_FLAG_FIN) && !st->remote_fin) {
                st->remote_fin = TRUE;
                if (st->detached)
                        stream_remove(self, st);
                else
                        push_event(self, KP_YAMUX_EVENT_STREAM_CLOSED_BY_PEER, st->id);
        }
}

static gboolean
handle_stream_header(KpYamuxSession *self, const KpYamuxHeader *h, GError **error)
{
        guint32 id = h->stream_id;
        guint32 data_len = h->type == KP_YAMUX_TYPE_DATA ? h->length : 0;
        KpYamuxStream *st;

        if (id == 0) {
                g_set_error(error, KP_ERROR, KP_ERROR_PROTOCOL, "yamux: %s frame on stream 0",
                            type_name(h->type));
                return FALSE;
        }
        if (data_len > KP_YAMUX_MAX_FRAME) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "yamux: DATA frame length %u exceeds limit %d on stream %u", data_len,
                            KP_YAMUX_MAX_FRAME, id);
                return FALSE;
        }
        if (h->flags & KP_YAMUX_FLAG_SYN) {
                if (h->flags & KP_YAMUX_FLAG_ACK) {
                        g_set_error(error, KP_ERROR, KP_ERROR_PROTOCOL,
                                    "yamux: SYN and ACK together on stream %u", id);
                        return FALSE;
                }
                if (is_local_id(self, id)) {
                        g_set_error(error, KP_ERROR, KP_ERROR_PROTOCOL,
                                    "yamux: SYN on stream %u, which has our parity", id);
                        return FALSE;
                }
                if (id <= self->highest_inbound) {
                        g_set_error(error, KP_ERROR, KP_ERROR_PROTOCOL,
                                    "yamux: SYN reuses stream id %u", id);
                        return FALSE;
                }
                self->highest_inbound = id;
                if (self->go_away_sent || self->go_away_received
                    || g_hash_table_size(self->streams) >= self->max_streams
                    || self->n_backlog >= KP_YAMUX_MAX_ACK_BACKLOG) {
                        if (!self->go_away_sent && !self->go_away_received)
                                self->n_refused++;
                        if (!emit_reply(self, KP_YAMUX_TYPE_WINDOW_UPDATE, KP_YAMUX_FLAG_RST, id, 0,
                                        error))
                                return FALSE;
                        begin_payload(self, h, TRUE);
                        return TRUE;
                }
                st = stream_new(self, id, FALSE);
                push_event(self, KP_YAMUX_EVENT_STREAM_OPENED, id);
        } else {
                st = stream_lookup(self, id);
                if (st == NULL || st->syn_pending) {
                        if (st != NULL || !id_was_used(self, id)) {
                                g_set_error(error, KP_ERROR, KP_ERROR_PROTOCOL,
                                            "yamux: %s frame on unknown stream %u",
                                            type_name(h->type), id);
                                return FALSE;
                        }
                        /* Frames in flight when we reset or released the
                         * stream still arrive; they mean nothing now. */
                        begin_payload(self, h, TRUE);
                        return TRUE;
                }
        }
        if (st->reset) {
                begin_payload(self, h, TRUE);
                return TRUE;
        }
        if (h->flags & KP_YAMUX_FLAG_ACK) {
                if (!st->outbound) {
                        g_set_error(error, KP_ERROR, KP_ERROR_PROTOCOL,
                                    "yamux: ACK on stream %u, which the peer opened", id);
                        return FALSE;
                }
                st->acked = TRUE;
        }
        if (h->type == KP_YAMUX_TYPE_WINDOW_UPDATE && h->length > 0) {
                if ((guint64)st->send_window + h->length > G_MAXUINT32) {
                        g_set_error(error, KP_ERROR, KP_ERROR_PROTOCOL,
                                    "yamux: WINDOW_UPDATE of %u overflows the send window %u "
                                    "of stream %u",
                                    h->length, st->send_window, id);
                        return FALSE;
                }
                st->send_window += h->length;
                stream_maybe_writable(self, st);
        }
        if (data_len > 0) {
                if (st->remote_fin) {
                        g_set_error(error, KP_ERROR, KP_ERROR_PROTOCOL,
                                    "yamux: DATA on stream %u after FIN", id);
                        return FALSE;
                }
                if (data_len > st->recv_credit) {
                        g_set_error(error, KP_ERROR, KP_ERROR_PROTOCOL,
                                    "yamux: DATA frame of %u bytes exceeds the receive window "
                                    "%u of stream %u",
                                    data_len, st->recv_credit, id);
                        return FALSE;
                }
                st->recv_credit -= data_len;
        }
        begin_payload(self, h, FALSE);
        return TRUE;
}

static gboolean
handle_ping(KpYamuxSession *self, const KpYamuxHeader *h, gint64 now_us, GError **error)
{
        gboolean syn = (h->flags & KP_YAMUX_FLAG_SYN) != 0;
        gboolean ack = (h->flags & KP_YAMUX_FLAG_ACK) != 0;

        if (h->stream_id != 0) {
                g_set_error(error, KP_ERROR, KP_ERROR_PROTOCOL,
                            "yamux: PING on stream %u, must be 0", h->stream_id);
                return FALSE;
        }
        if (syn == ack) {
                g_set_error(error, KP_ERROR, KP_ERROR_PROTOCOL,
                            "yamux: PING with flags 0x%x needs exactly one of SYN and ACK",
                            h->flags);
                return FALSE;
        }
        if (syn)
                return emit_reply(self, KP_YAMUX_TYPE_PING, KP_YAMUX_FLAG_ACK, 0, h->length, error);
        for (guint i = 0; i < self->n_pings; i++) {
                KpYamuxEvent *ev;

                if (self->pings[i].opaque != h->length)
                        continue;
                ev = push_event(self, KP_YAMUX_EVENT_PING_ACK, 0);
                ev->ping_opaque = h->length;
                ev->ping_sent_us = self->pings[i].sent_us;
                ev->ping_received_us = now_us;
                ev->rtt_us = now_us - self->pings[i].sent_us;
                self->pings[i] = self->pings[--self->n_pings];
                break;
        }
        /* An ACK we are not waiting for is harmless: ignored. */
        return TRUE;
}

static gboolean
handle_header(KpYamuxSession *self, const KpYamuxHeader *h, gint64 now_us, GError **error)
{
        if (h->version != KP_YAMUX_VERSION) {
                g_set_error(error, KP_ERROR, KP_ERROR_UNSUPPORTED, "yamux: unsupported version %u",
                            h->version);
                return FALSE;
        }
        switch (h->type) {
        case KP_YAMUX_TYPE_DATA:
        case KP_YAMUX_TYPE_WINDOW_UPDATE:
                if (!handle_stream_header(self, h, error))
                        return FALSE;
                if (!self->in_payload)
                        finish_frame(self);
                return TRUE;
        case KP_YAMUX_TYPE_PING:
                return handle_ping(self, h, now_us, error);
        case KP_YAMUX_TYPE_GO_AWAY:
                if (h->stream_id != 0) {
                        g_set_error(error, KP_ERROR, KP_ERROR_PROTOCOL,
                                    "yamux: GO_AWAY on stream %u, must be 0", h->stream_id);
                        return FALSE;
                }
                if (!self->go_away_received) {
                        KpYamuxEvent *ev;

                        self->go_away_received = TRUE;
                        ev = push_event(self, KP_YAMUX_EVENT_GO_AWAY_RECEIVED, 0);
                        ev->go_away_code = h->length;
                }
                return TRUE;
        default:
                g_set_error(error, KP_ERROR, KP_ERROR_PROTOCOL, "yamux: unknown frame type %u",
                            h->type);
                return FALSE;
        }
}

gboolean
kp_yamux_session_feed(KpYamuxSession *session, const guint8 *data, gsize len, gint64 now_us,
                      GError **error)
{
        gsize pos = 0;

        g_return_val_if_fail(session != NULL, FALSE);
        g_return_val_if_fail(data != NULL || len == 0, FALSE);

        if (session->error != NULL) {
                g_propagate_error(error, g_error_copy(session->error));
                return FALSE;
        }
        while (pos < len) {
                if (session->in_payload) {
                        gsize n = MIN(len - pos, (gsize)session->payload_left);

                        handle_payload(session, data + pos, n);
                        pos += n;
                        session->payload_left -= (guint32)n;
                        if (session->payload_left == 0) {
                                session->in_payload = FALSE;
                                finish_frame(session);
                        }
                } else {
                        gsize n = MIN(len - pos, KP_YAMUX_HEADER_SIZE - session->hdr_fill);
                        KpYamuxHeader h;
                        GError *local = NULL;

                        memcpy(session->hdr + session->hdr_fill, data + pos, n);
                        session->hdr_fill += n;
                        pos += n;
                        if (session->hdr_fill < KP_YAMUX_HEADER_SIZE)
                                break;
                        session->hdr_fill = 0;
                        kp_yamux_header_decode(session->hdr, &h);
                        if (!handle_header(session, &h, now_us, &local)) {
                                session_fail(session, local);
                                g_propagate_error(error, g_error_copy(local));
                                return FALSE;
                        }
                }
        }
        return TRUE;
}

gsize
kp_yamux_session_pending_output(KpYamuxSession *session, const guint8 **ret_data)
{
        g_return_val_if_fail(session != NULL, 0);

        if (ret_data != NULL)
                *ret_data
                    = session->out.data != NULL ? session->out.data + session->out.start : NULL;
        return buf_len(&session->out);
}

void
kp_yamux_session_output_consumed(KpYamuxSession *session, gsize n)
{
        GHashTableIter iter;
        gpointer value;

        g_return_if_fail(session != NULL);
        g_return_if_fail(n <= buf_len(&session->out));

        buf_consume(&session->out, n, KP_YAMUX_KEEP_BUFFER);
        /* Only a frame still whole in @out can grow. */
        if (session->last_open) {
                if (n > session->last_at)
                        session->last_open = FALSE;
                else
                        session->last_at -= n;
        }
        if (!session->any_write_blocked || buf_len(&session->out) >= KP_YAMUX_OUTPUT_HIGH_WATER / 2)
                return;
        session->any_write_blocked = FALSE;
        g_hash_table_iter_init(&iter, session->streams);
        while (g_hash_table_iter_next(&iter, NULL, &value))
                stream_maybe_writable(session, value);
}

gboolean
kp_yamux_session_next_event(KpYamuxSession *session, KpYamuxEvent *ret_event)
{
        KpYamuxEvent *ev;

        g_return_val_if_fail(session != NULL, FALSE);
        g_return_val_if_fail(ret_event != NULL, FALSE);

        while (session->events_head < session->events->len) {
                ev = &g_array_index(session->events, KpYamuxEvent, session->events_head++);
                if (is_stream_event(ev->kind)) {
                        KpYamuxStream *st = stream_lookup(session, ev->stream_id);

                        if (st == NULL || st->detached)
                                continue;
                        if (ev->kind == KP_YAMUX_EVENT_STREAM_READABLE)
                                st->queued &= ~(guint)KP_YAMUX_QUEUED_READABLE;
                        if (ev->kind == KP_YAMUX_EVENT_STREAM_WRITABLE)
                                st->queued &= ~(guint)KP_YAMUX_QUEUED_WRITABLE;
                        ev->user_data = st->user_data;
                }
                *ret_event = *ev;
                return TRUE;
        }
        g_array_set_size(session->events, 0);
        session->events_head = 0;
        return FALSE;
}

gboolean
kp_yamux_session_ping(KpYamuxSession *session, gint64 now_us, guint32 *ret_opaque, GError **error)
{
        guint32 opaque;

        g_return_val_if_fail(session != NULL, FALSE);

        if (!check_not_failed(session, error))
                return FALSE;
        if (session->n_pings >= KP_YAMUX_MAX_PENDING_PINGS) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "yamux: %u pings already awaiting their ACK, limit %d",
                            session->n_pings, KP_YAMUX_MAX_PENDING_PINGS);
                return FALSE;
        }
        opaque = session->next_ping++;
        session->pings[session->n_pings].opaque = opaque;
        session->pings[session->n_pings].sent_us = now_us;
        session->n_pings++;
        emit_frame(session, KP_YAMUX_TYPE_PING, KP_YAMUX_FLAG_SYN, 0, opaque, NULL, 0);
        if (ret_opaque != NULL)
                *ret_opaque = opaque;
        return TRUE;
}

void
kp_yamux_session_go_away(KpYamuxSession *session, KpYamuxGoAwayCode code)
{
        g_return_if_fail(session != NULL);

        if (session->go_away_sent)
                return;
        session->go_away_sent = TRUE;
        emit_frame(session, KP_YAMUX_TYPE_GO_AWAY, 0, 0, code, NULL, 0);
}

const GError *
kp_yamux_session_get_error(KpYamuxSession *session)
{
        g_return_val_if_fail(session != NULL, NULL);
        return session->error;
}

guint
kp_yamux_session_get_n_streams(KpYamuxSession *session)
{
        g_return_val_if_fail(session != NULL, 0);
        return g_hash_table_size(session->streams);
}

void
kp_yamux_session_set_max_streams(KpYamuxSession *session, guint max_streams)
{
        g_return_if_fail(session != NULL);
        g_return_if_fail(max_streams >= KP_YAMUX_MAX_STREAMS_MIN
                         && max_streams <= KP_YAMUX_MAX_STREAMS_MAX);
        session->max_streams = max_streams;
}

guint
kp_yamux_session_get_max_streams(KpYamuxSession *session)
{
        g_return_val_if_fail(session != NULL, 0);
        return session->max_streams;
}

guint64
kp_yamux_session_get_n_refused(KpYamuxSession *session)
{
        g_return_val_if_fail(session != NULL, 0);
        return session->n_refused;
}

gsize
kp_yamux_session_get_buffered(KpYamuxSession *session)
{
        g_return_val_if_fail(session != NULL, 0);
        return session->buffered;
}

guint32
kp_yamux_session_open_stream(KpYamuxSession *session, GError **error)
{
        guint32 id;

        g_return_val_if_fail(session != NULL, 0);

        if (!check_not_failed(session, error))
                return 0;
        if (session->go_away_sent) {
                g_set_error(error, KP_ERROR, KP_ERROR_CLOSED,
                            "yamux: no new streams after our GO_AWAY");
                return 0;
        }
        if (session->go_away_received) {
                g_set_error(error, KP_ERROR, KP_ERROR_CLOSED,
                            "yamux: no new streams after the peer's GO_AWAY");
                return 0;
        }
        if (g_hash_table_size(session->streams) >= session->max_streams) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE, "yamux: %u streams open, limit %u",
                            g_hash_table_size(session->streams), session->max_streams);
                return 0;
        }
        if (session->next_id > G_MAXUINT32) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE, "yamux: stream ids exhausted");
                return 0;
        }
        id = (guint32)session->next_id;
        session->next_id += 2;
        stream_new(session, id, TRUE);
        return id;
}

/* The streams the host may act on: released ones are gone to it. */
static KpYamuxStream *
host_stream(KpYamuxSession *self, guint32 id, GError **error)
{
        KpYamuxStream *st = stream_lookup(self, id);

        if (st == NULL || st->detached) {
                g_set_error(error, KP_ERROR, KP_ERROR_NOT_FOUND, "yamux: no stream %u", id);
                return NULL;
        }
        return st;
}

/* A host stream that data can still move on: the session has not failed
 * and the stream was not reset. */
static KpYamuxStream *
open_host_stream(KpYamuxSession *self, guint32 id, GError **error)
{
        KpYamuxStream *st = host_stream(self, id, error);

        if (st == NULL || !check_not_failed(self, error))
                return NULL;
        if (st->reset) {
                g_set_error(error, KP_ERROR, KP_ERROR_CLOSED, "yamux: stream %u was reset", id);
                return NULL;
        }
        return st;
}

gssize
kp_yamux_stream_write(KpYamuxSession *session, guint32 stream_id, const guint8 *data, gsize len,
                      GError **error)
{
        KpYamuxStream *st;
        gsize pending;
        gsize n;
        gsize off = 0;

        g_return_val_if_fail(session != NULL, -1);
        g_return_val_if_fail(data != NULL || len == 0, -1);

        st = open_host_stream(session, stream_id, error);
        if (st == NULL)
                return -1;
        if (st->local_fin) {
                g_set_error(error, KP_ERROR, KP_ERROR_CLOSED,
                            "yamux: stream %u is closed for writing", stream_id);
                return -1;
        }
        if (len == 0) {
                guint16 flags = stream_take_open_flags(session, st);

                if (flags != 0)
                        emit_frame(session, KP_YAMUX_TYPE_WINDOW_UPDATE, flags, stream_id, 0, NULL,
                                   0);
                return 0;
        }
        pending = buf_len(&session->out);
        n = pending < KP_YAMUX_OUTPUT_HIGH_WATER ? KP_YAMUX_OUTPUT_HIGH_WATER - pending : 0;
        n = MIN(n, (gsize)st->send_window);
        n = MIN(n, len);
        while (off < n) {
                gsize chunk = MIN(n - off, (gsize)KP_YAMUX_MAX_SEND_FRAME);
                guint16 flags = stream_take_open_flags(session, st);

                if (flags != 0 || !extend_last_frame(session, stream_id, data + off, chunk))
                        emit_frame(session, KP_YAMUX_TYPE_DATA, flags, stream_id, (guint32)chunk,
                                   data + off, chunk);
                off += chunk;
        }
        st->send_window -= (guint32)n;
        if (n < len) {
                st->write_blocked = TRUE;
                /* cut short by the output queue rather than by credit */
                if (st->send_window > 0)
                        session->any_write_blocked = TRUE;
        }
        return (gssize)n;
}

gsize
kp_yamux_stream_peek(KpYamuxSession *session, guint32 stream_id, const guint8 **ret_data)
{
        KpYamuxStream *st;

        g_return_val_if_fail(session != NULL, 0);

        st = host_stream(session, stream_id, NULL);
        if (st == NULL || buf_len(&st->recv) == 0) {
                if (ret_data != NULL)
                        *ret_data = NULL;
                return 0;
        }
        if (ret_data != NULL)
                *ret_data = st->recv.data + st->recv.start;
        return buf_len(&st->recv);
}

void
kp_yamux_stream_consume(KpYamuxSession *session, guint32 stream_id, gsize n)
{
        KpYamuxStream *st;

        g_return_if_fail(session != NULL);

        st = host_stream(session, stream_id, NULL);
        g_return_if_fail(st != NULL);
        g_return_if_fail(n <= buf_len(&st->recv));

        if (n == 0)
                return;
        /* Received buffers are freed as soon as they are empty: an idle stream
         * holds no memory. */
        buf_consume(&st->recv, n, 0);
        session->buffered -= n;
        st->recv_unacked += (guint32)n;
        if (session->error == NULL)
                stream_maybe_send_window_update(session, st);
}

gssize
kp_yamux_stream_read(KpYamuxSession *session, guint32 stream_id, guint8 *buf, gsize len,
                     GError **error)
{
        KpYamuxStream *st;
        gsize n;

        g_return_val_if_fail(session != NULL, -1);
        g_return_val_if_fail(buf != NULL || len == 0, -1);

        st = open_host_stream(session, stream_id, error);
        if (st == NULL)
                return -1;
        n = MIN(len, buf_len(&st->recv));
        if (n > 0) {
                memcpy(buf, st->recv.data + st->recv.start, n);
                kp_yamux_stream_consume(session, stream_id, n);
        }
        return (gssize)n;
}

gboolean
kp_yamux_stream_is_eof(KpYamuxSession *session, guint32 stream_id)
{
        KpYamuxStream *st;

        g_return_val_if_fail(session != NULL, FALSE);

        st = host_stream(session, stream_id, NULL);
        return st != NULL && st->remote_fin && buf_len(&st->recv) == 0;
}

gboolean
kp_yamux_stream_close(KpYamuxSession *session, guint32 stream_id, GError **error)
{
        KpYamuxStream *st;
        guint16 flags;

        g_return_val_if_fail(session != NULL, FALSE);

        st = host_stream(session, stream_id, error);
        if (st == NULL)
                return FALSE;
        /* Teardown paths need not care whether the peer or the session
         * already ended the stream. */
        if (st->reset || st->local_fin || session->error != NULL)
                return TRUE;
        /* Never on a DATA frame: js-libp2p-yamux applies a frame's flags
         * before its payload and drops data that arrives after a FIN. */
        flags = stream_take_open_flags(session, st) | KP_YAMUX_FLAG_FIN;
        emit_frame(session, KP_YAMUX_TYPE_WINDOW_UPDATE, flags, stream_id, 0, NULL, 0);
        st->local_fin = TRUE;
        st->write_blocked = FALSE;
        return TRUE;
}

static void
stream_send_reset(KpYamuxSession *self, KpYamuxStream *st)
{
        gboolean on_wire = !st->syn_pending && !(st->local_fin && st->remote_fin);

        if (st->reset)
                return;
        if (on_wire && self->error == NULL)
                emit_frame(self, KP_YAMUX_TYPE_WINDOW_UPDATE, KP_YAMUX_FLAG_RST, st->id, 0, NULL,
                           0);
        st->syn_pending = FALSE;
        stream_mark_reset(self, st);
}

gboolean
kp_yamux_stream_reset(KpYamuxSession *session, guint32 stream_id, GError **error)
{
        KpYamuxStream *st;

        g_return_val_if_fail(session != NULL, FALSE);

        st = host_stream(session, stream_id, error);
        if (st == NULL)
                return FALSE;
        stream_send_reset(session, st);
        return TRUE;
}

void
kp_yamux_stream_release(KpYamuxSession *session, guint32 stream_id)
{
        KpYamuxStream *st;

        g_return_if_fail(session != NULL);

        st = host_stream(session, stream_id, NULL);
        if (st == NULL)
                return;
        st->user_data = NULL;
        st->queued = 0;
        if (st->local_fin && !st->remote_fin && !st->reset && session->error == NULL) {
                /* Keep absorbing the peer's last bytes and return their
                 * credit, so it can finish and send its FIN. */
                st->detached = TRUE;
                st->write_blocked = FALSE;
                st->recv_unacked += (guint32)buf_len(&st->recv);
                stream_drop_buffer(session, st);
                stream_maybe_send_window_update(session, st);
                return;
        }
        if (!st->local_fin || !st->remote_fin)
                stream_send_reset(session, st);
        stream_remove(session, st);
}

gboolean
kp_yamux_stream_get_state(KpYamuxSession *session, guint32 stream_id, KpYamuxStreamState *ret_state)
{
        KpYamuxStream *st;
        KpYamuxStreamState state;

        g_return_val_if_fail(session != NULL, FALSE);

        st = host_stream(session, stream_id, NULL);
        if (st == NULL)
                return FALSE;
        if (st->reset || session->error != NULL)
                state = KP_YAMUX_STREAM_STATE_RESET;
        else if (st->local_fin && st->remote_fin)
                state = KP_YAMUX_STREAM_STATE_CLOSED;
        else if (st->local_fin)
                state = KP_YAMUX_STREAM_STATE_LOCAL_CLOSED;
        else if (st->remote_fin)
                state = KP_YAMUX_STREAM_STATE_REMOTE_CLOSED;
        else
                state = KP_YAMUX_STREAM_STATE_OPEN;
        if (ret_state != NULL)
                *ret_state = state;
        return TRUE;
}

gboolean
kp_yamux_stream_is_acked(KpYamuxSession *session, guint32 stream_id)
{
        KpYamuxStream *st;

        g_return_val_if_fail(session != NULL, FALSE);

        st = host_stream(session, stream_id, NULL);
        return st != NULL && st->acked;
}

gsize
kp_yamux_stream_get_readable(KpYamuxSession *session, guint32 stream_id)
{
        KpYamuxStream *st;

        g_return_val_if_fail(session != NULL, 0);

        st = host_stream(session, stream_id, NULL);
        return st != NULL ? buf_len(&st->recv) : 0;
}

guint32
kp_yamux_stream_get_send_window(KpYamuxSession *session, guint32 stream_id)
{
        KpYamuxStream *st;

        g_return_val_if_fail(session != NULL, 0);

        st = host_stream(session, stream_id, NULL);
        return st != NULL ? st->send_window : 0;
}

gboolean
kp_yamux_stream_set_user_data(KpYamuxSession *session, guint32 stream_id, gpointer user_data)
{
        KpYamuxStream *st;

        g_return_val_if_fail(session != NULL, FALSE);

        st = host_stream(session, stream_id, NULL);
        if (st == NULL)
                return FALSE;
        st->user_data = user_data;
        return TRUE;
}

gpointer
kp_yamux_stream_get_user_data(KpYamuxSession *session, guint32 stream_id)
{
        KpYamuxStream *st;

        g_return_val_if_fail(session != NULL, NULL);

        st = host_stream(session, stream_id, NULL);
        return st != NULL ? st->user_data : NULL;
}
