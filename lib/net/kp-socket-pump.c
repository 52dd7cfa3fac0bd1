#define G_LOG_DOMAIN "kp-net"

#include "net/kp-socket-pump.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "core/kp-error.h"

struct _KpSocketPump {
        GSocketConnection *connection;
        GSocket *socket;
        KpSocketPumpCallbacks callbacks;
        gpointer user_data;
        GSource *in_source;
        GSource *out_source;
        GByteArray *queue; /* unsent output, NULL while empty */
        gsize queue_head;  /* bytes of @queue already sent */
        gboolean reading;
        gboolean closed;
        gboolean was_congested;
        gint priority;       /* of in_source and out_source */
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

static gboolean
on_readable(GSocket *socket, GIOCondition condition, gpointer user_data)
{
        KpSocketPump *pump = user_data;
        guint8 *buf = shared_read_buffer();
        g_autoptr(GError) error = NULL;
        gssize n;

        n = g_socket_receive(pump->socket, (gchar *)buf, KP_SOCKET_PUMP_READ_CHUNK, NULL, &error);
        if (n < 0) {
                if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
                        return G_SOURCE_CONTINUE;
                pump_fail(pump, error);
                return G_SOURCE_REMOVE;
        }
        if (n == 0) {
                pump_fail(pump, NULL);
                return G_SOURCE_REMOVE;
        }
        /* The callback may close or free the pump: touch nothing after it. */
        pump->callbacks.received(pump, buf, (gsize)n, pump->user_data);
        return G_SOURCE_CONTINUE;
}

static void update_sources(KpSocketPump *pump);

/* A socket source for @condition on the thread-default context. It may
 * recurse: GLib (before 2.76) blocks a non-recursive source around each
 * dispatch by taking its fd out of the poll set and putting it back, and
 * each of those signals the context's wakeup eventfd: three extra syscalls
 * per message received. Nothing here runs a nested main loop from a pump
 * callback, so the recursion it allows never happens. */
static GSource *
attach_socket_source(KpSocketPump *pump, GIOCondition condition, GSocketSourceFunc func)
{
        GSource *source = g_socket_create_source(pump->socket, condition, NULL);

        g_source_set_can_recurse(source, TRUE);
        g_source_set_priority(source, pump->priority);
        g_source_set_callback(source, G_SOURCE_FUNC(func), pump, NULL);
        g_source_attach(source, g_main_context_get_thread_default());
        return source;
}

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

static gboolean
on_writable(GSocket *socket, GIOCondition condition, gpointer user_data)
{
        KpSocketPump *pump = user_data;

        if (!flush_queue(pump))
                return G_SOURCE_REMOVE;
        update_sources(pump);
        if (pump->was_congested && !kp_socket_pump_is_congested(pump)) {
                pump->was_congested = FALSE;
                if (pump->callbacks.drained != NULL)
                        pump->callbacks.drained(pump, pump->user_data);
        }
        return G_SOURCE_CONTINUE;
}

static void
update_sources(KpSocketPump *pump)
{
        if (pump->closed)
                return;
        if (pump->reading && pump->in_source == NULL) {
                pump->in_source = attach_socket_source(pump, G_IO_IN, on_readable);
        } else if (!pump->reading) {
                detach_source(&pump->in_source);
        }
        if (pump->queue != NULL && pump->out_source == NULL) {
                pump->out_source = attach_socket_source(pump, G_IO_OUT, on_writable);
        } else if (pump->queue == NULL) {
                detach_source(&pump->out_source);
        }
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
        /* GSocketClient leaves its connect timeout on the socket; GIO then
         * re-arms a deadline on every dispatch of its sources, and each
         * re-arm signals the main context's wakeup eventfd (two extra
         * syscalls per message). The connection keeps its own timers. */
        g_socket_set_timeout(pump->socket, 0);
        /* Small request/response messages must not wait for Nagle. */
        g_socket_set_option(pump->socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
        return pump;
}

void
kp_socket_pump_start(KpSocketPump *pump)
{
        pump->reading = TRUE;
        update_sources(pump);
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
        update_sources(pump);
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
        update_sources(pump);
}

void
kp_socket_pump_set_priority(KpSocketPump *pump, gint priority)
{
        pump->priority = priority;
        if (pump->in_source != NULL)
                g_source_set_priority(pump->in_source, priority);
        if (pump->out_source != NULL)
                g_source_set_priority(pump->out_source, priority);
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
        detach_source(&pump->in_source);
        detach_source(&pump->out_source);
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
