/* Readiness of many sockets through one GSource per main context and
 * priority, so that a main-loop iteration costs the same however many
 * connections are open. With a GSocketSource per connection every iteration
 * visits every source in prepare and check and hands every descriptor to
 * poll(2): with 10,000 idle connections a round trip on another one took
 * 7.5 ms instead of 0.13 ms.
 *
 * The watches active most recently (up to KP_POLLER_DIRECT_SLOTS) sit
 * directly in GLib's poll set, so a wakeup for them costs what their own
 * socket source would; the others wait in an epoll set whose one descriptor
 * is in GLib's poll set. A watch reported by epoll takes a free direct slot;
 * a direct watch idle for KP_POLLER_DIRECT_IDLE_MS gives its slot up when
 * another needs it. Level-triggered, like poll(2). Single-threaded: a watch
 * is used on the thread that made it. */
#pragma once

#include <glib.h>
#include <sys/epoll.h>

G_BEGIN_DECLS

/* Ready descriptors handled per dispatch; the rest wait for the next loop
 * iteration, so one busy poller cannot starve the other sources. */
#define KP_POLLER_MAX_EVENTS 64
/* Watches per poller in GLib's own poll set. */
#define KP_POLLER_DIRECT_SLOTS 8
/* A direct watch idle this long gives its slot to one that is active. */
#define KP_POLLER_DIRECT_IDLE_MS 1000

typedef struct _KpPollerWatch KpPollerWatch;

/* @events: what is ready (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP). */
typedef void (*KpPollerFunc)(guint32 events, gpointer user_data);

/* Watches @fd for nothing yet, at GLib priority @priority, on the
 * thread-default main context. NULL when no epoll instance could be made
 * (out of descriptors). */
KpPollerWatch *kp_poller_watch_new(int fd, gint priority, KpPollerFunc func, gpointer user_data,
                                   GError **error);
/* What to wait for: EPOLLIN and/or EPOLLOUT; 0 takes the descriptor out of
 * the epoll set, so errors and hang-ups are not reported either. On failure
 * (the kernel's epoll limits) the watch waits for nothing. */
gboolean kp_poller_watch_set_events(KpPollerWatch *watch, guint32 events, GError **error);
guint32 kp_poller_watch_get_events(const KpPollerWatch *watch);
/* On failure the watch waits for nothing. */
gboolean kp_poller_watch_set_priority(KpPollerWatch *watch, gint priority, GError **error);
/* Stops the watch before its descriptor is closed. Safe from any callback,
 * including the watch's own: a freed watch is not called again, even for
 * events already collected. */
void kp_poller_watch_free(KpPollerWatch *watch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpPollerWatch, kp_poller_watch_free)

/* For tests: whether @watch sits in GLib's poll set rather than the epoll
 * set, and the pollers alive on any context (one per context and priority
 * in use, none once every watch is freed). */
gboolean kp_poller_watch_is_direct(const KpPollerWatch *watch);
guint kp_poller_get_n_pollers(void);

G_END_DECLS
