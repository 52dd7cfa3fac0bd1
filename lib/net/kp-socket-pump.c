#define G_LOG_DOMAIN "kp-net"

#include "net/kp-socket-pump.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "core/kp-error.h"
#include "net/kp-poller.h"

struct _KpSocketPump {
        GSocketConnection *connection;
        GSocket *socket;
        KpSocketPumpCallbacks callbacks;
        gpointer user_data;
        KpPollerWatch *watch; /* NULL until started and after closing */
        GByteArray *queue;    /* unsent output, NULL while empty */
        gsize queue_head;     /* bytes of @queue already sent */
        gboolean reading;
        gboolean closed;
        gboolean was_congested;
        gint priority;       /* of the watch */
        GError *write_error; /* a send failed; reported from the main loop */
        GSource *fail_source;
};

static guint8 *
shared_read_buffer(void)
{
        static GPrivate key = G_PRIVATE_INIT(g_free);
        guint8 *buf = g_private_get(&key);

        if (buf == NULL) {
                buf = g_malloc(KP_SOCKET_PUMP_READ_CHUNK);
                g_private_set(&key, buf);
        }
        return buf;
}

static void
detach_source(GSource **source)
{
        if (*source != NULL) {
                g_source_destroy(*source);
                g_clear_pointer(source, g_source_unref);
        }
}

static void
pump_fail(KpSocketPump *pump, const GError *error)
{
        KpSocketPumpCallbacks cb = pump->callbacks;
        gpointer user_data = pump->user_data;

        kp_socket_pump_close(pump);
        if (cb.closed != NULL)
                cb.closed(pump, error, user_data);
}

/* Reads what has arrived. The pump may be freed when this returns. */
static void
read_available(KpSocketPump *pump)
{
        guint8 *buf = shared_read_buffer();
        g_autoptr(GError) error = NULL;
        gssize n;

        n = g_socket_receive(pump->socket, (gchar *)buf, KP_SOCKET_PUMP_READ_CHUNK, NULL, &error);
        if (n < 0) {
                if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
                        pump_fail(pump, error);
                return;
        }
        if (n == 0) {
                pump_fail(pump, NULL);
                return;
        }
        pump->callbacks.received(pump, buf, (gsize)n, pump->user_data);
}

static void update_watch(KpSocketPump *pump);

/* Sends what is queued; FALSE when the socket failed (the pump is closed and
 * the closed callback has run). */
static gboolean
flush_queue(KpSocketPump *pump)
{
        while (pump->queue != NULL) {
                g_autoptr(GError) error = NULL;
                gsize left = pump->queue->len - pump->queue_head;
                gssize n = g_socket_send(pump->socket,
                                         (const gchar *)pump->queue->data + pump->queue_head, left,
                                         NULL, &error);
                if (n < 0) {
                        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
                                break;
                        pump_fail(pump, error);
                        return FALSE;
                }
                pump->queue_head += (gsize)n;
                if (pump->queue_head == pump->queue->len) {
                        g_clear_pointer(&pump->queue, g_byte_array_unref);
                        pump->queue_head = 0;
                }
        }
        return TRUE;
}

static void
write_queued(KpSocketPump *pump)
{
        if (!flush_queue(pump))
                return;
        update_watch(pump);
        if (pump->was_congested && !kp_socket_pump_is_congested(pump)) {
                pump->was_congested = FALSE;
                /* The callback may free the pump: touch nothing after it. */
                if (pump->callbacks.drained != NULL)
                        pump->callbacks.drained(pump, pump->user_data);
        }
}

/* One thing per wakeup, as either may free the pump: queued output first
 * (its peer is waiting for it), then input. Both are level-triggered, so
 * what is left is reported again on the next main-loop iteration. An error
 * or hang-up is found by the receive or the send it makes fail. */
static void
on_ready(guint32 events, gpointer user_data)
{
        KpSocketPump *pump = user_data;

        if (pump->queue != NULL && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0)
                write_queued(pump);
        else if (pump->reading)
                read_available(pump);
}

static void schedule_failure(KpSocketPump *pump, GError *error);

/* Waits for input while reading and for room while output is queued. */
static void
update_watch(KpSocketPump *pump)
{
        guint32 events = (pump->reading ? EPOLLIN : 0) | (pump->queue != NULL ? EPOLLOUT : 0);
        GError *error = NULL;

        if (pump->closed || pump->watch == NULL)
                return;
        if (!kp_poller_watch_set_events(pump->watch, events, &error))
                schedule_failure(pump, error);
}

KpSocketPump *
kp_socket_pump_new(GSocketConnection *connection, const KpSocketPumpCallbacks *callbacks,
                   gpointer user_data)
{
        KpSocketPump *pump = g_new0(KpSocketPump, 1);

        g_return_val_if_fail(callbacks->received != NULL, NULL);
        pump->connection = g_object_ref(connection);
        pump->socket = g_socket_connection_get_socket(connection);
        pump->callbacks = *callbacks;
        pump->user_data = user_data;
        pump->priority = G_PRIORITY_DEFAULT;
        g_socket_set_blocking(pump->socket, FALSE);
        /* GSocketClient leaves its connect timeout on the socket, which
         * would time out GSocket's own waits; the connection keeps its own
         * timers. */
        g_socket_set_timeout(pump->socket, 0);
        /* Small request/response messages must not wait for Nagle. */
        g_socket_set_option(pump->socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
        return pump;
}

void
kp_socket_pump_start(KpSocketPump *pump)
{
        GError *error = NULL;

        pump->reading = TRUE;
        if (pump->closed || pump->watch != NULL)
                return;
        pump->watch = kp_poller_watch_new(g_socket_get_fd(pump->socket), pump->priority, on_ready,
                                          pump, &error);
        if (pump->watch == NULL) {
                schedule_failure(pump, error);
                return;
        }
        update_watch(pump);
}

static gboolean
on_write_failed(gpointer user_data)
{
        KpSocketPump *pump = user_data;
        g_autoptr(GError) error = g_steal_pointer(&pump->write_error);

        g_clear_pointer(&pump->fail_source, g_source_unref);
        pump_fail(pump, error);
        return G_SOURCE_REMOVE;
}

/* A failed send is reported from the main loop, never from inside the
 * caller's write, so callers need not expect callbacks while writing. */
static void
schedule_failure(KpSocketPump *pump, GError *error)
{
        if (pump->fail_source != NULL) {
                g_error_free(error);
                return;
        }
        pump->write_error = error;
        pump->fail_source = g_idle_source_new();
        g_source_set_callback(pump->fail_source, on_write_failed, pump, NULL);
        g_source_attach(pump->fail_source, g_main_context_get_thread_default());
}

void
kp_socket_pump_write(KpSocketPump *pump, const guint8 *data, gsize len)
{
        if (pump->closed || pump->fail_source != NULL || len == 0)
                return;
        if (pump->queue == NULL) {
                g_autoptr(GError) error = NULL;
                gssize n = g_socket_send(pump->socket, (const gchar *)data, len, NULL, &error);
                if (n < 0 && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
                        schedule_failure(pump, g_steal_pointer(&error));
                        return;
                }
                if (n > 0) {
                        data += n;
                        len -= (gsize)n;
                }
                if (len == 0)
                        return;
                pump->queue = g_byte_array_sized_new((guint)len);
        }
        g_byte_array_append(pump->queue, data, (guint)len);
        if (kp_socket_pump_is_congested(pump))
                pump->was_congested = TRUE;
        update_watch(pump);
}

gboolean
kp_socket_pump_is_congested(const KpSocketPump *pump)
{
        return kp_socket_pump_get_queued(pump) > KP_SOCKET_PUMP_HIGH_WATER;
}

gsize
kp_socket_pump_get_queued(const KpSocketPump *pump)
{
        return pump->queue != NULL ? pump->queue->len - pump->queue_head : 0;
}

void
kp_socket_pump_set_reading(KpSocketPump *pump, gboolean reading)
{
        pump->reading = reading;
        update_watch(pump);
}

void
kp_socket_pump_set_priority(KpSocketPump *pump, gint priority)
{
        GError *error = NULL;

        pump->priority = priority;
        if (pump->closed || pump->watch == NULL)
                return;
        if (!kp_poller_watch_set_priority(pump->watch, priority, &error))
                schedule_failure(pump, error);
}

void
kp_socket_pump_close(KpSocketPump *pump)
{
        if (pump->closed)
                return;
        if (pump->queue != NULL)
                g_socket_send(pump->socket, (const gchar *)pump->queue->data + pump->queue_head,
                              pump->queue->len - pump->queue_head, NULL, NULL);
        pump->closed = TRUE;
        g_clear_pointer(&pump->watch, kp_poller_watch_free);
        detach_source(&pump->fail_source);
        g_clear_error(&pump->write_error);
        g_clear_pointer(&pump->queue, g_byte_array_unref);
        g_socket_close(pump->socket, NULL);
}

GSocketConnection *
kp_socket_pump_get_connection(const KpSocketPump *pump)
{
        return pump->connection;
}

void
kp_socket_pump_free(KpSocketPump *pump)
{
        if (pump == NULL)
                return;
        kp_socket_pump_close(pump);
        g_clear_object(&pump->connection);
        g_free(pump);
}
