/* The two service manager protocols kpingd speaks, without libsystemd:
 * readiness and watchdog notification (sd_notify(3): datagrams to
 * $NOTIFY_SOCKET) and socket activation (sd_listen_fds(3): descriptors from
 * 3 on, $LISTEN_PID and $LISTEN_FDS). systemd documents both as stable
 * interfaces for programs to implement themselves; linking libsystemd for
 * them mapped seven more shared libraries (libgcrypt, libzstd, liblz4,
 * liblzma, libcap, libgpg-error and itself), about 1 MiB of kpingd's idle
 * RSS (docs/BENCHMARKS.md, figure 5). */
#pragma once

#include <glib.h>

/* The first descriptor a service manager passes. */
#define KPINGD_SD_LISTEN_FDS_START 3

/* TRUE when $NOTIFY_SOCKET names a socket to notify. */
gboolean kpingd_sd_notify_enabled(void);
/* Sends @state ("READY=1", "STATUS=...", newline-separated assignments) to
 * $NOTIFY_SOCKET: a path, or an abstract socket written with a leading '@'.
 * FALSE (and nothing sent) without $NOTIFY_SOCKET or when it cannot be
 * reached. */
gboolean kpingd_sd_notify(const char *state);
G_GNUC_PRINTF(1, 2) gboolean kpingd_sd_notifyf(const char *format, ...);
/* $WATCHDOG_USEC when the watchdog is on for this process ($WATCHDOG_PID,
 * when set, is ours), else 0. */
guint64 kpingd_sd_watchdog_usec(void);
/* The number of descriptors passed to this process ($LISTEN_PID is ours),
 * 0 when none; marks them close-on-exec and unsets the variables so that
 * children do not take them too. -1 with @error when the variables are
 * malformed. */
int kpingd_sd_listen_fds(GError **error);
/* TRUE when @fd is a listening stream socket. */
gboolean kpingd_sd_is_listening_stream(int fd);
