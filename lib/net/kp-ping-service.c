#define G_LOG_DOMAIN "kp-ping"

#include "net/kp-ping-service.h"

#include <sodium.h>
#include <string.h>

#include "core/kp-error.h"

/* ---- the echo handler ------------------------------------------------- */

static void
on_echo_data(KpStream *stream, const guint8 *data, gsize len, gpointer user_data)
{
        if (kp_stream_get_write_queued(stream) + len > KP_PING_MAX_ECHO_BACKLOG) {
                g_debug("ping peer does not read its echoes: resetting");
                kp_stream_reset(stream);
                return;
        }
        kp_stream_write(stream, data, len);
}

static void
on_echo_eof(KpStream *stream, gpointer user_data)
{
        kp_stream_close_write(stream);
}

static void
on_ping_stream(KpStream *stream, gpointer user_data)
{
        static const KpStreamCallbacks callbacks = {
                .data = on_echo_data,
                .eof = on_echo_eof,
        };

        kp_stream_set_callbacks(stream, &callbacks, NULL);
}

void
kp_ping_service_register(KpHost *host)
{
        kp_host_set_stream_handler(host, KP_PING_PROTOCOL, on_ping_stream, NULL);
}

/* ---- the client ------------------------------------------------------- */

/* Payloads are drawn from the system RNG this many at a time: one
 * getrandom(2) per ping was a tenth of a loopback round trip. */
#define KP_PING_RANDOM_POOL_PAYLOADS 64

typedef struct {
        guint64 seq;
        gint64 sent_us;
        guint8 payload[KP_PING_PAYLOAD_SIZE];
} KpPingInFlight;

struct _KpPingClient {
        KpStream *stream;
        KpPingFunc func;
        gpointer user_data;
        GQueue in_flight; /* KpPingInFlight*, oldest first */
        guint8 echo[KP_PING_PAYLOAD_SIZE];
        gsize echo_len;
        guint8 random_pool[KP_PING_RANDOM_POOL_PAYLOADS * KP_PING_PAYLOAD_SIZE];
        gsize random_used; /* bytes of @random_pool handed out (all: refill) */
        gboolean closed;
};

static void
fail_all(KpPingClient *client, const GError *error)
{
        KpPingInFlight *p;

        client->closed = TRUE;
        while ((p = g_queue_pop_head(&client->in_flight)) != NULL) {
                guint64 seq = p->seq;
                g_free(p);
                client->func(client, seq, -1, error, client->user_data);
        }
}

static void
on_pong_data(KpStream *stream, const guint8 *data, gsize len, gpointer user_data)
{
        KpPingClient *client = user_data;
        gint64 now = g_get_monotonic_time();

        while (len > 0) {
                gsize take = MIN(len, KP_PING_PAYLOAD_SIZE - client->echo_len);
                KpPingInFlight *p;

                memcpy(client->echo + client->echo_len, data, take);
                client->echo_len += take;
                data += take;
                len -= take;
                if (client->echo_len < KP_PING_PAYLOAD_SIZE)
                        break;
                client->echo_len = 0;
                p = g_queue_pop_head(&client->in_flight);
                if (p == NULL || memcmp(p->payload, client->echo, KP_PING_PAYLOAD_SIZE) != 0) {
                        g_autoptr(GError) error
                            = g_error_new(KP_ERROR, KP_ERROR_PROTOCOL,
                                          p == NULL ? "ping: unsolicited echo"
                                                    : "ping: echo does not match what was sent");
                        if (p != NULL)
                                g_queue_push_head(&client->in_flight, p);
                        fail_all(client, error);
                        kp_stream_reset(stream);
                        return;
                }
                {
                        guint64 seq = p->seq;
                        gint64 rtt = now - p->sent_us;
                        g_free(p);
                        client->func(client, seq, rtt, NULL, client->user_data);
                }
        }
}

static void
on_pong_closed(KpStream *stream, const GError *error, gpointer user_data)
{
        KpPingClient *client = user_data;
        g_autoptr(GError) eof = NULL;

        if (error == NULL)
                error = eof = g_error_new(KP_ERROR, KP_ERROR_CLOSED, "ping stream closed");
        fail_all(client, error);
        g_clear_pointer(&client->stream, kp_stream_unref);
}

KpPingClient *
kp_ping_client_new(KpConnection *conn, KpPingFunc func, gpointer user_data, GError **error)
{
        static const char *const protocols[] = { KP_PING_PROTOCOL, NULL };
        static const KpStreamCallbacks callbacks = {
                .data = on_pong_data,
                .closed = on_pong_closed,
        };
        KpPingClient *client = g_new0(KpPingClient, 1);
        KpStream *stream;

        client->func = func;
        client->user_data = user_data;
        g_queue_init(&client->in_flight);
        client->random_used = sizeof client->random_pool; /* drawn at the first ping */
        stream = kp_connection_open_stream(conn, protocols, &callbacks, client, error);
        if (stream == NULL) {
                g_free(client);
                return NULL;
        }
        client->stream = kp_stream_ref(stream);
        return client;
}

void
kp_ping_client_send(KpPingClient *client, guint64 seq)
{
        KpConnection *conn;
        KpPingInFlight *p;

        if (client->closed || client->stream == NULL)
                return;
        p = g_new0(KpPingInFlight, 1);
        p->seq = seq;
        if (client->random_used == sizeof client->random_pool) {
                randombytes_buf(client->random_pool, sizeof client->random_pool);
                client->random_used = 0;
        }
        memcpy(p->payload, client->random_pool + client->random_used, sizeof p->payload);
        client->random_used += sizeof p->payload;
        p->sent_us = g_get_monotonic_time();
        g_queue_push_tail(&client->in_flight, p);
        conn = kp_stream_get_connection(client->stream);
        if (conn == NULL)
                return;
        kp_connection_ref(conn);
        kp_stream_write(client->stream, p->payload, sizeof p->payload);
        /* A ping alone in flight leaves now, not at the end of the read
         * that brought the previous pong. */
        if (g_queue_get_length(&client->in_flight) == 1)
                kp_connection_flush_now(conn);
        kp_connection_unref(conn);
}

guint
kp_ping_client_get_in_flight(KpPingClient *client)
{
        return g_queue_get_length(&client->in_flight);
}

gboolean
kp_ping_client_is_open(KpPingClient *client)
{
        return !client->closed;
}

void
kp_ping_client_free(KpPingClient *client)
{
        if (client == NULL)
                return;
        if (client->stream != NULL) {
                KpStream *stream = g_steal_pointer(&client->stream);
                kp_stream_set_callbacks(stream, NULL, NULL);
                kp_stream_close_write(stream);
                kp_stream_unref(stream);
        }
        g_queue_clear_full(&client->in_flight, g_free);
        g_free(client);
}
