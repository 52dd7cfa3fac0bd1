/* tcp-echo-client: the raw TCP baseline's client for bench-transport.sh.
 * Sends 32-byte payloads (the size of an /ipfs/ping/1.0.0 ping) to
 * tcp-echo-server over one TCP_NODELAY connection, checks each echo, and
 * prints round-trip percentiles the way kpingctl computes them (nearest
 * rank). Not installed.
 *
 *   tcp-echo-client [-c COUNT] [-w WARMUP] [-l PRELOAD] [--json] IPV4 PORT
 *
 * WARMUP round trips (default 200) go first and are not counted. With
 * PRELOAD 1 (the default) round trips are sequential; with more, PRELOAD
 * payloads stay in flight and the rate is the figure to look at.
 *
 * Built a second time as glib-echo-client (ECHO_CLIENT_GLIB_LOOP), which
 * waits for each echo in a GLib main loop, as kpingctl does, instead of in a
 * blocking read: with glib-echo-server it measures a round trip through two
 * GLib main loops and nothing else, the floor of any GLib client and server
 * pair (run-all.sh's figure 1). */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef ECHO_CLIENT_GLIB_LOOP
#include <glib-unix.h>
#endif

#define PAYLOAD_SIZE 32
#define MAX_COUNT    (1 << 24)
#define MAX_PRELOAD  65536

static int64_t
now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#ifdef ECHO_CLIENT_GLIB_LOOP
static gboolean readable;

static gboolean
on_readable(gint fd, GIOCondition condition, gpointer user_data)
{
        (void)fd;
        (void)condition;
        (void)user_data;
        readable = TRUE;
        return G_SOURCE_CONTINUE;
}

/* Returns once the main loop has dispatched the socket as readable: a poll
 * and the loop's prepare, check and dispatch, as in an event-driven client. */
static void
wait_readable(void)
{
        readable = FALSE;
        while (!readable)
                g_main_context_iteration(NULL, TRUE);
}
#else
static void
wait_readable(void)
{
}
#endif

static int
write_all(int fd, const uint8_t *buf, size_t len)
{
        while (len > 0) {
                ssize_t n = write(fd, buf, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -1;
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

/* Payload @seq: random bytes with the sequence number in front, so an echo
 * out of order or corrupted is caught. */
static void
make_payload(const uint8_t *random, uint64_t seq, uint8_t *out)
{
        memcpy(out, random, PAYLOAD_SIZE);
        memcpy(out, &seq, sizeof seq);
}

static int
compare_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

        return x < y ? -1 : x > y;
}

static double
percentile_us(const int64_t *sorted, size_t n, double p)
{
        size_t rank = (size_t)ceil(p / 100.0 * (double)n);

        if (rank < 1)
                rank = 1;
        return (double)sorted[rank - 1] / 1000.0;
}

/* Runs @count round trips with @preload in flight; fills @rtt_ns (may be
 * NULL) and returns the elapsed nanoseconds, or -1. Like a real pipelined
 * client it reads whatever has arrived and refills the window with one
 * write, so the baseline is not a syscall per payload. */
static int64_t
run(int fd, const uint8_t *random, uint64_t *seq, long count, long preload, int64_t *rtt_ns)
{
        int64_t *sent_ns = calloc((size_t)count, sizeof *sent_ns);
        uint8_t *out = malloc((size_t)preload * PAYLOAD_SIZE);
        uint8_t *in = malloc((size_t)preload * PAYLOAD_SIZE);
        uint8_t want[PAYLOAD_SIZE];
        uint64_t first = *seq;
        long sent = 0, done = 0;
        size_t have = 0;
        int64_t start = now_ns(), result = -1;

        if (sent_ns == NULL || out == NULL || in == NULL)
                goto out;
        while (done < count) {
                long batch = 0;
                ssize_t n;
                int64_t t;

                while (sent + batch < count && sent + batch - done < preload) {
                        make_payload(random, first + (uint64_t)(sent + batch),
                                     out + (size_t)batch * PAYLOAD_SIZE);
                        batch++;
                }
                if (batch > 0) {
                        t = now_ns();
                        for (long i = 0; i < batch; i++)
                                sent_ns[sent + i] = t;
                        if (write_all(fd, out, (size_t)batch * PAYLOAD_SIZE) != 0) {
                                perror("tcp-echo-client: write");
                                goto out;
                        }
                        sent += batch;
                }
                /* Never more than is in flight, so the echoes stay in step. */
                wait_readable();
                n = read(fd, in + have, (size_t)(sent - done) * PAYLOAD_SIZE - have);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        fprintf(stderr, "tcp-echo-client: connection lost\n");
                        goto out;
                }
                t = now_ns();
                have += (size_t)n;
                for (size_t off = 0; off + PAYLOAD_SIZE <= have; off += PAYLOAD_SIZE) {
                        make_payload(random, first + (uint64_t)done, want);
                        if (memcmp(in + off, want, PAYLOAD_SIZE) != 0) {
                                fprintf(stderr, "tcp-echo-client: echo %ld does not match\n", done);
                                goto out;
                        }
                        if (rtt_ns != NULL)
                                rtt_ns[done] = t - sent_ns[done];
                        done++;
                }
                memmove(in, in + have - have % PAYLOAD_SIZE, have % PAYLOAD_SIZE);
                have %= PAYLOAD_SIZE;
        }
        *seq = first + (uint64_t)count;
        result = now_ns() - start;
out:
        free(sent_ns);
        free(out);
        free(in);
        return result;
}

static long
parse_long(const char *text, long min, long max, const char *what)
{
        char *end = NULL;
        long v = strtol(text, &end, 10);

        if (end == text || *end != '\0' || v < min || v > max) {
                fprintf(stderr, "tcp-echo-client: invalid %s \"%s\" (%ld to %ld)\n", what, text,
                        min, max);
                exit(2);
        }
        return v;
}

int
main(int argc, char **argv)
{
        long count = 2000, warmup = 200, preload = 1;
        int json = 0, one = 1, fd;
        const char *host = NULL, *port = NULL;
        struct sockaddr_in sin = { 0 };
        uint8_t random[PAYLOAD_SIZE];
        uint64_t seq = 0;
        int64_t *rtt_ns, elapsed;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
                        count = parse_long(argv[++i], 1, MAX_COUNT, "count");
                else if (strcmp(argv[i], "-w") == 0 && i + 1 < argc)
                        warmup = parse_long(argv[++i], 0, MAX_COUNT, "warm-up");
                else if (strcmp(argv[i], "-l") == 0 && i + 1 < argc)
                        preload = parse_long(argv[++i], 1, MAX_PRELOAD, "preload");
                else if (strcmp(argv[i], "--json") == 0)
                        json = 1;
                else if (host == NULL)
                        host = argv[i];
                else if (port == NULL)
                        port = argv[i];
                else
                        host = NULL, port = NULL, i = argc;
        }
        if (host == NULL || port == NULL) {
                fprintf(stderr,
                        "usage: %s [-c COUNT] [-w WARMUP] [-l PRELOAD] [--json] IPV4 PORT\n",
                        argv[0]);
                return 2;
        }
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)parse_long(port, 1, 65535, "port"));
        if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
                fprintf(stderr, "tcp-echo-client: invalid IPv4 address \"%s\"\n", host);
                return 2;
        }
        if (getrandom(random, sizeof random, 0) != sizeof random) {
                perror("getrandom");
                return 1;
        }
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
                perror("connect");
                return 1;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#ifdef ECHO_CLIENT_GLIB_LOOP
        g_unix_fd_add(fd, G_IO_IN, on_readable, NULL);
#endif
        if (warmup > 0 && run(fd, random, &seq, warmup, 1, NULL) < 0)
                return 1;
        rtt_ns = calloc((size_t)count, sizeof *rtt_ns);
        if (rtt_ns == NULL)
                return 1;
        elapsed = run(fd, random, &seq, count, preload, rtt_ns);
        if (elapsed < 0)
                return 1;
        close(fd);
        qsort(rtt_ns, (size_t)count, sizeof *rtt_ns, compare_i64);
        if (json)
                printf("{\"type\":\"summary\",\"count\":%ld,\"preload\":%ld,"
                       "\"rtt_us\":{\"min\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,"
                       "\"max\":%.1f},\"elapsed_us\":%.0f,\"rate_per_s\":%.0f}\n",
                       count, preload, rtt_ns[0] / 1000.0, percentile_us(rtt_ns, count, 50),
                       percentile_us(rtt_ns, count, 90), percentile_us(rtt_ns, count, 99),
                       rtt_ns[count - 1] / 1000.0, elapsed / 1000.0, count * 1e9 / elapsed);
        else
                printf("%ld round trips (preload %ld): p50 %.1f us, p99 %.1f us, %.0f per second\n",
                       count, preload, percentile_us(rtt_ns, count, 50),
                       percentile_us(rtt_ns, count, 99), count * 1e9 / elapsed);
        free(rtt_ns);
        return 0;
}
