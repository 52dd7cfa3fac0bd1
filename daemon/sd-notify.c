#define G_LOG_DOMAIN "kpingd"

#include "sd-notify.h"

#include <gio/gio.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

gboolean
kpingd_sd_notify_enabled(void)
{
        const char *path = g_getenv("NOTIFY_SOCKET");

        return path != NULL && path[0] != '\0';
}

void
kpingd_sd_notify(const char *state)
{
        /* Outside systemd sd_notify() returns 0; a failure to reach the
         * manager is not the daemon's to handle. */
        (void)sd_notify(0, state);
}

void
kpingd_sd_notifyf(const char *format, ...)
{
        g_autofree char *state = NULL;
        va_list ap;

        if (!kpingd_sd_notify_enabled())
                return;
        va_start(ap, format);
        state = g_strdup_vprintf(format, ap);
        va_end(ap);
        kpingd_sd_notify(state);
}

guint64
kpingd_sd_watchdog_usec(void)
{
        uint64_t usec = 0;

        if (sd_watchdog_enabled(0, &usec) <= 0)
                return 0;
        return usec;
}

int
kpingd_sd_listen_fds(GError **error)
{
        int n = sd_listen_fds(1);

        if (n < 0) {
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-n), "%s", g_strerror(-n));
                return -1;
        }
        return n;
}

int
kpingd_sd_listen_fds_start(void)
{
        return SD_LISTEN_FDS_START;
}

gboolean
kpingd_sd_is_listening_stream(int fd)
{
        return sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) > 0;
}
