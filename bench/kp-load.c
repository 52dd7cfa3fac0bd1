/* kp-load: a libp2p connection load generator for the bench scripts. Each
 * connection does what a real dialer does, with libkping's sans-I/O codecs
 * on non-blocking sockets under one epoll loop: TCP connect, lazy
 * multistream-select "/noise", Noise XX (yamux offered in the handshake),
 * then one yamux ping,
 * whose answer proves the daemon has the connection established. Streams the
 * daemon opens (identify) are reset. Not installed.
 *
 *   kp-load handshake [OPTIONS] MULTIADDR
 *       keep CONCURRENCY connections in their handshake for SECONDS; each
 *       one established is closed and replaced. Prints one JSON line:
 *       {"mode", "concurrency", "identities", "seconds", "handshakes", "failed",
 *        "rate_per_s", "latency_us": {"p50", "p99"}, "cpu_s"}.
 *   kp-load idle [OPTIONS] MULTIADDR
 *       open CONNECTIONS connections, at most CONCURRENCY in their handshake
 *       at once, and keep them open and idle. Prints one JSON line
 *       {"mode", "open", "failed", "open_s", ...} once all are open (or
 *       failed), writes --ready-file, then holds them until SIGTERM/SIGINT
 *       or --hold SECONDS, and prints {"held": N, "dropped": N, "failed": N}.
 *
 * Options: -c CONCURRENCY (64), -n CONNECTIONS (idle: 1000), -t SECONDS
 * (handshake: 5), --hold SECONDS (idle: 600), --sources N (source addresses
 * 127.0.0.2 .. 127.0.0.(N+1), round robin, so that neither ephemeral ports
 * nor per-address limits of one source bound the run; 49), --ready-file F,
 * --identities N: the connections take their Ed25519 identity (and a Noise
 * static key signed by it) round robin from N made at start-up, so the
 * daemon still sees N distinct peer ids but the load tool does not spend a
 * key generation and a signature per connection on its own side; 0: a
 * fresh identity and static key per connection (handshake: 256, idle: 0).
 *
 * Every loop is bounded: a connection not established within
 * KP_LOAD_HANDSHAKE_TIMEOUT_US fails; idle opening gives up after
 * KP_LOAD_OPEN_TIMEOUT_US. RLIMIT_NOFILE is raised to its hard limit. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/kp-error.h"
#include "core/kp-keys.h"
#include "core/kp-mss.h"
#include "core/kp-multiaddr.h"
#include "core/kp-noise.h"
#include "core/kp-yamux.h"
#include "net/kp-host.h"

#define KP_LOAD_HANDSHAKE_TIMEOUT_US (10 * G_USEC_PER_SEC)
#define KP_LOAD_OPEN_TIMEOUT_US      (300 * G_USEC_PER_SEC)
#define KP_LOAD_MAX_CONNECTIONS      100000
#define KP_LOAD_MAX_CONCURRENCY      10000
#define KP_LOAD_MAX_SECONDS          3600
#define KP_LOAD_MAX_SOURCES          250
#define KP_LOAD_MAX_IDENTITIES       100000
/* Handshake latencies kept for the percentiles; later ones are only counted. */
#define KP_LOAD_MAX_SAMPLES (1 << 20)
#define KP_LOAD_READ_SIZE   16384
#define KP_LOAD_EPOLL_BATCH 256

static const char *const noise_protocols[] = { KP_NOISE_PROTOCOL_ID, NULL };
static const char *const yamux_protocols[] = { KP_YAMUX_PROTOCOL_ID, NULL };

typedef enum {
        CONN_FREE,
        CONN_CONNECTING,
        CONN_HANDSHAKE,
        CONN_ESTABLISHED,
} ConnState;

typedef struct {
        int fd;
        ConnState state;
        gint64 start_us;
        KpKeypair *identity;
        KpMss *mss;
        KpNoise *noise;
        KpYamuxSession *yamux;
        GByteArray *out;
} Conn;

/* One of the --identities made at start-up. */
typedef struct {
        KpKeypair *identity;
        KpNoiseStaticKey *static_key;
} Identity;

static struct {
        gboolean idle;
        guint concurrency;
        guint connections;
        guint seconds;
        guint hold;
        guint sources;
        guint identities;
        Identity *pool; /* identities entries, or NULL */
        guint next_identity;
        const char *ready_file;
        struct sockaddr_in target;
        KpPeerId peer;
        gboolean has_peer;
        int epfd;
        guint next_source;
        guint64 established;
        guint64 failed;
        guint64 dropped;
        GArray *samples;
        char last_error[256];
} L;

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
        stop_requested = 1;
}

static void
conn_clear(Conn *c)
{
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -1;
        g_clear_pointer(&c->identity, kp_keypair_free);
        g_clear_pointer(&c->mss, kp_mss_free);
        g_clear_pointer(&c->noise, kp_noise_free);
        g_clear_pointer(&c->yamux, kp_yamux_session_free);
        if (c->out != NULL)
                g_byte_array_set_size(c->out, 0);
        c->state = CONN_FREE;
}

static void
conn_fail(Conn *c, const char *why)
{
        if (c->state == CONN_ESTABLISHED)
                L.dropped++;
        else
                L.failed++;
        g_strlcpy(L.last_error, why, sizeof L.last_error);
        conn_clear(c);
}

static gboolean
conn_start(Conn *c)
{
        struct sockaddr_in src = { .sin_family = AF_INET };
        int one = 1;
        g_autoptr(GError) error = NULL;

        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0) {
                conn_fail(c, g_strerror(errno));
                return FALSE;
        }
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        /* The port is picked at connect(), per destination, not at bind(). */
        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        src.sin_addr.s_addr = htonl(0x7f000002u + L.next_source);
        L.next_source = (L.next_source + 1) % L.sources;
        if (bind(c->fd, (struct sockaddr *)&src, sizeof src) != 0
            || (connect(c->fd, (struct sockaddr *)&L.target, sizeof L.target) != 0
                && errno != EINPROGRESS)) {
                conn_fail(c, g_strerror(errno));
                return FALSE;
        }
        c->state = CONN_CONNECTING;
        c->start_us = g_get_monotonic_time();
        c->mss = kp_mss_new_dialer(noise_protocols, TRUE);
        if (L.pool != NULL) {
                Identity *id = &L.pool[L.next_identity];
                L.next_identity = (L.next_identity + 1) % L.identities;
                c->noise = kp_noise_new_initiator(id->identity, L.has_peer ? &L.peer : NULL,
                                                  yamux_protocols);
                kp_noise_set_static_key(c->noise, id->static_key);
        } else {
                c->identity = kp_keypair_generate();
                c->noise = kp_noise_new_initiator(c->identity, L.has_peer ? &L.peer : NULL,
                                                  yamux_protocols);
        }
        if (c->out == NULL)
                c->out = g_byte_array_new();
        if (!kp_noise_start(c->noise, &error)) {
                conn_fail(c, error->message);
                return FALSE;
        }
        {
                g_autoptr(GBytes) hello = kp_mss_take_output(c->mss);
                if (hello != NULL)
                        g_byte_array_append(c->out, g_bytes_get_data(hello, NULL),
                                            (guint)g_bytes_get_size(hello));
        }
        kp_noise_take_output(c->noise, c->out);
        {
                struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c };
                if (epoll_ctl(L.epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
                        conn_fail(c, g_strerror(errno));
                        return FALSE;
                }
        }
        return TRUE;
}

/* FALSE when the connection failed (and was cleared). */
static gboolean
conn_flush(Conn *c)
{
        gsize done = 0;

        if (c->state == CONN_CONNECTING)
                return TRUE;
        while (done < c->out->len) {
                ssize_t n = send(c->fd, c->out->data + done, c->out->len - done, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        break;
                if (n <= 0) {
                        conn_fail(c, n < 0 ? g_strerror(errno) : "short write");
                        return FALSE;
                }
                done += (gsize)n;
        }
        g_byte_array_remove_range(c->out, 0, (guint)done);
        return TRUE;
}

static void
record_established(Conn *c)
{
        gint64 us = g_get_monotonic_time() - c->start_us;

        L.established++;
        if (L.samples->len < KP_LOAD_MAX_SAMPLES)
                g_array_append_val(L.samples, us);
        c->state = CONN_ESTABLISHED;
}

/* Yamux output through Noise into c->out. */
static gboolean
pump_yamux(Conn *c)
{
        const guint8 *data;
        gsize len;
        g_autoptr(GError) error = NULL;

        while ((len = kp_yamux_session_pending_output(c->yamux, &data)) > 0) {
                if (!kp_noise_encrypt(c->noise, data, len, c->out, &error)) {
                        conn_fail(c, error->message);
                        return FALSE;
                }
                kp_yamux_session_output_consumed(c->yamux, len);
        }
        return TRUE;
}

/* FALSE when the connection was closed (failed, or done in handshake mode). */
static gboolean
handle_events(Conn *c)
{
        KpYamuxEvent ev;
        gboolean done = FALSE;

        while (kp_yamux_session_next_event(c->yamux, &ev)) {
                switch (ev.kind) {
                case KP_YAMUX_EVENT_PING_ACK:
                        if (c->state == CONN_HANDSHAKE) {
                                record_established(c);
                                done = !L.idle;
                        }
                        break;
                case KP_YAMUX_EVENT_STREAM_OPENED:
                        /* identify from the daemon: not spoken here */
                        kp_yamux_stream_reset(c->yamux, ev.stream_id, NULL);
                        kp_yamux_stream_release(c->yamux, ev.stream_id);
                        break;
                case KP_YAMUX_EVENT_STREAM_READABLE:
                case KP_YAMUX_EVENT_STREAM_WRITABLE:
                        break;
                case KP_YAMUX_EVENT_STREAM_CLOSED_BY_PEER:
                case KP_YAMUX_EVENT_STREAM_RESET:
                        kp_yamux_stream_release(c->yamux, ev.stream_id);
                        break;
                case KP_YAMUX_EVENT_GO_AWAY_RECEIVED:
                        conn_fail(c, "GO_AWAY received");
                        return FALSE;
                case KP_YAMUX_EVENT_SESSION_ERROR:
                        conn_fail(c, ev.error != NULL ? ev.error->message : "yamux error");
                        return FALSE;
                }
        }
        if (!pump_yamux(c) || !conn_flush(c))
                return FALSE;
        if (done) {
                conn_clear(c);
                return FALSE;
        }
        return TRUE;
}

static gboolean
feed(Conn *c, const guint8 *data, gsize len)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GByteArray) plain = NULL;

        if (kp_mss_get_state(c->mss) != KP_MSS_DONE) {
                gsize used = 0;
                if (!kp_mss_feed(c->mss, data, len, &used, &error)) {
                        conn_fail(c, error->message);
                        return FALSE;
                }
                data += used;
                len -= used;
                if (kp_mss_get_state(c->mss) != KP_MSS_DONE)
                        return TRUE;
        }
        if (len > 0 && !kp_noise_feed(c->noise, data, len, NULL, &error)) {
                conn_fail(c, error->message);
                return FALSE;
        }
        if (kp_noise_get_state(c->noise) != KP_NOISE_STATE_TRANSPORT) {
                kp_noise_take_output(c->noise, c->out);
                return conn_flush(c);
        }
        if (c->yamux == NULL) {
                const char *muxer = kp_noise_select_muxer(c->noise);
                if (muxer == NULL || !g_str_equal(muxer, KP_YAMUX_PROTOCOL_ID)) {
                        conn_fail(c, "the daemon did not take yamux in the Noise handshake");
                        return FALSE;
                }
                c->yamux = kp_yamux_session_new(KP_YAMUX_ROLE_CLIENT);
                if (!kp_yamux_session_ping(c->yamux, g_get_monotonic_time(), NULL, &error)) {
                        conn_fail(c, error->message);
                        return FALSE;
                }
        }
        plain = g_byte_array_new();
        kp_noise_take_plaintext(c->noise, plain);
        if (plain->len > 0
            && !kp_yamux_session_feed(c->yamux, plain->data, plain->len, g_get_monotonic_time(),
                                      &error)) {
                pump_yamux(c);
                conn_flush(c);
                if (c->state != CONN_FREE)
                        conn_fail(c, error->message);
                return FALSE;
        }
        return handle_events(c);
}

static void
on_ready(Conn *c, guint32 events)
{
        guint8 buf[KP_LOAD_READ_SIZE];

        if (c->state == CONN_CONNECTING && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err != 0) {
                        conn_fail(c, g_strerror(err));
                        return;
                }
                c->state = CONN_HANDSHAKE;
        }
        if (!conn_flush(c))
                return;
        for (guint i = 0; i < 64 && c->state != CONN_FREE; i++) {
                ssize_t n = recv(c->fd, buf, sizeof buf, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return;
                if (n <= 0) {
                        conn_fail(c, n < 0 ? g_strerror(errno) : "closed by the daemon");
                        return;
                }
                if (!feed(c, buf, (gsize)n))
                        return;
        }
}

/* Fails every connection still in its handshake after the timeout. */
static void
expire(Conn *conns, guint n, gint64 now)
{
        for (guint i = 0; i < n; i++) {
                if ((conns[i].state == CONN_CONNECTING || conns[i].state == CONN_HANDSHAKE)
                    && now - conns[i].start_us > KP_LOAD_HANDSHAKE_TIMEOUT_US)
                        conn_fail(&conns[i], "handshake timed out");
        }
}

static int
compare_i64(const void *a, const void *b)
{
        gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;

        return x < y ? -1 : x > y;
}

static gint64
percentile(double p)
{
        gsize rank;

        if (L.samples->len == 0)
                return 0;
        rank = (gsize)(p / 100.0 * L.samples->len + 0.999999);
        if (rank < 1)
                rank = 1;
        if (rank > L.samples->len)
                rank = L.samples->len;
        return g_array_index(L.samples, gint64, rank - 1);
}

static double
cpu_seconds(void)
{
        struct rusage ru;

        getrusage(RUSAGE_SELF, &ru);
        return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
               + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void
poll_once(int timeout_ms, gint64 now, Conn *conns, guint n)
{
        struct epoll_event evs[KP_LOAD_EPOLL_BATCH];
        int got = epoll_wait(L.epfd, evs, KP_LOAD_EPOLL_BATCH, timeout_ms);

        for (int i = 0; i < got; i++) {
                Conn *c = evs[i].data.ptr;
                if (c->state != CONN_FREE)
                        on_ready(c, evs[i].events);
        }
        expire(conns, n, now);
}

static int
run_handshake(Conn *conns)
{
        gint64 start = g_get_monotonic_time();
        gint64 end = start + (gint64)L.seconds * G_USEC_PER_SEC;
        gint64 now = start;
        double cpu0 = cpu_seconds(), elapsed;
        guint64 at_end;

        while (now < end && !stop_requested) {
                for (guint i = 0; i < L.concurrency; i++) {
                        if (conns[i].state == CONN_FREE)
                                conn_start(&conns[i]);
                }
                poll_once(10, now, conns, L.concurrency);
                now = g_get_monotonic_time();
        }
        at_end = L.established;
        elapsed = (double)(now - start) / G_USEC_PER_SEC;
        qsort(L.samples->data, L.samples->len, sizeof(gint64), compare_i64);
        printf("{\"mode\":\"handshake\",\"concurrency\":%u,\"sources\":%u,\"identities\":%u,"
               "\"seconds\":%.3f,"
               "\"handshakes\":%" G_GUINT64_FORMAT ",\"failed\":%" G_GUINT64_FORMAT
               ",\"rate_per_s\":%.0f,\"latency_us\":{\"p50\":%" G_GINT64_FORMAT
               ",\"p99\":%" G_GINT64_FORMAT "},\"cpu_s\":%.3f,\"last_error\":\"%s\"}\n",
               L.concurrency, L.sources, L.identities, elapsed, at_end, L.failed,
               (double)at_end / elapsed, percentile(50), percentile(99), cpu_seconds() - cpu0,
               L.failed > 0 ? L.last_error : "");
        fflush(stdout);
        return at_end > 0 ? 0 : 1;
}

static int
run_idle(Conn *conns)
{
        gint64 start = g_get_monotonic_time();
        gint64 now = start, hold_end;
        guint started = 0, in_flight;
        double cpu0 = cpu_seconds();

        while (!stop_requested && now - start < KP_LOAD_OPEN_TIMEOUT_US) {
                in_flight = 0;
                for (guint i = 0; i < started; i++) {
                        if (conns[i].state == CONN_CONNECTING || conns[i].state == CONN_HANDSHAKE)
                                in_flight++;
                }
                while (started < L.connections && in_flight < L.concurrency) {
                        if (conn_start(&conns[started]))
                                in_flight++;
                        started++;
                }
                if (started == L.connections && in_flight == 0)
                        break;
                poll_once(10, now, conns, started);
                now = g_get_monotonic_time();
        }
        qsort(L.samples->data, L.samples->len, sizeof(gint64), compare_i64);
        printf("{\"mode\":\"idle\",\"connections\":%u,\"sources\":%u,\"open\":%" G_GUINT64_FORMAT
               ",\"failed\":%" G_GUINT64_FORMAT ",\"dropped\":%" G_GUINT64_FORMAT
               ",\"open_s\":%.3f,\"latency_us\":{\"p50\":%" G_GINT64_FORMAT
               ",\"p99\":%" G_GINT64_FORMAT "},\"cpu_s\":%.3f,\"last_error\":\"%s\"}\n",
               L.connections, L.sources, L.established - L.dropped, L.failed, L.dropped,
               (double)(now - start) / G_USEC_PER_SEC, percentile(50), percentile(99),
               cpu_seconds() - cpu0, L.failed + L.dropped > 0 ? L.last_error : "");
        fflush(stdout);
        if (L.ready_file != NULL && !g_file_set_contents(L.ready_file, "ready\n", -1, NULL)) {
                fprintf(stderr, "kp-load: cannot write %s\n", L.ready_file);
                return 2;
        }
        hold_end = now + (gint64)L.hold * G_USEC_PER_SEC;
        while (!stop_requested && now < hold_end) {
                poll_once(100, now, conns, started);
                now = g_get_monotonic_time();
        }
        printf("{\"held\":%" G_GUINT64_FORMAT ",\"dropped\":%" G_GUINT64_FORMAT
               ",\"failed\":%" G_GUINT64_FORMAT "}\n",
               L.established - L.dropped, L.dropped, L.failed);
        return L.established > L.dropped ? 0 : 1;
}

static gboolean
parse_uint(const char *text, guint max, guint *ret)
{
        guint64 v;

        if (text == NULL || !g_ascii_string_to_unsigned(text, 10, 1, max, &v, NULL))
                return FALSE;
        *ret = (guint)v;
        return TRUE;
}

static int
usage(void)
{
        fprintf(stderr, "usage: kp-load handshake|idle [-c N] [-n N] [-t S] [--hold S] "
                        "[--sources N] [--identities N] [--ready-file F] MULTIADDR\n");
        return 2;
}

int
main(int argc, char **argv)
{
        g_autoptr(KpMultiaddr) ma = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *host = NULL;
        g_autofree Conn *conns = NULL;
        guint16 port;
        KpMultiaddrHostKind kind;
        struct rlimit rl;
        guint n;
        int i, ret;

        if (argc < 3)
                return usage();
        if (g_str_equal(argv[1], "idle"))
                L.idle = TRUE;
        else if (!g_str_equal(argv[1], "handshake"))
                return usage();
        L.concurrency = 64;
        L.connections = 1000;
        L.seconds = 5;
        L.hold = 600;
        L.sources = 49;
        L.identities = L.idle ? 0 : 256;
        /* OPTION VALUE pairs */
        for (i = 2; i < argc - 1; i += 2) {
                const char *a = argv[i], *v = argv[i + 1];
                gboolean ok;
                if (g_str_equal(a, "-c"))
                        ok = parse_uint(v, KP_LOAD_MAX_CONCURRENCY, &L.concurrency);
                else if (g_str_equal(a, "-n"))
                        ok = parse_uint(v, KP_LOAD_MAX_CONNECTIONS, &L.connections);
                else if (g_str_equal(a, "-t"))
                        ok = parse_uint(v, KP_LOAD_MAX_SECONDS, &L.seconds);
                else if (g_str_equal(a, "--hold"))
                        ok = parse_uint(v, KP_LOAD_MAX_SECONDS, &L.hold);
                else if (g_str_equal(a, "--sources"))
                        ok = parse_uint(v, KP_LOAD_MAX_SOURCES, &L.sources);
                else if (g_str_equal(a, "--identities")) {
                        guint64 count = 0;
                        ok = g_ascii_string_to_unsigned(v, 10, 0, KP_LOAD_MAX_IDENTITIES, &count,
                                                        NULL);
                        L.identities = (guint)count;
                } else if (g_str_equal(a, "--ready-file"))
                        ok = (L.ready_file = v) != NULL;
                else
                        return usage();
                if (!ok)
                        return usage();
        }
        if (i != argc - 1)
                return usage();
        if (sodium_init() < 0)
                return 2;
        ma = kp_multiaddr_new_from_string(argv[argc - 1], &error);
        if (ma == NULL || !kp_multiaddr_get_tcp_endpoint(ma, &host, &port, &kind, &error)) {
                fprintf(stderr, "kp-load: %s: %s\n", argv[argc - 1], error->message);
                return 2;
        }
        L.target.sin_family = AF_INET;
        L.target.sin_port = htons(port);
        if (kind != KP_MULTIADDR_HOST_IP4 || inet_pton(AF_INET, host, &L.target.sin_addr) != 1) {
                fprintf(stderr, "kp-load: %s: only /ip4 targets\n", argv[argc - 1]);
                return 2;
        }
        L.has_peer = kp_multiaddr_get_peer_id(ma, &L.peer, NULL);

        n = L.idle ? L.connections : L.concurrency;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 16) {
                fprintf(stderr, "kp-load: RLIMIT_NOFILE %lu is too low for %u connections\n",
                        (unsigned long)rl.rlim_cur, n);
                return 2;
        }
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        signal(SIGPIPE, SIG_IGN);
        if (L.identities > 0) {
                L.pool = g_new0(Identity, L.identities);
                for (guint j = 0; j < L.identities; j++) {
                        L.pool[j].identity = kp_keypair_generate();
                        L.pool[j].static_key = kp_noise_static_key_new(L.pool[j].identity);
                }
        }
        L.epfd = epoll_create1(EPOLL_CLOEXEC);
        L.samples = g_array_new(FALSE, FALSE, sizeof(gint64));
        conns = g_new0(Conn, n);
        for (guint j = 0; j < n; j++)
                conns[j].fd = -1;
        ret = L.idle ? run_idle(conns) : run_handshake(conns);
        for (guint j = 0; j < n; j++) {
                conn_clear(&conns[j]);
                if (conns[j].out != NULL)
                        g_byte_array_unref(conns[j].out);
        }
        for (guint j = 0; L.pool != NULL && j < L.identities; j++) {
                kp_noise_static_key_unref(L.pool[j].static_key);
                kp_keypair_free(L.pool[j].identity);
        }
        g_free(L.pool);
        g_array_unref(L.samples);
        close(L.epfd);
        return ret;
}
