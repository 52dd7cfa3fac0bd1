/* One libp2p connection: the upgrade from raw TCP to a secure, multiplexed
 * session, then yamux events dispatched to streams. */
#define G_LOG_DOMAIN "kp-net"

#include "core/kp-error.h"
#include "net/kp-connection-private.h"
#include "net/kp-tcp.h"

static const char *const noise_protocols[] = { KP_NOISE_PROTOCOL_ID, NULL };
static const char *const yamux_protocols[] = { KP_YAMUX_PROTOCOL_ID, NULL };

static void connection_fail(KpConnection *conn, const GError *error);

KpConnection *
kp_connection_ref(KpConnection *conn)
{
        g_atomic_int_inc(&conn->ref_count);
        return conn;
}

void
kp_connection_unref(KpConnection *conn)
{
        if (conn == NULL || !g_atomic_int_dec_and_test(&conn->ref_count))
                return;
        kp_deadline_cancel(&conn->idle_deadline);
        g_clear_pointer(&conn->streams, g_hash_table_unref);
        g_clear_pointer(&conn->pump, kp_socket_pump_free);
        g_clear_pointer(&conn->mss, kp_mss_free);
        g_clear_pointer(&conn->noise, kp_noise_free);
        g_clear_pointer(&conn->yamux, kp_yamux_session_free);
        g_clear_pointer(&conn->remote_addr, kp_multiaddr_free);
        g_clear_pointer(&conn->local_addr, kp_multiaddr_free);
        g_clear_pointer(&conn->scratch, g_byte_array_unref);
        g_clear_pointer(&conn->plain, g_byte_array_unref);
        g_free(conn);
}

const KpPeerId *
kp_connection_get_remote_peer_id(KpConnection *conn)
{
        return &conn->remote_peer;
}

const KpPublicKey *
kp_connection_get_remote_public_key(KpConnection *conn)
{
        return conn->noise != NULL ? kp_noise_get_remote_public_key(conn->noise) : NULL;
}

const KpMultiaddr *
kp_connection_get_remote_addr(KpConnection *conn)
{
        return conn->remote_addr;
}

const KpMultiaddr *
kp_connection_get_local_addr(KpConnection *conn)
{
        return conn->local_addr;
}

KpConnectionDirection
kp_connection_get_direction(KpConnection *conn)
{
        return conn->direction;
}

gboolean
kp_connection_is_open(KpConnection *conn)
{
        return conn->stage == KP_CONNECTION_STAGE_OPEN;
}

gint64
kp_connection_get_upgrade_us(KpConnection *conn)
{
        return conn->upgrade_us;
}

KpHost *
kp_connection_get_host(KpConnection *conn)
{
        return conn->host;
}

static void
write_raw(KpConnection *conn, GBytes *bytes)
{
        gsize len;
        const guint8 *data;

        if (bytes == NULL)
                return;
        data = g_bytes_get_data(bytes, &len);
        kp_socket_pump_write(conn->pump, data, len);
        g_bytes_unref(bytes);
}

static void
write_noise_output(KpConnection *conn)
{
        g_byte_array_set_size(conn->scratch, 0);
        if (kp_noise_take_output(conn->noise, conn->scratch) > 0)
                kp_socket_pump_write(conn->pump, conn->scratch->data, conn->scratch->len);
}

static gboolean
write_encrypted(KpConnection *conn, const guint8 *data, gsize len)
{
        g_autoptr(GError) error = NULL;

        g_byte_array_set_size(conn->scratch, 0);
        if (!kp_noise_encrypt(conn->noise, data, len, conn->scratch, &error)) {
                connection_fail(conn, error);
                return FALSE;
        }
        kp_socket_pump_write(conn->pump, conn->scratch->data, conn->scratch->len);
        return TRUE;
}

static void
write_encrypted_bytes(KpConnection *conn, GBytes *bytes)
{
        gsize len;
        const guint8 *data;

        if (bytes == NULL)
                return;
        data = g_bytes_get_data(bytes, &len);
        write_encrypted(conn, data, len);
        g_bytes_unref(bytes);
}

static void
write_yamux_output(KpConnection *conn)
{
        const guint8 *data;
        gsize n;

        while ((n = kp_yamux_session_pending_output(conn->yamux, &data)) > 0) {
                if (!write_encrypted(conn, data, n))
                        return;
                kp_yamux_session_output_consumed(conn->yamux, n);
        }
}

void
kp_connection_flush_now(KpConnection *conn)
{
        if (conn->output_held > 0 || conn->yamux == NULL
            || conn->stage == KP_CONNECTION_STAGE_CLOSED)
                return;
        write_yamux_output(conn);
}

void
kp_connection_flush(KpConnection *conn)
{
        /* While input is handled, output waits for the end of the read so
         * that answers share one message and one write, but not past
         * KP_CONNECTION_EARLY_FLUSH_BYTES: the peer can work on the first
         * answers while this side produces the rest. */
        if (conn->dispatch_depth > 0 && conn->yamux != NULL
            && kp_yamux_session_pending_output(conn->yamux, NULL) < KP_CONNECTION_EARLY_FLUSH_BYTES)
                return;
        kp_connection_flush_now(conn);
}

guint
kp_connection_get_n_streams(KpConnection *conn)
{
        return conn->yamux != NULL ? kp_yamux_session_get_n_streams(conn->yamux) : 0;
}

void
kp_connection_hold_output(KpConnection *conn)
{
        conn->output_held++;
}

void
kp_connection_release_output(KpConnection *conn)
{
        g_return_if_fail(conn->output_held > 0);
        conn->output_held--;
        kp_connection_flush(conn);
}

static void
finish_all_streams(KpConnection *conn, const GError *error)
{
        g_autoptr(GPtrArray) streams = NULL;
        GHashTableIter iter;
        gpointer value;

        if (conn->streams == NULL)
                return;
        streams = g_ptr_array_new_with_free_func((GDestroyNotify)kp_stream_unref);
        g_hash_table_iter_init(&iter, conn->streams);
        while (g_hash_table_iter_next(&iter, NULL, &value))
                g_ptr_array_add(streams, kp_stream_ref(value));
        for (guint i = 0; i < streams->len; i++)
                kp_stream_finish(streams->pdata[i], error);
}

/* Ends the connection once: streams, timers, socket, then the host is told. */
static void
connection_fail(KpConnection *conn, const GError *error)
{
        g_autoptr(KpConnection) self = NULL;
        g_autoptr(GError) stream_error = NULL;

        if (conn->stage == KP_CONNECTION_STAGE_CLOSED)
                return;
        self = kp_connection_ref(conn);
        /* A GO_AWAY yamux queued for a protocol error goes out first. */
        if (conn->yamux != NULL)
                write_yamux_output(conn);
        conn->stage = KP_CONNECTION_STAGE_CLOSED;
        kp_deadline_cancel(&conn->idle_deadline);
        kp_socket_pump_close(conn->pump);
        stream_error = error != NULL ? g_error_copy(error)
                                     : g_error_new(KP_ERROR, KP_ERROR_CLOSED, "connection closed");
        finish_all_streams(conn, stream_error);
        if (conn->host_callbacks.closed != NULL)
                conn->host_callbacks.closed(conn, error, conn->host_data);
}

void
kp_connection_close(KpConnection *conn)
{
        if (conn->stage == KP_CONNECTION_STAGE_CLOSED)
                return;
        if (conn->yamux != NULL)
                kp_yamux_session_go_away(conn->yamux, KP_YAMUX_GO_AWAY_NORMAL);
        connection_fail(conn, NULL);
}

void
kp_connection_abort(KpConnection *conn, const GError *error)
{
        connection_fail(conn, error);
}

void
kp_connection_on_idle_deadline(gpointer data, gpointer user_data)
{
        KpConnection *conn = data;
        gint64 idle_ms = (g_get_monotonic_time() - conn->last_input_us) / 1000;
        g_autoptr(GError) error = NULL;

        if (idle_ms < conn->idle_timeout_ms) {
                kp_deadlines_add(kp_host_get_idle_deadlines(conn->host), &conn->idle_deadline,
                                 (guint)(conn->idle_timeout_ms - idle_ms), conn);
                return;
        }
        error = g_error_new(KP_ERROR, KP_ERROR_TIMEOUT, "idle for %u ms", conn->idle_timeout_ms);
        connection_fail(conn, error);
}

static void
start_yamux(KpConnection *conn)
{
        conn->yamux = kp_yamux_session_new(conn->direction == KP_CONNECTION_OUTBOUND
                                               ? KP_YAMUX_ROLE_CLIENT
                                               : KP_YAMUX_ROLE_SERVER);
        kp_yamux_session_set_max_streams(
            conn->yamux, kp_host_get_limits(conn->host)->max_streams_per_connection);
        conn->streams = g_hash_table_new_full(NULL, NULL, NULL, (GDestroyNotify)kp_stream_unref);
        conn->stage = KP_CONNECTION_STAGE_OPEN;
        g_clear_pointer(&conn->mss, kp_mss_free);
        conn->upgrade_us = g_get_monotonic_time() - conn->connected_us;
        kp_deadlines_add(kp_host_get_idle_deadlines(conn->host), &conn->idle_deadline,
                         conn->idle_timeout_ms, conn);
        if (conn->host_callbacks.established != NULL)
                conn->host_callbacks.established(conn, conn->host_data);
}

/* Noise is done: the remote proved its peer id; now the muxer. */
static void
on_secure(KpConnection *conn)
{
        const char *early = kp_noise_select_muxer(conn->noise);

        conn->remote_peer = *kp_noise_get_remote_peer_id(conn->noise);
        if (early != NULL && g_str_equal(early, KP_YAMUX_PROTOCOL_ID)) {
                start_yamux(conn);
                return;
        }
        conn->stage = KP_CONNECTION_STAGE_MUXER;
        conn->mss = conn->direction == KP_CONNECTION_OUTBOUND
                        ? kp_mss_new_dialer(yamux_protocols, TRUE)
                        : kp_mss_new_listener(yamux_protocols);
        write_encrypted_bytes(conn, kp_mss_take_output(conn->mss));
}

static void
dispatch_yamux_events(KpConnection *conn)
{
        KpYamuxEvent ev;

        while (conn->stage == KP_CONNECTION_STAGE_OPEN
               && kp_yamux_session_next_event(conn->yamux, &ev)) {
                KpStream *stream = NULL;

                if (ev.kind <= KP_YAMUX_EVENT_STREAM_RESET
                    && ev.kind != KP_YAMUX_EVENT_STREAM_OPENED)
                        stream = g_hash_table_lookup(conn->streams, GUINT_TO_POINTER(ev.stream_id));
                switch (ev.kind) {
                case KP_YAMUX_EVENT_STREAM_OPENED:
                        stream = kp_stream_new(conn, ev.stream_id, FALSE);
                        g_hash_table_insert(conn->streams, GUINT_TO_POINTER(ev.stream_id), stream);
                        kp_stream_start_inbound(stream);
                        break;
                case KP_YAMUX_EVENT_STREAM_READABLE:
                        if (stream != NULL)
                                kp_stream_on_readable(stream);
                        break;
                case KP_YAMUX_EVENT_STREAM_WRITABLE:
                        if (stream != NULL)
                                kp_stream_on_writable(stream);
                        break;
                case KP_YAMUX_EVENT_STREAM_CLOSED_BY_PEER:
                        if (stream != NULL)
                                kp_stream_on_peer_closed(stream);
                        break;
                case KP_YAMUX_EVENT_STREAM_RESET:
                        if (stream != NULL) {
                                g_autoptr(GError) error = g_error_new(KP_ERROR, KP_ERROR_CLOSED,
                                                                      "stream reset by peer");
                                kp_stream_finish(stream, error);
                        }
                        break;
                case KP_YAMUX_EVENT_PING_ACK:
                        break;
                case KP_YAMUX_EVENT_GO_AWAY_RECEIVED:
                        g_debug("peer sent GO_AWAY (code %u)", ev.go_away_code);
                        break;
                case KP_YAMUX_EVENT_SESSION_ERROR:
                        connection_fail(conn, ev.error);
                        break;
                }
        }
}

/* Inbound streams yamux reset for the stream limit since the last look. */
static void
log_refused_streams(KpConnection *conn)
{
        guint64 n = kp_yamux_session_get_n_refused(conn->yamux);
        g_autofree char *peer = NULL;
        g_autofree char *remote = NULL;
        g_autofree char *text = NULL;

        if (n == conn->n_refused_logged)
                return;
        peer = kp_peer_id_to_string(&conn->remote_peer);
        remote
            = conn->remote_addr != NULL ? kp_multiaddr_to_string(conn->remote_addr) : g_strdup("?");
        text = g_strdup_printf("reset %" G_GUINT64_FORMAT " new stream%s from %s at %s: %u "
                               "streams open on this connection (MaxStreamsPerConnection)",
                               n - conn->n_refused_logged,
                               n - conn->n_refused_logged == 1 ? "" : "s", peer, remote,
                               kp_yamux_session_get_n_streams(conn->yamux));
        kp_host_log_refusal(conn->host, KP_HOST_REFUSAL_STREAMS,
                            (guint)MIN(n - conn->n_refused_logged, G_MAXUINT), remote, text);
        conn->n_refused_logged = n;
}

/* Decrypted bytes: the muxer negotiation, then yamux. */
static void
handle_plaintext(KpConnection *conn, const guint8 *data, gsize len)
{
        while (len > 0 && conn->stage != KP_CONNECTION_STAGE_CLOSED) {
                g_autoptr(GError) error = NULL;
                gsize used = 0;

                if (conn->stage == KP_CONNECTION_STAGE_MUXER) {
                        if (!kp_mss_feed(conn->mss, data, len, &used, &error)) {
                                g_prefix_error(&error, "muxer negotiation: ");
                                connection_fail(conn, error);
                                return;
                        }
                        write_encrypted_bytes(conn, kp_mss_take_output(conn->mss));
                        if (kp_mss_get_state(conn->mss) == KP_MSS_DONE)
                                start_yamux(conn);
                        data += used;
                        len -= used;
                        continue;
                }
                if (!kp_yamux_session_feed(conn->yamux, data, len, g_get_monotonic_time(),
                                           &error)) {
                        dispatch_yamux_events(conn);
                        connection_fail(conn, error);
                        return;
                }
                log_refused_streams(conn);
                dispatch_yamux_events(conn);
                return;
        }
}

/* Drops a reused buffer that grew past KP_CONNECTION_KEEP_BUFFER (its
 * capacity is at least its last length). */
static void
trim_buffer(GByteArray **buf)
{
        if (*buf != NULL && (*buf)->len > KP_CONNECTION_KEEP_BUFFER) {
                g_byte_array_unref(*buf);
                *buf = g_byte_array_new();
        }
}

static void
on_received(KpSocketPump *pump, const guint8 *data, gsize len, gpointer user_data)
{
        g_autoptr(KpConnection) conn = kp_connection_ref(user_data);

        conn->last_input_us = g_get_monotonic_time();
        conn->dispatch_depth++;
        while (len > 0 && conn->stage != KP_CONNECTION_STAGE_CLOSED) {
                g_autoptr(GError) error = NULL;
                gsize used = 0;

                if (conn->stage == KP_CONNECTION_STAGE_SECURITY) {
                        if (!kp_mss_feed(conn->mss, data, len, &used, &error)) {
                                g_prefix_error(&error, "security negotiation: ");
                                connection_fail(conn, error);
                                break;
                        }
                        write_raw(conn, kp_mss_take_output(conn->mss));
                        if (kp_mss_get_state(conn->mss) == KP_MSS_DONE) {
                                conn->stage = KP_CONNECTION_STAGE_NOISE;
                                g_clear_pointer(&conn->mss, kp_mss_free);
                        }
                } else {
                        if (!kp_noise_feed(conn->noise, data, len, &used, &error)) {
                                connection_fail(conn, error);
                                break;
                        }
                        /* Only handshake messages are Noise's own output. */
                        if (conn->stage == KP_CONNECTION_STAGE_NOISE) {
                                write_noise_output(conn);
                                if (kp_noise_get_state(conn->noise) == KP_NOISE_STATE_TRANSPORT)
                                        on_secure(conn);
                        }
                        /* No callback reenters on_received (nothing runs a
                         * nested main loop), so one buffer serves every read. */
                        g_byte_array_set_size(conn->plain, 0);
                        if (kp_noise_take_plaintext(conn->noise, conn->plain) > 0)
                                handle_plaintext(conn, conn->plain->data, conn->plain->len);
                        trim_buffer(&conn->plain);
                }
                if (used == 0)
                        break;
                data += used;
                len -= used;
        }
        conn->dispatch_depth--;
        kp_connection_flush(conn);
}

static void
on_pump_closed(KpSocketPump *pump, const GError *error, gpointer user_data)
{
        KpConnection *conn = user_data;
        g_autoptr(GError) eof = NULL;

        if (error == NULL && conn->stage != KP_CONNECTION_STAGE_OPEN)
                error = eof = g_error_new(KP_ERROR, KP_ERROR_CLOSED,
                                          "peer closed the connection during the handshake");
        connection_fail(conn, error);
}

KpConnection *
kp_connection_new(KpHost *host, GSocketConnection *socket_conn, KpConnectionDirection direction,
                  const KpPeerId *expected, const KpConnectionHostCallbacks *callbacks,
                  gpointer user_data, GError **error)
{
        static const KpSocketPumpCallbacks pump_callbacks = {
                .received = on_received,
                .closed = on_pump_closed,
        };
        g_autoptr(GSocketAddress) remote = NULL;
        g_autoptr(GSocketAddress) local = NULL;
        KpConnection *conn;

        remote = g_socket_connection_get_remote_address(socket_conn, error);
        if (remote == NULL)
                return NULL;
        local = g_socket_connection_get_local_address(socket_conn, error);
        if (local == NULL)
                return NULL;
        conn = g_new0(KpConnection, 1);
        conn->ref_count = 1;
        conn->host = host;
        conn->host_callbacks = *callbacks;
        conn->host_data = user_data;
        conn->direction = direction;
        conn->stage = KP_CONNECTION_STAGE_SECURITY;
        conn->remote_addr = kp_tcp_multiaddr_from_address(remote, NULL);
        conn->local_addr = kp_tcp_multiaddr_from_address(local, NULL);
        conn->scratch = g_byte_array_new();
        conn->plain = g_byte_array_new();
        conn->connected_us = g_get_monotonic_time();
        conn->last_input_us = conn->connected_us;
        conn->idle_timeout_ms = kp_host_get_limits(host)->idle_timeout_ms;
        if (expected != NULL) {
                conn->has_expected_peer = TRUE;
                conn->expected_peer = *expected;
        }
        conn->pump = kp_socket_pump_new(socket_conn, &pump_callbacks, conn);
        if (direction == KP_CONNECTION_OUTBOUND) {
                conn->mss = kp_mss_new_dialer(noise_protocols, TRUE);
                conn->noise
                    = kp_noise_new_initiator(kp_host_get_identity(host), expected, yamux_protocols);
        } else {
                conn->mss = kp_mss_new_listener(noise_protocols);
                conn->noise = kp_noise_new_responder(kp_host_get_identity(host), yamux_protocols);
        }
        kp_noise_set_static_key(conn->noise, kp_host_get_noise_static_key(host));
        return conn;
}

void
kp_connection_start(KpConnection *conn)
{
        g_autoptr(GError) error = NULL;

        kp_socket_pump_start(conn->pump);
        /* The dialer proposes /noise and sends its first handshake message in
         * the same write (lazy multistream-select). */
        write_raw(conn, kp_mss_take_output(conn->mss));
        if (conn->direction == KP_CONNECTION_OUTBOUND) {
                if (!kp_noise_start(conn->noise, &error)) {
                        connection_fail(conn, error);
                        return;
                }
                write_noise_output(conn);
        } else if (!kp_noise_start(conn->noise, &error)) {
                connection_fail(conn, error);
        }
}

KpStream *
kp_connection_open_stream(KpConnection *conn, const char *const *protocols,
                          const KpStreamCallbacks *callbacks, gpointer user_data, GError **error)
{
        KpStream *stream;
        guint32 id;

        if (conn->stage != KP_CONNECTION_STAGE_OPEN) {
                g_set_error(error, KP_ERROR, KP_ERROR_CLOSED, "connection is not open");
                return NULL;
        }
        id = kp_yamux_session_open_stream(conn->yamux, error);
        if (id == 0)
                return NULL;
        stream = kp_stream_new(conn, id, TRUE);
        g_hash_table_insert(conn->streams, GUINT_TO_POINTER(id), stream);
        kp_stream_set_callbacks(stream, callbacks, user_data);
        if (!kp_stream_start_outbound(stream, protocols, error)) {
                g_hash_table_remove(conn->streams, GUINT_TO_POINTER(id));
                return NULL;
        }
        return stream;
}
