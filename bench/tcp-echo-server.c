/* tcp-echo-server: the raw TCP baseline for bench-transport.sh. Echoes every
 * byte back on 127.0.0.1, one blocking thread per connection, TCP_NODELAY:
 * the least work a round trip over loopback can cost, so kping's figures have
 * something honest to be divided by. Not installed.
 *
 *   tcp-echo-server [--port-file FILE] [PORT]     (PORT 0 or none: any free port)
 *
 * Prints "port N" once listening (and writes N to FILE), then serves until
 * killed.
 *
 * Built a second time as glib-echo-server (ECHO_SERVER_GLIB_LOOP), which
 * serves every connection from a GLib main loop instead (a GSocket source
 * each, non-blocking receive and send), as kpingd does: with
 * tcp-echo-client it measures what the main loop alone adds to a round
 * trip, before any protocol work (run-all.sh's figure 1). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef ECHO_SERVER_GLIB_LOOP
#include <gio/gio.h>
#endif

#define ECHO_BUFFER_SIZE 65536

#ifdef ECHO_SERVER_GLIB_LOOP
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
        /* Blocking only when the client stops reading its echoes. */
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

/* Serves @lfd's connections from a GLib main loop until killed. */
static int
serve_all(int lfd)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GSocket) listener = g_socket_new_from_fd(lfd, &error);
        g_autoptr(GSource) source = NULL;
        g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);

        if (listener == NULL) {
                fprintf(stderr, "glib-echo-server: %s\n", error->message);
                return 1;
        }
        g_socket_set_blocking(listener, FALSE);
        source = g_socket_create_source(listener, G_IO_IN, NULL);
        g_source_set_callback(source, G_SOURCE_FUNC(on_incoming), NULL, NULL);
        g_source_attach(source, NULL);
        g_main_loop_run(loop);
        return 0;
}
#else
static void *
serve(void *arg)
{
        int fd = (int)(intptr_t)arg;
        char buf[ECHO_BUFFER_SIZE];

        for (;;) {
                ssize_t n = read(fd, buf, sizeof buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                for (ssize_t off = 0; off < n;) {
                        ssize_t w = write(fd, buf + off, (size_t)(n - off));
                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w <= 0)
                                goto out;
                        off += w;
                }
        }
out:
        close(fd);
        return NULL;
}

/* Serves @lfd's connections, a blocking thread each, until killed. */
static int
serve_all(int lfd)
{
        int one = 1;

        for (;;) {
                pthread_t thread;
                int fd = accept(lfd, NULL, NULL);

                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        perror("accept");
                        return 1;
                }
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                if (pthread_create(&thread, NULL, serve, (void *)(intptr_t)fd) != 0) {
                        close(fd);
                        continue;
                }
                pthread_detach(thread);
        }
}
#endif

static int
write_port_file(const char *path, unsigned port)
{
        char tmp[4096];
        FILE *f;

        /* Written then renamed, so a poller never reads half a number. */
        if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
                return -1;
        f = fopen(tmp, "w");
        if (f == NULL)
                return -1;
        fprintf(f, "%u\n", port);
        if (fclose(f) != 0)
                return -1;
        return rename(tmp, path);
}

int
main(int argc, char **argv)
{
        const char *port_file = NULL;
        struct sockaddr_in sin = { 0 };
        socklen_t len = sizeof sin;
        long port = 0;
        int one = 1;
        int lfd;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc) {
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
        signal(SIGPIPE, SIG_IGN);
        lfd = socket(AF_INET, SOCK_STREAM, 0);
        if (lfd < 0) {
                perror("socket");
                return 1;
        }
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)port);
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(lfd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(lfd, 128) != 0
            || getsockname(lfd, (struct sockaddr *)&sin, &len) != 0) {
                perror("bind/listen");
                return 1;
        }
        printf("port %u\n", ntohs(sin.sin_port));
        fflush(stdout);
        if (port_file != NULL && write_port_file(port_file, ntohs(sin.sin_port)) != 0) {
                perror(port_file);
                return 1;
        }
        return serve_all(lfd);
}
