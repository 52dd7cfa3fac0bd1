/* kpingd: the kping daemon. */
#define G_LOG_DOMAIN "kpingd"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <locale.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actor/kp-actor-registry.h"
#include "config.h"
#include "core/kp-error.h"
#include "core/kp-peer-id.h"
#include "counter-store.h"
#include "dht-setup.h"
#include "log.h"
#include "net/kp-host.h"
#include "net/kp-identify-service.h"
#include "net/kp-identity.h"
#include "net/kp-ping-service.h"
#include "ping-actor.h"
#include "sd-notify.h"

typedef struct {
        KpingdConfig *config;
        KpKeypair *identity;
        char *peer_id;
        KpHost *host;
        KpIdentifyService *identify;
        KpDht *dht;
        KpingdCounterStore *counter;
        KpActorServer *actors;
        KpingdPingActor *ping_actor;
        GMainLoop *loop;
        int exit_status;
        gboolean ready;
        guint status_delay_id; /* a STATUS= refresh after a connection change */
} Kpingd;

/* How often STATUS= is refreshed while nothing else changes it, so the
 * total pings in `systemctl status` stays close to the truth. */
#define KPINGD_STATUS_INTERVAL_S 5
/* A connection change refreshes STATUS= within this delay: one datagram to
 * the service manager per second, not two per connection under load. */
#define KPINGD_STATUS_DELAY_S 1

/* Tells systemd what the daemon is doing; a no-op outside systemd. */
static void
update_status(Kpingd *d)
{
        kpingd_sd_notifyf("STATUS=%s; Peer ID %s; %u connected peers; %" G_GUINT64_FORMAT " pings",
                          d->ready ? "Ready" : "Starting", d->peer_id,
                          kp_host_get_n_connections(d->host),
                          kpingd_counter_store_get_total(d->counter));
}

static gboolean
on_status_delay(gpointer user_data)
{
        Kpingd *d = user_data;

        d->status_delay_id = 0;
        update_status(d);
        return G_SOURCE_REMOVE;
}

static void
schedule_status(Kpingd *d)
{
        if (d->status_delay_id == 0 && kpingd_sd_notify_enabled())
                d->status_delay_id
                    = g_timeout_add_seconds(KPINGD_STATUS_DELAY_S, on_status_delay, d);
}

static gboolean
on_status_timeout(gpointer user_data)
{
        update_status(user_data);
        return G_SOURCE_CONTINUE;
}

/* Pets the watchdog from the main loop, so a hung loop (or a stopped
 * process) stops the pings and systemd restarts us. */
static gboolean
on_watchdog_timeout(gpointer user_data)
{
        kpingd_sd_notify("WATCHDOG=1");
        return G_SOURCE_CONTINUE;
}

static void
start_watchdog(void)
{
        guint64 usec = kpingd_sd_watchdog_usec();

        if (usec == 0)
                return;
        /* Half the interval leaves room for a late tick. */
        g_timeout_add(MAX(usec / 2 / 1000, 1), on_watchdog_timeout, NULL);
        kpingd_sd_notify("WATCHDOG=1");
}

/* With socket activation (kpingd.socket), listens on the passed sockets
 * instead of the configured addresses. Returns the number taken, or -1. */
static int
listen_on_passed_sockets(Kpingd *d, GError **error)
{
        int n = kpingd_sd_listen_fds(error);

        if (n < 0) {
                g_prefix_error(error, "cannot take the sockets passed by systemd: ");
                return -1;
        }
        for (int i = 0; i < n; i++) {
                int fd = kpingd_sd_listen_fds_start() + i;
                g_autoptr(GSocket) socket = NULL;

                if (!kpingd_sd_is_listening_stream(fd)) {
                        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                    "passed file descriptor %d is not a listening stream socket",
                                    fd);
                        return -1;
                }
                socket = g_socket_new_from_fd(fd, error);
                if (socket == NULL) {
                        g_prefix_error(error, "passed file descriptor %d: ", fd);
                        return -1;
                }
                if (!kp_host_listen_socket(d->host, socket, error))
                        return -1;
        }
        return n;
}

/* Every connection is a descriptor: the soft RLIMIT_NOFILE (often 1024)
 * goes up to the hard one, and a MaxConnections the hard limit cannot hold
 * is reported, since accepts past it would fail. */
static void
raise_fd_limit(guint max_connections)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
                g_warning("cannot read RLIMIT_NOFILE: %s", g_strerror(errno));
                return;
        }
        if (rl.rlim_cur < rl.rlim_max) {
                rlim_t old = rl.rlim_cur;
                rl.rlim_cur = rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
                        g_warning("cannot raise RLIMIT_NOFILE from %llu to %llu: %s",
                                  (unsigned long long)old, (unsigned long long)rl.rlim_max,
                                  g_strerror(errno));
                        rl.rlim_cur = old;
                } else {
                        g_debug("RLIMIT_NOFILE raised from %llu to %llu", (unsigned long long)old,
                                (unsigned long long)rl.rlim_cur);
                }
        } else {
                g_debug("RLIMIT_NOFILE is %llu", (unsigned long long)rl.rlim_cur);
        }
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)max_connections + 64)
                g_warning("MaxConnections=%u does not fit the file descriptor limit %llu: "
                          "accepting fails before the limit is reached (raise LimitNOFILE=)",
                          max_connections, (unsigned long long)rl.rlim_cur);
}

static void
on_connection_established(KpHost *host, KpConnection *conn, gpointer user_data)
{
        Kpingd *d = user_data;
        g_autofree char *peer = NULL;
        g_autofree char *addr = NULL;

        schedule_status(d);
        /* Peer ids and addresses as text cost more than the rest of an
         * accept: not made for a line that is not written. */
        if (kp_connection_get_direction(conn) != KP_CONNECTION_INBOUND
            || !kpingd_log_enabled(G_LOG_LEVEL_INFO))
                return;
        peer = kp_peer_id_to_string(kp_connection_get_remote_peer_id(conn));
        addr = kp_multiaddr_to_string(kp_connection_get_remote_addr(conn));
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_INFO, "MESSAGE_ID", KPINGD_MID_CONNECTED,
                         "KPING_PEER_ID", d->peer_id, "KPING_REMOTE_PEER_ID", peer,
                         "KPING_REMOTE_ADDR", addr, "MESSAGE", "Client connected: %s from %s", peer,
                         addr);
}

/* An established connection ended because the peer broke the protocol (an
 * oversized or malformed frame, a failed MAC): worth a warning, like a
 * failed handshake. Ordinary ends (closes, resets, timeouts) stay at debug. */
static gboolean
peer_broke_protocol(const GError *error)
{
        if (error == NULL || error->domain != KP_ERROR)
                return FALSE;
        switch (error->code) {
        case KP_ERROR_INVALID:
        case KP_ERROR_TOO_LARGE:
        case KP_ERROR_UNSUPPORTED:
        case KP_ERROR_CRYPTO:
        case KP_ERROR_PROTOCOL:
                return TRUE;
        default:
                return FALSE;
        }
}

static void
on_connection_closed(KpHost *host, KpConnection *conn, const GError *error, gpointer user_data)
{
        Kpingd *d = user_data;
        g_autofree char *peer = NULL;
        g_autofree char *addr = NULL;

        schedule_status(d);
        if (peer_broke_protocol(error)) {
                peer = kp_peer_id_to_string(kp_connection_get_remote_peer_id(conn));
                addr = kp_multiaddr_to_string(kp_connection_get_remote_addr(conn));
                g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "KPING_REMOTE_PEER_ID", peer,
                                 "KPING_REMOTE_ADDR", addr, "MESSAGE",
                                 "Connection with %s from %s closed: %s", peer, addr,
                                 error->message);
                return;
        }
        /* Peer ids as text cost more than the rest of a close: not made for
         * a line that is not written. */
        if (!kpingd_log_enabled(G_LOG_LEVEL_DEBUG))
                return;
        peer = kp_peer_id_to_string(kp_connection_get_remote_peer_id(conn));
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG, "KPING_REMOTE_PEER_ID", peer, "MESSAGE",
                         "Connection with %s closed%s%s", peer, error != NULL ? ": " : "",
                         error != NULL ? error->message : "");
}

static void
on_handshake_failed(KpHost *host, const KpMultiaddr *remote, const GError *error,
                    gpointer user_data)
{
        g_autofree char *addr = remote != NULL ? kp_multiaddr_to_string(remote) : g_strdup("?");

        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "MESSAGE_ID", KPINGD_MID_HANDSHAKE,
                         "KPING_REMOTE_ADDR", addr, "MESSAGE", "Handshake with %s failed: %s", addr,
                         error->message);
}

/* Writes @contents to @path through a temporary file and a rename, so a
 * reader never sees a partial file. */
static gboolean
write_file_atomically(const char *path, const char *contents, GError **error)
{
        return g_file_set_contents_full(
            path, contents, -1, G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_ONLY_EXISTING,
            0644, error);
}

/* Logs where we listen and can be reached, and writes --addrs-file. */
static gboolean
announce_addresses(Kpingd *d, GError **error)
{
        g_autoptr(GPtrArray) bound = kp_host_get_listen_addrs(d->host);
        g_autoptr(GPtrArray) advertised = kp_host_get_advertised_addrs(d->host);
        g_autoptr(GString) addrs = g_string_new(NULL);

        for (guint i = 0; i < bound->len; i++) {
                g_autofree char *text = kp_multiaddr_to_string(bound->pdata[i]);
                g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_INFO, "MESSAGE_ID", KPINGD_MID_LISTENING,
                                 "KPING_PEER_ID", d->peer_id, "KPING_LISTEN_ADDR", text, "MESSAGE",
                                 "Listening on %s", text);
        }
        for (guint i = 0; i < advertised->len; i++) {
                g_autoptr(KpMultiaddr) full = kp_multiaddr_encapsulate_p2p(
                    advertised->pdata[i], kp_host_get_peer_id(d->host), NULL);
                g_autofree char *text = full != NULL ? kp_multiaddr_to_string(full) : NULL;
                if (text == NULL)
                        continue;
                g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_INFO, "KPING_PEER_ID", d->peer_id,
                                 "KPING_CONNECTION_ADDR", text, "MESSAGE", "Connection address: %s",
                                 text);
                g_string_append_printf(addrs, "%s\n", text);
        }
        if (d->config->addrs_file != NULL
            && !write_file_atomically(d->config->addrs_file, addrs->str, error)) {
                g_prefix_error(error, "cannot write --addrs-file: ");
                return FALSE;
        }
        return TRUE;
}

static void
on_actor_registered(GObject *source, GAsyncResult *result, gpointer user_data)
{
        Kpingd *d = user_data;
        g_autoptr(GError) error = NULL;
        g_autofree char *total = NULL;

        if (!kp_actor_register_finish(d->dht, result, &error)) {
                g_critical("cannot register the PingActor as '%s': %s", d->config->actor_name,
                           error->message);
                d->exit_status = EXIT_FAILURE;
                g_main_loop_quit(d->loop);
                return;
        }
        if (!announce_addresses(d, &error)) {
                g_critical("%s", error->message);
                d->exit_status = EXIT_FAILURE;
                g_main_loop_quit(d->loop);
                return;
        }
        total = g_strdup_printf("%" G_GUINT64_FORMAT, kpingd_counter_store_get_total(d->counter));
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_INFO, "MESSAGE_ID", KPINGD_MID_REGISTERED,
                         "KPING_PEER_ID", d->peer_id, "KPING_ACTOR_NAME", d->config->actor_name,
                         "KPING_TOTAL", total, "MESSAGE", "PingActor registered and ready!");
        /* Ready means listening and registered: the same moment as the
         * addresses file. */
        d->ready = TRUE;
        kpingd_sd_notify("READY=1");
        update_status(d);
}

static gboolean
on_stop_signal(gpointer user_data)
{
        Kpingd *d = user_data;

        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_INFO, "MESSAGE_ID", KPINGD_MID_STOPPING,
                         "KPING_PEER_ID", d->peer_id, "MESSAGE", "Stopping");
        kpingd_sd_notify("STOPPING=1\nSTATUS=Stopping; flushing the counter");
        g_main_loop_quit(d->loop);
        return G_SOURCE_CONTINUE;
}

static int
run_daemon(Kpingd *d)
{
        static const KpHostCallbacks host_callbacks = {
                .connection_established = on_connection_established,
                .connection_closed = on_connection_closed,
                .handshake_failed = on_handshake_failed,
        };
        g_autoptr(GError) error = NULL;
        g_autofree char *agent = g_strdup_printf("kping/%s", KP_VERSION);
        g_autofree char *total = NULL;
        int n_passed;

        raise_fd_limit(d->config->host_limits.max_connections);
        d->host = kp_host_new(d->identity);
        kp_host_set_limits(d->host, &d->config->host_limits);
        kp_host_add_callbacks(d->host, &host_callbacks, d);
        d->identify = kp_identify_service_new(d->host, agent, TRUE);
        kp_ping_service_register(d->host);

        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_INFO, "MESSAGE_ID", KPINGD_MID_STARTED,
                         "KPING_PEER_ID", d->peer_id, "MESSAGE", "Server Peer ID: %s", d->peer_id);
        update_status(d);
        n_passed = listen_on_passed_sockets(d, &error);
        if (n_passed < 0) {
                g_critical("%s", error->message);
                return EXIT_FAILURE;
        }
        if (n_passed > 0)
                g_info("Socket activation: listening on the socket(s) passed by systemd (%d), not "
                       "on the configured addresses",
                       n_passed);
        for (guint i = 0; n_passed == 0 && i < d->config->listen->len; i++) {
                if (!kp_host_listen(d->host, d->config->listen->pdata[i], &error)) {
                        g_critical("%s", error->message);
                        return EXIT_FAILURE;
                }
        }
        d->dht = kpingd_dht_start(d->host, d->identify, d->config);
        d->actors = kp_actor_server_new(d->host);
        kp_actor_server_set_limits(d->actors, &d->config->actor_limits);
        d->ping_actor = kpingd_ping_actor_new(d->actors, d->counter, d->config->durability);
        d->loop = g_main_loop_new(NULL, FALSE);
        d->exit_status = EXIT_SUCCESS;
        /* Ready (sd_notify, --addrs-file) once the actor is registered. */
        kp_actor_register_async(d->dht, d->config->actor_name,
                                kpingd_ping_actor_get_seq(d->ping_actor),
                                KP_KAMEO_PING_ACTOR_REMOTE_ID, NULL, on_actor_registered, d);
        start_watchdog();
        /* Outside systemd nobody reads STATUS=: no timer in every loop
         * iteration for it. */
        if (kpingd_sd_notify_enabled())
                g_timeout_add_seconds(KPINGD_STATUS_INTERVAL_S, on_status_timeout, d);
        g_unix_signal_add(SIGTERM, on_stop_signal, d);
        g_unix_signal_add(SIGINT, on_stop_signal, d);
        g_main_loop_run(d->loop);
        g_clear_handle_id(&d->status_delay_id, g_source_remove);
        kp_host_close_all(d->host);
        /* Every total a client was told is on disk before we exit. */
        if (!kpingd_counter_store_close(d->counter, &error)) {
                g_critical("%s", error->message);
                return EXIT_FAILURE;
        }
        total = g_strdup_printf("%" G_GUINT64_FORMAT, kpingd_counter_store_get_total(d->counter));
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_INFO, "MESSAGE_ID", KPINGD_MID_STOPPED,
                         "KPING_PEER_ID", d->peer_id, "KPING_TOTAL", total, "MESSAGE",
                         "Stopped; total pings %s", total);
        return d->exit_status;
}

int
main(int argc, char **argv)
{
        g_auto(KpingdConfig) config = { 0 };
        g_autoptr(GError) error = NULL;
        g_autoptr(KpKeypair) identity = NULL;
        KpPeerId id;
        Kpingd d = { 0 };
        int status;

        setlocale(LC_ALL, "");
        if (sodium_init() < 0) {
                fprintf(stderr, "kpingd: libsodium failed to initialise\n");
                return EXIT_FAILURE;
        }
        if (!kpingd_config_load(&config, &argc, &argv, &error)) {
                fprintf(stderr, "kpingd: %s\n", error->message);
                return 2;
        }
        if (config.version) {
                printf("kpingd %s\n", KP_VERSION);
                return EXIT_SUCCESS;
        }
        kpingd_log_init(config.log_level);
        identity = kp_identity_load_or_create(config.state_dir, NULL, &error);
        if (identity == NULL) {
                fprintf(stderr, "kpingd: %s\n", error->message);
                return EXIT_FAILURE;
        }
        kp_peer_id_from_public_key(kp_keypair_get_public_key(identity), &id);
        d.config = &config;
        d.identity = identity;
        d.peer_id = kp_peer_id_to_string(&id);
        if (config.print_peer_id) {
                printf("%s\n", d.peer_id);
                g_free(d.peer_id);
                return EXIT_SUCCESS;
        }
        d.counter = kpingd_counter_store_open(config.state_dir, config.durability, &error);
        if (d.counter == NULL) {
                fprintf(stderr, "kpingd: %s\n", error->message);
                g_free(d.peer_id);
                return EXIT_FAILURE;
        }
        status = run_daemon(&d);
        g_clear_pointer(&d.ping_actor, kpingd_ping_actor_free);
        g_clear_pointer(&d.actors, kp_actor_server_free);
        g_clear_pointer(&d.dht, kp_dht_free);
        g_clear_pointer(&d.host, kp_host_free);
        g_clear_pointer(&d.identify, kp_identify_service_free);
        g_clear_pointer(&d.loop, g_main_loop_unref);
        g_clear_object(&d.counter);
        g_free(d.peer_id);
        return status;
}
