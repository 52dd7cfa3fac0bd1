/* A yamux stream with its multistream-select negotiation, as protocol
 * handlers see it. */
#define G_LOG_DOMAIN "kp-net"

#include <string.h>

#include "core/kp-error.h"
#include "net/kp-connection-private.h"

#define KP_STREAM_STACK_COPY 4096

KpStream *
kp_stream_new(KpConnection *conn, guint32 id, gboolean outbound)
{
        KpStream *stream = g_new0(KpStream, 1);

        stream->ref_count = 1;
        stream->conn = conn;
        stream->id = id;
        stream->outbound = outbound;
        return stream;
}

KpStream *
kp_stream_ref(KpStream *stream)
{
        g_atomic_int_inc(&stream->ref_count);
        return stream;
}

void
kp_stream_unref(KpStream *stream)
{
        if (stream == NULL || !g_atomic_int_dec_and_test(&stream->ref_count))
                return;
        g_clear_pointer(&stream->mss, kp_mss_free);
        g_clear_pointer(&stream->pending, g_byte_array_unref);
        g_clear_pointer(&stream->held, g_byte_array_unref);
        g_free(stream->protocol);
        g_free(stream);
}

void
kp_stream_set_callbacks(KpStream *stream, const KpStreamCallbacks *callbacks, gpointer user_data)
{
        if (callbacks != NULL)
                stream->callbacks = *callbacks;
        else
                memset(&stream->callbacks, 0, sizeof stream->callbacks);
        stream->user_data = user_data;
}

const char *
kp_stream_get_protocol(KpStream *stream)
{
        return stream->protocol;
}

KpConnection *
kp_stream_get_connection(KpStream *stream)
{
        return stream->conn;
}

guint32
kp_stream_get_id(KpStream *stream)
{
        return stream->id;
}

gsize
kp_stream_get_write_queued(KpStream *stream)
{
        return (stream->pending != NULL ? stream->pending->len : 0)
               + (stream->held != NULL ? stream->held->len : 0);
}

static gboolean
stream_is_live(KpStream *stream)
{
        return !stream->finished && stream->conn != NULL
               && stream->conn->stage == KP_CONNECTION_STAGE_OPEN;
}

/* Sends what yamux's flow control lets through; the rest waits in
 * @pending for STREAM_WRITABLE. */
static void
send_pending(KpStream *stream)
{
        g_autoptr(GError) error = NULL;
        gssize n;

        if (stream->pending == NULL || !stream_is_live(stream))
                return;
        n = kp_yamux_stream_write(stream->conn->yamux, stream->id, stream->pending->data,
                                  stream->pending->len, &error);
        if (n < 0) {
                kp_stream_finish(stream, error);
                return;
        }
        g_byte_array_remove_range(stream->pending, 0, (guint)n);
        if (stream->pending->len == 0)
                g_clear_pointer(&stream->pending, g_byte_array_unref);
}

static void
maybe_send_fin(KpStream *stream)
{
        if (!stream->close_requested || stream->pending != NULL || stream->held != NULL
            || !stream_is_live(stream))
                return;
        kp_yamux_stream_close(stream->conn->yamux, stream->id, NULL);
        if (stream->eof_seen)
                kp_stream_finish(stream, NULL);
}

static void
write_now(KpStream *stream, const guint8 *data, gsize len)
{
        if (!stream_is_live(stream))
                return;
        if (stream->pending == NULL) {
                g_autoptr(GError) error = NULL;
                gssize n
                    = kp_yamux_stream_write(stream->conn->yamux, stream->id, data, len, &error);
                if (n < 0) {
                        kp_stream_finish(stream, error);
                        return;
                }
                data += n;
                len -= (gsize)n;
                if (len == 0)
                        return;
                stream->pending = g_byte_array_new();
        }
        g_byte_array_append(stream->pending, data, (guint)len);
}

static void
write_mss_output(KpStream *stream)
{
        g_autoptr(KpStream) self = NULL;
        const guint8 *data;
        gsize len = kp_mss_peek_output(stream->mss, &data);

        if (len == 0)
                return;
        /* A failed write finishes the stream: @mss must outlive it. */
        self = kp_stream_ref(stream);
        write_now(stream, data, len);
        kp_mss_output_consumed(stream->mss);
}

void
kp_stream_write(KpStream *stream, const guint8 *data, gsize len)
{
        KpConnection *conn = stream->conn;

        if (!stream_is_live(stream) || stream->close_requested)
                return;
        /* Until the protocol is agreed (or a lazy proposal is out), data
         * waits behind the negotiation. */
        if (stream->mss != NULL && !kp_mss_may_send(stream->mss)) {
                if (stream->held == NULL)
                        stream->held = g_byte_array_new();
                g_byte_array_append(stream->held, data, (guint)len);
                return;
        }
        write_now(stream, data, len);
        kp_connection_flush(conn);
}

void
kp_stream_close_write(KpStream *stream)
{
        KpConnection *conn = stream->conn;

        if (!stream_is_live(stream) || stream->close_requested)
                return;
        stream->close_requested = TRUE;
        maybe_send_fin(stream);
        if (conn != NULL)
                kp_connection_flush(conn);
}

void
kp_stream_reset(KpStream *stream)
{
        KpConnection *conn = stream->conn;
        g_autoptr(GError) error = NULL;

        if (stream->finished)
                return;
        if (stream_is_live(stream))
                kp_yamux_stream_reset(conn->yamux, stream->id, NULL);
        error = g_error_new(KP_ERROR, KP_ERROR_CLOSED, "stream reset locally");
        kp_stream_finish(stream, error);
        if (conn != NULL)
                kp_connection_flush(conn);
}

void
kp_stream_finish(KpStream *stream, const GError *error)
{
        g_autoptr(KpStream) self = NULL;
        KpConnection *conn = stream->conn;

        if (stream->finished)
                return;
        self = kp_stream_ref(stream);
        stream->finished = TRUE;
        if (stream->callbacks.closed != NULL)
                stream->callbacks.closed(stream, error, stream->user_data);
        stream->conn = NULL;
        if (conn != NULL && conn->streams != NULL) {
                if (conn->stage != KP_CONNECTION_STAGE_CLOSED)
                        kp_yamux_stream_release(conn->yamux, stream->id);
                g_hash_table_remove(conn->streams, GUINT_TO_POINTER(stream->id));
        }
}

static void
on_negotiated(KpStream *stream)
{
        stream->protocol = kp_mss_steal_protocol(stream->mss);
        g_clear_pointer(&stream->mss, kp_mss_free);
        if (!stream->outbound) {
                gpointer handler_data = NULL;
                KpStreamHandlerFunc handler
                    = kp_host_lookup_handler(stream->conn->host, stream->protocol, &handler_data);
                if (handler == NULL) {
                        kp_stream_reset(stream);
                        return;
                }
                handler(stream, handler_data);
        } else if (stream->callbacks.negotiated != NULL) {
                stream->callbacks.negotiated(stream, stream->user_data);
        }
        if (stream->held != NULL && stream_is_live(stream)) {
                g_autoptr(GByteArray) held = g_steal_pointer(&stream->held);
                write_now(stream, held->data, held->len);
        }
        maybe_send_fin(stream);
}

static void
on_eof(KpStream *stream)
{
        if (stream->eof_seen || stream->finished)
                return;
        stream->eof_seen = TRUE;
        if (stream->mss != NULL) {
                /* The peer gave up before a protocol was agreed. */
                kp_stream_reset(stream);
                return;
        }
        if (stream->callbacks.eof != NULL)
                stream->callbacks.eof(stream, stream->user_data);
        if (stream->close_requested && stream->pending == NULL && stream->held == NULL
            && !stream->finished)
                kp_stream_finish(stream, NULL);
}

/* Hands @n bytes to the data callback. yamux's buffer may move on the next
 * call into the session, so the bytes are consumed first from a copy (on the
 * stack for the small messages of ping and kameo). */
static void
deliver(KpStream *stream, KpYamuxSession *yamux, const guint8 *data, gsize n)
{
        guint8 small[KP_STREAM_STACK_COPY];
        g_autofree guint8 *large = NULL;
        guint8 *copy = small;

        if (n > sizeof small)
                copy = large = g_malloc(n);
        memcpy(copy, data, n);
        kp_yamux_stream_consume(yamux, stream->id, n);
        stream->callbacks.data(stream, copy, n, stream->user_data);
}

void
kp_stream_on_readable(KpStream *stream)
{
        g_autoptr(KpStream) self G_GNUC_UNUSED = kp_stream_ref(stream);

        while (stream_is_live(stream)) {
                KpYamuxSession *yamux = stream->conn->yamux;
                const guint8 *data;
                gsize n = kp_yamux_stream_peek(yamux, stream->id, &data);

                if (n == 0)
                        break;
                if (stream->mss != NULL) {
                        g_autoptr(GError) error = NULL;
                        gsize used = 0;

                        if (!kp_mss_feed(stream->mss, data, n, &used, &error)) {
                                g_debug("stream %u negotiation failed: %s", stream->id,
                                        error->message);
                                if (stream->callbacks.closed != NULL) {
                                        KpStreamCallbacks cb = stream->callbacks;
                                        stream->callbacks.closed = NULL;
                                        cb.closed(stream, error, stream->user_data);
                                }
                                kp_stream_reset(stream);
                                return;
                        }
                        kp_yamux_stream_consume(yamux, stream->id, used);
                        write_mss_output(stream);
                        if (kp_mss_get_state(stream->mss) == KP_MSS_DONE)
                                on_negotiated(stream);
                        continue;
                }
                if (stream->callbacks.data == NULL) {
                        /* Nobody reads this stream: drop the bytes rather than
                         * stall the window. */
                        kp_yamux_stream_consume(yamux, stream->id, n);
                        continue;
                }
                deliver(stream, yamux, data, n);
        }
        if (stream_is_live(stream) && kp_yamux_stream_is_eof(stream->conn->yamux, stream->id))
                on_eof(stream);
}

void
kp_stream_on_writable(KpStream *stream)
{
        send_pending(stream);
        maybe_send_fin(stream);
}

void
kp_stream_on_peer_closed(KpStream *stream)
{
        kp_stream_on_readable(stream);
}

void
kp_stream_start_inbound(KpStream *stream)
{
        stream->mss = kp_mss_new_listener_shared(kp_host_get_protocol_list(stream->conn->host));
        write_mss_output(stream);
}

gboolean
kp_stream_start_outbound(KpStream *stream, const char *const *protocols, GError **error)
{
        g_autoptr(GPtrArray) list
            = kp_host_get_dial_protocols(stream->conn->host, protocols, error);

        if (list == NULL)
                return FALSE;
        stream->mss = kp_mss_new_dialer_shared(list, list->len == 1);
        write_mss_output(stream);
        /* With several protocols no data follows until the listener answers:
         * the proposal must go out now, not with the next write. */
        kp_connection_flush(stream->conn);
        return TRUE;
}
