/* kpingd's side of the service manager (libsystemd): readiness, status and
 * watchdog notification (sd_notify(3)) and socket activation
 * (sd_listen_fds(3)). Each is a no-op, or returns 0, outside systemd. */
#pragma once

#include <glib.h>

/* TRUE when $NOTIFY_SOCKET names a socket to notify, so callers can skip
 * formatting a STATUS= nobody reads. */
gboolean kpingd_sd_notify_enabled(void);
/* Sends @state ("READY=1", "STATUS=...") to the service manager. */
void kpingd_sd_notify(const char *state);
G_GNUC_PRINTF(1, 2) void kpingd_sd_notifyf(const char *format, ...);
/* The watchdog interval in µs when it is on for this process, else 0. */
guint64 kpingd_sd_watchdog_usec(void);
/* The number of descriptors passed to this process (from
 * kpingd_sd_listen_fds_start()), 0 when none; they are marked close-on-exec
 * and the variables unset. -1 with @error when they cannot be taken. */
int kpingd_sd_listen_fds(GError **error);
int kpingd_sd_listen_fds_start(void);
/* TRUE when @fd is a listening stream socket. */
gboolean kpingd_sd_is_listening_stream(int fd);
