/* A non-blocking byte pump over one connected GSocket: reads are handed to a
 * callback as they arrive, writes are sent at once and queued only when the
 * kernel's buffer is full. Single-threaded, on the thread-default main
 * context. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* One read buffer is shared by every pump on the thread: a pump costs no
 * memory while idle, only while it has unsent output. */
#define KP_SOCKET_PUMP_READ_CHUNK 65536
/* Unsent output above this makes kp_socket_pump_is_congested() TRUE: callers
 * stop producing until the drained callback runs. */
#define KP_SOCKET_PUMP_HIGH_WATER (1024 * 1024)

typedef struct _KpSocketPump KpSocketPump;

typedef struct {
        /* Bytes arrived; they are valid only during the call. */
        void (*received)(KpSocketPump *pump, const guint8 *data, gsize len, gpointer user_data);
        /* The peer closed (error NULL) or the socket failed. The pump is
         * closed already; the callback may free it. */
        void (*closed)(KpSocketPump *pump, const GError *error, gpointer user_data);
        /* Optional: the output queue drained below the high-water mark. */
        void (*drained)(KpSocketPump *pump, gpointer user_data);
} KpSocketPumpCallbacks;

/* Takes a reference on @connection (kept alive for the socket). */
KpSocketPump *kp_socket_pump_new(GSocketConnection *connection,
                                 const KpSocketPumpCallbacks *callbacks, gpointer user_data);
void kp_socket_pump_start(KpSocketPump *pump);
void kp_socket_pump_write(KpSocketPump *pump, const guint8 *data, gsize len);
gboolean kp_socket_pump_is_congested(const KpSocketPump *pump);
gsize kp_socket_pump_get_queued(const KpSocketPump *pump);
void kp_socket_pump_set_reading(KpSocketPump *pump, gboolean reading);
/* The GLib priority of the pump's socket sources, now and later
 * (G_PRIORITY_DEFAULT until set). */
void kp_socket_pump_set_priority(KpSocketPump *pump, gint priority);
/* Try once more to send queued output without blocking, then close the
 * socket. No callback runs after this. */
void kp_socket_pump_close(KpSocketPump *pump);
GSocketConnection *kp_socket_pump_get_connection(const KpSocketPump *pump);
void kp_socket_pump_free(KpSocketPump *pump);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpSocketPump, kp_socket_pump_free)

G_END_DECLS
