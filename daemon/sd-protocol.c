#define G_LOG_DOMAIN "kpingd"

#include "sd-protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

gboolean
kpingd_sd_notify_enabled(void)
{
        const char *path = g_getenv("NOTIFY_SOCKET");

        return path != NULL && (path[0] == '/' || path[0] == '@') && path[1] != '\0';
}

gboolean
kpingd_sd_notify(const char *state)
{
        const char *path = g_getenv("NOTIFY_SOCKET");
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        gsize len;
        socklen_t sa_len;
        ssize_t sent;
        int fd;

        if (!kpingd_sd_notify_enabled())
                return FALSE;
        len = strlen(path);
        if (len >= sizeof sa.sun_path)
                return FALSE;
        memcpy(sa.sun_path, path, len);
        /* "@name" is the abstract socket "\0name", whose length counts. */
        if (path[0] == '@')
                sa.sun_path[0] = '\0';
        sa_len
            = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '@' ? 0 : 1));
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return FALSE;
        sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, sa_len);
        close(fd);
        return sent == (ssize_t)strlen(state);
}

gboolean
kpingd_sd_notifyf(const char *format, ...)
{
        g_autofree char *state = NULL;
        va_list args;

        if (!kpingd_sd_notify_enabled())
                return FALSE;
        va_start(args, format);
        state = g_strdup_vprintf(format, args);
        va_end(args);
        return kpingd_sd_notify(state);
}

/* A decimal variable of the environment, or FALSE. */
static gboolean
env_uint(const char *name, guint64 max, guint64 *ret_value)
{
        const char *text = g_getenv(name);

        return text != NULL && g_ascii_string_to_unsigned(text, 10, 0, max, ret_value, NULL);
}

guint64
kpingd_sd_watchdog_usec(void)
{
        guint64 usec, pid;

        if (!env_uint("WATCHDOG_USEC", G_MAXUINT64, &usec))
                return 0;
        if (g_getenv("WATCHDOG_PID") != NULL
            && (!env_uint("WATCHDOG_PID", G_MAXINT, &pid) || pid != (guint64)getpid()))
                return 0;
        return usec;
}

int
kpingd_sd_listen_fds(GError **error)
{
        guint64 pid, n;
        int ret = -1;

        if (g_getenv("LISTEN_PID") == NULL) {
                ret = 0;
                goto out;
        }
        if (!env_uint("LISTEN_PID", G_MAXINT, &pid)) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "LISTEN_PID=%s is not a process id", g_getenv("LISTEN_PID"));
                goto out;
        }
        /* Meant for another process (we were exec'd by the one they were
         * passed to): not ours to take. */
        if (pid != (guint64)getpid()) {
                ret = 0;
                goto out;
        }
        if (!env_uint("LISTEN_FDS", (guint64)(G_MAXINT - KPINGD_SD_LISTEN_FDS_START), &n)) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "LISTEN_FDS=%s is not a descriptor count",
                            g_getenv("LISTEN_FDS") != NULL ? g_getenv("LISTEN_FDS") : "");
                goto out;
        }
        for (int fd = KPINGD_SD_LISTEN_FDS_START; fd < KPINGD_SD_LISTEN_FDS_START + (int)n; fd++) {
                int flags = fcntl(fd, F_GETFD);
                if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) {
                        int saved = errno;
                        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved),
                                    "passed file descriptor %d: %s", fd, g_strerror(saved));
                        goto out;
                }
        }
        ret = (int)n;
out:
        g_unsetenv("LISTEN_PID");
        g_unsetenv("LISTEN_FDS");
        g_unsetenv("LISTEN_FDNAMES");
        return ret;
}

gboolean
kpingd_sd_is_listening_stream(int fd)
{
        struct stat st;
        int type = 0, listening = 0;
        socklen_t len = sizeof type;

        if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
                return FALSE;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM)
                return FALSE;
        len = sizeof listening;
        return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening == 1;
}
