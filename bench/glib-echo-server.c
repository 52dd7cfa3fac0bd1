/* glib-echo-server: the event-loop floor for run-all.sh's figure 1. Echoes
 * every byte back on 127.0.0.1 like tcp-echo-server, but from a GLib main
 * loop (a GSocket source per connection, non-blocking receive and send), as
 * kpingd serves its connections. tcp-echo-client against it measures what
 * the main loop alone adds to a round trip, before any protocol work: the
 * part of kping's overhead that no change to kping's own code can remove.
 * Not installed.
 *
 *   glib-echo-server [--port-file FILE] [PORT]    (PORT 0 or none: any free port)
 *
 * Prints "port N" once listening (and writes N to FILE), then serves until
 * killed. */
#include <errno.h>
#include <gio/gio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>

#define ECHO_BUFFER_SIZE 65536

static gboolean
on_readable(GSocket *socket, GIOCondition condition, gpointer user_data)
{
        static char buf[ECHO_BUFFER_SIZE];
        gssize n = g_socket_receive(socket, buf, sizeof buf, NULL, NULL);

        (void)condition;
        (void)user_data;
        if (n <= 0) {
                g_socket_close(socket, NULL);
                return G_SOURCE_REMOVE;
        }
        /* Small echoes fit the send buffer; a short send only happens when
         * the client stops reading, and then the echo is dropped with the
         * connection. */
        for (gssize off = 0; off < n;) {
                gssize w = g_socket_send_with_blocking(socket, buf + off, (gsize)(n - off), TRUE,
                                                       NULL, NULL);
                if (w <= 0) {
                        g_socket_close(socket, NULL);
                        return G_SOURCE_REMOVE;
                }
                off += w;
        }
        return G_SOURCE_CONTINUE;
}

static gboolean
on_incoming(GSocket *listener, GIOCondition condition, gpointer user_data)
{
        g_autoptr(GSocket) socket = g_socket_accept(listener, NULL, NULL);
        g_autoptr(GSource) source = NULL;

        (void)condition;
        (void)user_data;
        if (socket == NULL)
                return G_SOURCE_CONTINUE;
        g_socket_set_blocking(socket, FALSE);
        g_socket_set_option(socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
        source = g_socket_create_source(socket, G_IO_IN, NULL);
        g_source_set_callback(source, G_SOURCE_FUNC(on_readable), g_object_ref(socket),
                              g_object_unref);
        g_source_attach(source, NULL);
        return G_SOURCE_CONTINUE;
}

int
main(int argc, char **argv)
{
        const char *port_file = NULL;
        long port = 0;
        g_autoptr(GError) error = NULL;
        g_autoptr(GSocket) listener = NULL;
        g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
        g_autoptr(GSocketAddress) address = NULL;
        g_autoptr(GSocketAddress) bound = NULL;
        g_autoptr(GSource) source = NULL;
        g_autoptr(GMainLoop) loop = NULL;
        guint16 bound_port;

        for (int i = 1; i < argc; i++) {
                if (g_strcmp0(argv[i], "--port-file") == 0 && i + 1 < argc) {
                        port_file = argv[++i];
                } else {
                        char *end = NULL;
                        port = strtol(argv[i], &end, 10);
                        if (*end != '\0' || port < 0 || port > 65535) {
                                fprintf(stderr, "usage: %s [--port-file FILE] [PORT]\n", argv[0]);
                                return 2;
                        }
                }
        }
        address = g_inet_socket_address_new(loopback, (guint16)port);
        listener = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                &error);
        if (listener == NULL || !g_socket_bind(listener, address, TRUE, &error)
            || !g_socket_listen(listener, &error)
            || (bound = g_socket_get_local_address(listener, &error)) == NULL) {
                fprintf(stderr, "glib-echo-server: %s\n", error->message);
                return 1;
        }
        bound_port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
        printf("port %u\n", bound_port);
        fflush(stdout);
        if (port_file != NULL) {
                /* Written then renamed, so a poller never reads half a number. */
                g_autofree char *text = g_strdup_printf("%u\n", bound_port);
                g_autofree char *tmp = g_strconcat(port_file, ".tmp", NULL);
                if (!g_file_set_contents(tmp, text, -1, &error) || rename(tmp, port_file) != 0) {
                        fprintf(stderr, "glib-echo-server: %s: %s\n", port_file,
                                error != NULL ? error->message : g_strerror(errno));
                        return 1;
                }
        }
        source = g_socket_create_source(listener, G_IO_IN, NULL);
        g_source_set_callback(source, G_SOURCE_FUNC(on_incoming), NULL, NULL);
        g_source_attach(source, NULL);
        loop = g_main_loop_new(NULL, FALSE);
        g_main_loop_run(loop);
        return 0;
}
