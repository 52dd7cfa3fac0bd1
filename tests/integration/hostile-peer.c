/* hostile-peer: a misbehaving libp2p peer that gets past the handshake, for
 * test-hostile-load.sh. It speaks the real protocols with lib/core's sans-I/O
 * codecs over a plain socket (multistream-select, Noise XX with the yamux
 * muxer negotiated early, yamux), so what it does wrong happens where only a
 * peer with a valid connection can reach.
 *
 *   hostile-peer [--bind ADDR] [--seconds S] [--streams N] [--requests N]
 *                MODE PORT
 *
 * Modes (the daemon is on 127.0.0.1:PORT; --bind picks the source address):
 *   window   opens --streams streams on /ipfs/ping/1.0.0, writes each up to
 *            the whole yamux window and never reads a byte; after --seconds
 *            it closes. Prints "window peer=ID streams=N written=BYTES".
 *   bigframe sends a yamux DATA header announcing a 100 MB frame, then
 *            waits (at most --seconds) for the daemon to close. Prints
 *            "bigframe peer=ID result=closed|timeout".
 *   kad      sends --requests kad requests, alternately PUT_VALUE (key
 *            /kping/flood-<i>) and ADD_PROVIDER (key flood-<i>), each on
 *            its own stream on /kameo/registry/1.0.0, at most
 *            HOSTILE_KAD_IN_FLIGHT at once, and reads the answers. Prints
 *            "kad peer=ID sent=N finished=N answered=N".
 *
 * Every mode ends within --seconds (default 10) plus the connect. Exit 0
 * on success (window: connected and wrote; bigframe: closed by the daemon;
 * kad: every stream finished), 1 otherwise, 2 on a setup error. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/kp-error.h"
#include "core/kp-kad-message.h"
#include "core/kp-mss.h"
#include "core/kp-noise.h"
#include "core/kp-varint.h"
#include "core/kp-yamux.h"
#include "dht/kp-record-store.h"
#include "net/kp-ping-service.h"

#define HOSTILE_PING_PROTOCOL  "/ipfs/ping/1.0.0"
#define HOSTILE_KAD_PROTOCOL   "/kameo/registry/1.0.0"
#define HOSTILE_YAMUX_PROTOCOL "/yamux/1.0.0"
/* The oversized DATA frame's announced length. */
#define HOSTILE_BIG_FRAME (100 * 1000 * 1000)
/* Kad streams open at once: well under the daemon's per-connection limits,
 * so the flood measures request handling, not stream refusal. */
#define HOSTILE_KAD_IN_FLIGHT 32

typedef struct {
        int fd;
        gint64 deadline_us;
        KpKeypair *identity;
        KpPeerId self;
        KpNoise *noise;
        GByteArray *plain; /* decrypted input not yet given to yamux */
} Peer;

static int
die(const char *what, const char *detail)
{
        fprintf(stderr, "hostile-peer: %s: %s\n", what, detail);
        return 2;
}

static gboolean
send_all(int fd, const guint8 *data, gsize len, gint64 deadline_us)
{
        while (len > 0) {
                struct pollfd p = { .fd = fd, .events = POLLOUT };
                gint64 left_ms = (deadline_us - g_get_monotonic_time()) / 1000;
                ssize_t n;
                if (left_ms <= 0)
                        return FALSE;
                if (poll(&p, 1, (int)left_ms) <= 0)
                        continue;
                n = send(fd, data, len, MSG_NOSIGNAL);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                if (n <= 0)
                        return FALSE;
                data += n;
                len -= (gsize)n;
        }
        return TRUE;
}

/* One read, waiting at most until the deadline: bytes read, 0 on EOF, -1
 * on error or timeout. */
static gssize
recv_some(int fd, guint8 *buf, gsize len, gint64 deadline_us)
{
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                gint64 left_ms = (deadline_us - g_get_monotonic_time()) / 1000;
                ssize_t n;
                if (left_ms <= 0) {
                        errno = ETIMEDOUT;
                        return -1;
                }
                if (poll(&p, 1, (int)MIN(left_ms, 100)) <= 0)
                        continue;
                n = recv(fd, buf, len, 0);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                return n;
        }
}

static int
connect_to(const char *bind_addr, int port)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((guint16)port) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        int err = 0;
        socklen_t errlen = sizeof err;

        if (fd < 0)
                return -1;
        if (bind_addr != NULL) {
                struct sockaddr_in src = { .sin_family = AF_INET };
                if (inet_pton(AF_INET, bind_addr, &src.sin_addr) != 1
                    || bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
                        close(fd);
                        return -1;
                }
        }
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
                close(fd);
                return -1;
        }
        if (poll(&p, 1, 5000) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0
            || err != 0) {
                close(fd);
                return -1;
        }
        return fd;
}

/* multistream-select for /noise, Noise XX with yamux chosen inside it. */
static gboolean
handshake(Peer *peer, GError **error)
{
        static const char *const noise_protocols[] = { KP_NOISE_PROTOCOL_ID, NULL };
        static const char *const muxers[] = { HOSTILE_YAMUX_PROTOCOL, NULL };
        g_autoptr(KpMss) mss = kp_mss_new_dialer(noise_protocols, TRUE);
        g_autoptr(GBytes) hello = kp_mss_take_output(mss);
        g_autoptr(GByteArray) out = g_byte_array_new();
        gint64 deadline_us = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
        const char *muxer;

        peer->noise = kp_noise_new_initiator(peer->identity, NULL, muxers);
        if (!kp_noise_start(peer->noise, error))
                return FALSE;
        g_byte_array_append(out, g_bytes_get_data(hello, NULL), g_bytes_get_size(hello));
        kp_noise_take_output(peer->noise, out);
        while (kp_noise_get_state(peer->noise) == KP_NOISE_STATE_HANDSHAKE) {
                guint8 buf[4096];
                gsize used = 0;
                gssize n;
                if (!send_all(peer->fd, out->data, out->len, deadline_us)) {
                        g_set_error(error, KP_ERROR, KP_ERROR_IO, "send failed");
                        return FALSE;
                }
                g_byte_array_set_size(out, 0);
                n = recv_some(peer->fd, buf, sizeof buf, deadline_us);
                if (n <= 0) {
                        g_set_error(error, KP_ERROR, KP_ERROR_CLOSED,
                                    "no answer to the handshake (%s)", n == 0 ? "EOF" : "timeout");
                        return FALSE;
                }
                if (kp_mss_get_state(mss) != KP_MSS_DONE
                    && !kp_mss_feed(mss, buf, (gsize)n, &used, error))
                        return FALSE;
                if (used < (gsize)n
                    && !kp_noise_feed(peer->noise, buf + used, (gsize)n - used, NULL, error))
                        return FALSE;
                kp_noise_take_output(peer->noise, out);
                kp_noise_take_plaintext(peer->noise, peer->plain);
        }
        /* message 3 */
        kp_noise_take_output(peer->noise, out);
        if (!send_all(peer->fd, out->data, out->len, deadline_us)) {
                g_set_error(error, KP_ERROR, KP_ERROR_IO, "send of message 3 failed");
                return FALSE;
        }
        muxer = kp_noise_select_muxer(peer->noise);
        if (g_strcmp0(muxer, HOSTILE_YAMUX_PROTOCOL) != 0) {
                g_set_error(error, KP_ERROR, KP_ERROR_NEGOTIATION,
                            "the daemon did not select yamux in the handshake");
                return FALSE;
        }
        return TRUE;
}

/* Encrypts whatever yamux has queued and appends it to @wire. */
static gboolean
take_yamux_output(Peer *peer, KpYamuxSession *yamux, GByteArray *wire, GError **error)
{
        const guint8 *data;
        gsize len = kp_yamux_session_pending_output(yamux, &data);

        if (len == 0)
                return TRUE;
        if (!kp_noise_encrypt(peer->noise, data, len, wire, error))
                return FALSE;
        kp_yamux_session_output_consumed(yamux, len);
        return TRUE;
}

/* Writes what the socket takes now without blocking; drops it from @wire. */
static gboolean
write_some(Peer *peer, GByteArray *wire)
{
        ssize_t n;

        if (wire->len == 0)
                return TRUE;
        n = send(peer->fd, wire->data, wire->len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR;
        g_byte_array_remove_range(wire, 0, (guint)n);
        return TRUE;
}

static void
mss_prefix(GByteArray *out, const char *protocol)
{
        kp_mss_encode_message(out, KP_MSS_PROTOCOL_ID);
        kp_mss_encode_message(out, protocol);
}

static int
run_window(Peer *peer, guint n_streams)
{
        g_autoptr(KpYamuxSession) yamux = kp_yamux_session_new(KP_YAMUX_ROLE_CLIENT);
        g_autoptr(GByteArray) wire = g_byte_array_new();
        g_autoptr(GByteArray) payload = g_byte_array_new();
        g_autoptr(GError) error = NULL;
        g_autofree guint32 *ids = g_new0(guint32, n_streams);
        g_autofree gsize *left = g_new0(gsize, n_streams);
        g_autofree char *id = kp_peer_id_to_string(&peer->self);
        guint64 written = 0;
        gboolean alive = TRUE;

        /* One window of data per stream: the negotiation, then ping
         * payloads the daemon echoes into a connection nobody reads. */
        mss_prefix(payload, HOSTILE_PING_PROTOCOL);
        while (payload->len + KP_PING_PAYLOAD_SIZE <= KP_YAMUX_INITIAL_WINDOW) {
                guint8 ping[KP_PING_PAYLOAD_SIZE];
                randombytes_buf(ping, sizeof ping);
                g_byte_array_append(payload, ping, sizeof ping);
        }
        for (guint i = 0; i < n_streams; i++) {
                ids[i] = kp_yamux_session_open_stream(yamux, &error);
                if (ids[i] == 0)
                        return die("open stream", error->message);
                left[i] = payload->len;
        }
        while (alive && g_get_monotonic_time() < peer->deadline_us) {
                struct pollfd p = { .fd = peer->fd, .events = POLLOUT };
                gboolean more = FALSE;
                for (guint i = 0; i < n_streams; i++) {
                        gssize n;
                        if (left[i] == 0)
                                continue;
                        n = kp_yamux_stream_write(
                            yamux, ids[i], payload->data + payload->len - left[i], left[i], &error);
                        if (n < 0)
                                return die("stream write", error->message);
                        left[i] -= (gsize)n;
                        more |= left[i] > 0;
                }
                if (!take_yamux_output(peer, yamux, wire, &error))
                        return die("encrypt", error->message);
                if (wire->len == 0 && !more) {
                        /* All written: hold the connection without reading. */
                        g_usleep(50000);
                        continue;
                }
                if (poll(&p, 1, 50) == 1) {
                        guint before = wire->len;
                        if (p.revents & (POLLERR | POLLHUP))
                                alive = FALSE;
                        else if (!write_some(peer, wire))
                                alive = FALSE;
                        written += before - wire->len;
                }
        }
        printf("window peer=%s streams=%u written=%" G_GUINT64_FORMAT "\n", id, n_streams, written);
        return written > 0 ? 0 : 1;
}

static int
run_bigframe(Peer *peer)
{
        KpYamuxHeader h = {
                .version = KP_YAMUX_VERSION,
                .type = KP_YAMUX_TYPE_DATA,
                .flags = KP_YAMUX_FLAG_SYN,
                .stream_id = 1,
                .length = HOSTILE_BIG_FRAME,
        };
        guint8 frame[KP_YAMUX_HEADER_SIZE + 64] = { 0 };
        g_autoptr(GByteArray) wire = g_byte_array_new();
        g_autoptr(GError) error = NULL;
        g_autofree char *id = kp_peer_id_to_string(&peer->self);
        const char *result = "timeout";

        /* The header and the first bytes of the frame it announces. */
        kp_yamux_header_encode(&h, frame);
        if (!kp_noise_encrypt(peer->noise, frame, sizeof frame, wire, &error))
                return die("encrypt", error->message);
        if (!send_all(peer->fd, wire->data, wire->len, peer->deadline_us))
                result = "closed";
        while (g_strcmp0(result, "timeout") == 0) {
                guint8 buf[4096];
                gssize n = recv_some(peer->fd, buf, sizeof buf, peer->deadline_us);
                if (n == 0 || (n < 0 && errno == ECONNRESET))
                        result = "closed";
                else if (n < 0)
                        break;
        }
        printf("bigframe peer=%s result=%s\n", id, result);
        return g_str_equal(result, "closed") ? 0 : 1;
}

/* The length-prefixed request @i: PUT_VALUE for even, ADD_PROVIDER for odd. */
static GBytes *
kad_request(Peer *peer, guint i, GError **error)
{
        g_autoptr(KpKadMessage) msg = NULL;
        g_autoptr(GBytes) body = NULL;
        g_autoptr(GByteArray) out = g_byte_array_new();

        if (i % 2 == 0) {
                g_autofree char *key = g_strdup_printf(KP_RECORD_NAMESPACE "flood-%u", i);
                g_autoptr(GBytes) k = g_bytes_new(key, strlen(key));
                g_autoptr(GBytes) v = g_bytes_new("flood", 5);
                msg = kp_kad_message_new(KP_KAD_PUT_VALUE, (const guint8 *)key, strlen(key));
                msg->record = kp_kad_record_new(k, v);
        } else {
                g_autofree char *key = g_strdup_printf("flood-%u", i);
                g_autoptr(KpMultiaddr) ma
                    = kp_multiaddr_new_from_string("/ip4/127.0.0.1/tcp/9", NULL);
                KpKadPeer *self = kp_kad_peer_new(&peer->self);
                kp_kad_peer_add_addr(self, ma);
                msg = kp_kad_message_new(KP_KAD_ADD_PROVIDER, (const guint8 *)key, strlen(key));
                g_ptr_array_add(msg->provider_peers, self);
        }
        body = kp_kad_message_encode(msg, error);
        if (body == NULL)
                return NULL;
        mss_prefix(out, HOSTILE_KAD_PROTOCOL);
        kp_varint_append(out, g_bytes_get_size(body));
        g_byte_array_append(out, g_bytes_get_data(body, NULL), g_bytes_get_size(body));
        return g_byte_array_free_to_bytes(g_steal_pointer(&out));
}

static int
run_kad(Peer *peer, guint n_requests)
{
        g_autoptr(KpYamuxSession) yamux = kp_yamux_session_new(KP_YAMUX_ROLE_CLIENT);
        g_autoptr(GByteArray) wire = g_byte_array_new();
        g_autoptr(GError) error = NULL;
        g_autoptr(GHashTable) open = g_hash_table_new(NULL, NULL); /* id -> answered */
        g_autofree char *id = kp_peer_id_to_string(&peer->self);
        guint sent = 0, finished = 0, answered = 0;
        gboolean eof = FALSE;

        while (finished < n_requests && !eof && g_get_monotonic_time() < peer->deadline_us) {
                struct pollfd p = { .fd = peer->fd, .events = POLLIN };
                KpYamuxEvent ev;
                while (sent < n_requests && g_hash_table_size(open) < HOSTILE_KAD_IN_FLIGHT) {
                        g_autoptr(GBytes) req = kad_request(peer, sent, &error);
                        guint32 sid;
                        if (req == NULL)
                                return die("kad request", error->message);
                        sid = kp_yamux_session_open_stream(yamux, &error);
                        if (sid == 0)
                                return die("open stream", error->message);
                        /* Small: the whole request fits the initial window. */
                        if (kp_yamux_stream_write(yamux, sid, g_bytes_get_data(req, NULL),
                                                  g_bytes_get_size(req), &error)
                                != (gssize)g_bytes_get_size(req)
                            || !kp_yamux_stream_close(yamux, sid, &error))
                                return die("stream write",
                                           error != NULL ? error->message : "cut short");
                        g_hash_table_insert(open, GUINT_TO_POINTER(sid), GINT_TO_POINTER(FALSE));
                        sent++;
                }
                if (!take_yamux_output(peer, yamux, wire, &error))
                        return die("encrypt", error->message);
                if (wire->len > 0)
                        p.events |= POLLOUT;
                if (poll(&p, 1, 50) <= 0)
                        continue;
                if ((p.revents & POLLOUT) && !write_some(peer, wire))
                        break;
                if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
                        guint8 buf[16384];
                        ssize_t n = recv(peer->fd, buf, sizeof buf, MSG_DONTWAIT);
                        if (n <= 0) {
                                eof = n == 0 || (errno != EAGAIN && errno != EINTR);
                                continue;
                        }
                        if (!kp_noise_feed(peer->noise, buf, (gsize)n, NULL, &error))
                                return die("decrypt", error->message);
                        kp_noise_take_plaintext(peer->noise, peer->plain);
                        if (!kp_yamux_session_feed(yamux, peer->plain->data, peer->plain->len,
                                                   g_get_monotonic_time(), &error))
                                return die("yamux", error->message);
                        g_byte_array_set_size(peer->plain, 0);
                }
                while (kp_yamux_session_next_event(yamux, &ev)) {
                        gpointer key = GUINT_TO_POINTER(ev.stream_id);
                        guint8 sink[4096];
                        switch (ev.kind) {
                        case KP_YAMUX_EVENT_STREAM_OPENED:
                                /* The daemon's own streams (identify): refused. */
                                kp_yamux_stream_reset(yamux, ev.stream_id, NULL);
                                kp_yamux_stream_release(yamux, ev.stream_id);
                                break;
                        case KP_YAMUX_EVENT_STREAM_READABLE:
                                if (kp_yamux_stream_read(yamux, ev.stream_id, sink, sizeof sink,
                                                         NULL)
                                        > 0
                                    && g_hash_table_contains(open, key))
                                        g_hash_table_insert(open, key, GINT_TO_POINTER(TRUE));
                                while (kp_yamux_stream_read(yamux, ev.stream_id, sink, sizeof sink,
                                                            NULL)
                                       > 0)
                                        ;
                                if (!kp_yamux_stream_is_eof(yamux, ev.stream_id))
                                        break;
                                G_GNUC_FALLTHROUGH;
                        case KP_YAMUX_EVENT_STREAM_CLOSED_BY_PEER:
                        case KP_YAMUX_EVENT_STREAM_RESET:
                                if (g_hash_table_contains(open, key)) {
                                        answered += GPOINTER_TO_INT(g_hash_table_lookup(open, key));
                                        g_hash_table_remove(open, key);
                                        finished++;
                                        kp_yamux_stream_release(yamux, ev.stream_id);
                                }
                                break;
                        case KP_YAMUX_EVENT_SESSION_ERROR:
                                return die("yamux", ev.error->message);
                        default:
                                break;
                        }
                }
        }
        printf("kad peer=%s sent=%u finished=%u answered=%u\n", id, sent, finished, answered);
        return finished == n_requests ? 0 : 1;
}

int
main(int argc, char **argv)
{
        g_autofree char *bind_addr = NULL;
        gint seconds = 10, n_streams = 64, n_requests = 1000;
        GOptionEntry entries[] = {
                { "bind", 'b', 0, G_OPTION_ARG_STRING, &bind_addr, "source address", "ADDR" },
                { "seconds", 's', 0, G_OPTION_ARG_INT, &seconds, "run at most this long", "S" },
                { "streams", 'n', 0, G_OPTION_ARG_INT, &n_streams, "window: streams", "N" },
                { "requests", 'r', 0, G_OPTION_ARG_INT, &n_requests, "kad: requests", "N" },
                { NULL },
        };
        g_autoptr(GOptionContext) ctx = g_option_context_new("window|bigframe|kad PORT");
        g_autoptr(GError) error = NULL;
        g_autoptr(GByteArray) plain = g_byte_array_new();
        g_autoptr(KpKeypair) identity = NULL;
        Peer peer = { 0 };
        const char *mode;
        int port, status;

        if (sodium_init() < 0)
                return 2;
        g_option_context_add_main_entries(ctx, entries, NULL);
        if (!g_option_context_parse(ctx, &argc, &argv, &error))
                return die("options", error->message);
        if (argc != 3 || seconds < 1 || seconds > 600 || n_streams < 1
            || n_streams > KP_YAMUX_MAX_STREAMS || n_requests < 1 || n_requests > 1000000)
                return die("usage", "hostile-peer [OPTIONS] window|bigframe|kad PORT");
        mode = argv[1];
        port = atoi(argv[2]);
        identity = kp_keypair_generate();
        peer.identity = identity;
        peer.plain = plain;
        kp_peer_id_from_public_key(kp_keypair_get_public_key(identity), &peer.self);
        peer.fd = connect_to(bind_addr, port);
        if (peer.fd < 0)
                return die("connect", g_strerror(errno));
        peer.deadline_us = g_get_monotonic_time() + (gint64)seconds * G_USEC_PER_SEC;
        if (!handshake(&peer, &error)) {
                close(peer.fd);
                kp_noise_free(peer.noise);
                return die("handshake", error->message);
        }
        if (g_str_equal(mode, "window"))
                status = run_window(&peer, (guint)n_streams);
        else if (g_str_equal(mode, "bigframe"))
                status = run_bigframe(&peer);
        else if (g_str_equal(mode, "kad"))
                status = run_kad(&peer, (guint)n_requests);
        else
                status = die("unknown mode", mode);
        close(peer.fd);
        kp_noise_free(peer.noise);
        return status;
}
