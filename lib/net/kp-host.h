/* The libp2p host: listens and dials TCP, upgrades each connection
 * (multistream-select -> /noise -> yamux, with Noise early muxer negotiation
 * when both sides offer it) and hands negotiated streams to the protocol
 * handlers registered on it. Single-threaded, on the thread-default main
 * context. */
#pragma once

#include <gio/gio.h>

#include "core/kp-keys.h"
#include "core/kp-multiaddr.h"
#include "core/kp-peer-id.h"

G_BEGIN_DECLS

#define KP_YAMUX_PROTOCOL_ID "/yamux/1.0.0"
/* A connection whose security and muxer are not in place by then is closed
 * (the default; kp_host_set_handshake_timeout() changes it within the
 * bounds below). */
/* Single-protocol proposal lists a host keeps for its streams
 * (kp_host_get_dial_protocols()); past this many they are made per stream. */
#define KP_HOST_MAX_DIAL_PROTOCOLS 32

#define KP_HOST_HANDSHAKE_TIMEOUT_MS     10000
#define KP_HOST_HANDSHAKE_TIMEOUT_MIN_MS 100
#define KP_HOST_HANDSHAKE_TIMEOUT_MAX_MS (10 * 60 * 1000)
/* A connection that receives nothing for this long is closed. */
#define KP_HOST_IDLE_TIMEOUT_MS     (5 * 60 * 1000)
#define KP_HOST_IDLE_TIMEOUT_MIN_MS 1000
#define KP_HOST_IDLE_TIMEOUT_MAX_MS (24 * 60 * 60 * 1000)
/* Connections (pending and established, both directions) at once. A new
 * inbound socket past a limit is closed before a byte is read, with a
 * reason logged; an outbound dial fails past KP_HOST_MAX_CONNECTIONS only.
 * 16384 descriptors fit the usual hard RLIMIT_NOFILE of 65536 or more. */
#define KP_HOST_MAX_CONNECTIONS 16384
/* From one remote IP address (an IPv4-mapped IPv6 address counts as its
 * IPv4 address). */
#define KP_HOST_MAX_CONNECTIONS_PER_IP 256
/* Connections still in the handshake (multistream-select, Noise, muxer):
 * each costs Noise work, so fewer of them are allowed than connections. */
#define KP_HOST_MAX_PENDING_HANDSHAKES        1024
#define KP_HOST_MAX_PENDING_HANDSHAKES_PER_IP 64
/* Bounds of every connection and handshake count in KpHostLimits. */
#define KP_HOST_LIMIT_COUNT_MIN 1
#define KP_HOST_LIMIT_COUNT_MAX (1024 * 1024)
/* Refusals are logged at most once per interval and reason; the ones in
 * between are summed up in one line at the end of the interval. */
#define KP_HOST_REFUSAL_LOG_INTERVAL_MS 1000
/* A dial (resolve + TCP connect + handshake) that takes longer fails. */
#define KP_HOST_DIAL_TIMEOUT_MS 10000
/* Interface addresses can change (DHCP, a new link): they are re-read after
 * this long, so identify answers follow within it. */
#define KP_HOST_ADVERTISED_ADDRS_TTL_MS 10000
/* Inbound connections accepted per wakeup of a listening socket, so a flood
 * of connects holds the main loop for a short while only (a few hundred
 * microseconds) before established connections are served again. */
#define KP_HOST_ACCEPT_BATCH 16
/* Handshakes that ran out of time, closed per wakeup of the host's one
 * handshake deadline timer: the burst of connections made together that
 * time out together is spread over several main loop iterations. */
#define KP_HOST_HANDSHAKE_EXPIRE_BATCH 16
/* GLib priority of listening sockets and of connections in their handshake.
 * The main loop dispatches only the most urgent of the ready sources per
 * iteration, so traffic of established connections (G_PRIORITY_DEFAULT) is
 * served before the next batch of accepts or handshake messages: a flood of
 * connects or of garbage delays established peers by one batch at most.
 * New peers wait while established ones keep the loop busy (load shedding:
 * their connects queue in the kernel's backlog); the handshake deadlines run
 * at G_PRIORITY_DEFAULT, so stalled handshakes are closed on time even
 * then. */
#define KP_HOST_PRIORITY_HANDSHAKE (G_PRIORITY_DEFAULT + 10)
/* After a failed accept (out of file descriptors, memory) the listener
 * pauses this long instead of spinning on its still-readable socket. */
#define KP_HOST_ACCEPT_BACKOFF_MS 100

typedef struct _KpHost KpHost;
typedef struct _KpConnection KpConnection;
typedef struct _KpStream KpStream;

typedef enum {
        KP_CONNECTION_INBOUND,
        KP_CONNECTION_OUTBOUND,
} KpConnectionDirection;

/* ---- streams ---------------------------------------------------------- */

typedef struct {
        /* The protocol is agreed (outbound streams; inbound ones are handed
         * to their handler already negotiated). Optional. */
        void (*negotiated)(KpStream *stream, gpointer user_data);
        /* Bytes arrived; valid only during the call. */
        void (*data)(KpStream *stream, const guint8 *data, gsize len, gpointer user_data);
        /* The peer closed its write side; no more data. Optional. */
        void (*eof)(KpStream *stream, gpointer user_data);
        /* Final: the stream is finished (error NULL: both sides closed
         * cleanly) or failed (reset, negotiation failed, connection lost).
         * The connection drops its reference after this. */
        void (*closed)(KpStream *stream, const GError *error, gpointer user_data);
} KpStreamCallbacks;

KpStream *kp_stream_ref(KpStream *stream);
void kp_stream_unref(KpStream *stream);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpStream, kp_stream_unref)

void kp_stream_set_callbacks(KpStream *stream, const KpStreamCallbacks *callbacks,
                             gpointer user_data);
/* Queues @data (buffered while negotiation or flow control holds it back). */
void kp_stream_write(KpStream *stream, const guint8 *data, gsize len);
/* Half-close after everything written so far. */
void kp_stream_close_write(KpStream *stream);
void kp_stream_reset(KpStream *stream);
/* NULL until negotiated. */
const char *kp_stream_get_protocol(KpStream *stream);
KpConnection *kp_stream_get_connection(KpStream *stream);
guint32 kp_stream_get_id(KpStream *stream);
gsize kp_stream_get_write_queued(KpStream *stream);

/* ---- connections ------------------------------------------------------ */

KpConnection *kp_connection_ref(KpConnection *conn);
void kp_connection_unref(KpConnection *conn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpConnection, kp_connection_unref)

const KpPeerId *kp_connection_get_remote_peer_id(KpConnection *conn);
const KpPublicKey *kp_connection_get_remote_public_key(KpConnection *conn);
const KpMultiaddr *kp_connection_get_remote_addr(KpConnection *conn);
const KpMultiaddr *kp_connection_get_local_addr(KpConnection *conn);
KpConnectionDirection kp_connection_get_direction(KpConnection *conn);
gboolean kp_connection_is_open(KpConnection *conn);
/* Microseconds from the TCP connect to a secure, multiplexed connection. */
gint64 kp_connection_get_upgrade_us(KpConnection *conn);
KpHost *kp_connection_get_host(KpConnection *conn);

/* Output written between these two calls (they nest) leaves together at
 * the last release: one Noise message and one send. Opening a stream,
 * writing a request and closing it so makes one yamux frame. */
void kp_connection_hold_output(KpConnection *conn);
void kp_connection_release_output(KpConnection *conn);
/* Writes what is pending at once, even while input is being handled, where
 * output otherwise waits for the end of the read to share one write: for a
 * request or reply with nothing to share it with, which then leaves before
 * the rest of the read's bookkeeping. */
void kp_connection_flush_now(KpConnection *conn);
/* Streams open on the connection. */
guint kp_connection_get_n_streams(KpConnection *conn);

/* Opens a stream proposing @protocols in order. With one protocol the
 * proposal travels with the first data (no round trip). NULL with @error
 * when the connection cannot open more streams. */
KpStream *kp_connection_open_stream(KpConnection *conn, const char *const *protocols,
                                    const KpStreamCallbacks *callbacks, gpointer user_data,
                                    GError **error);
/* Sends a yamux GO_AWAY and closes the socket; streams get closed(error). */
void kp_connection_close(KpConnection *conn);

/* ---- the host --------------------------------------------------------- */

/* An inbound stream negotiated to a registered protocol: the handler sets
 * callbacks on it (and may keep a reference). */
typedef void (*KpStreamHandlerFunc)(KpStream *stream, gpointer user_data);

typedef struct {
        /* A connection is secure and multiplexed (both directions). */
        void (*connection_established)(KpHost *host, KpConnection *conn, gpointer user_data);
        /* A connection ended (error NULL for a clean close). */
        void (*connection_closed)(KpHost *host, KpConnection *conn, const GError *error,
                                  gpointer user_data);
        /* An inbound connection failed before it was established. */
        void (*handshake_failed)(KpHost *host, const KpMultiaddr *remote, const GError *error,
                                 gpointer user_data);
} KpHostCallbacks;

/* What peers may cost the host. kp_host_limits_init() fills in the
 * defaults, the named constants above (and KP_YAMUX_MAX_STREAMS). */
typedef struct {
        guint max_connections;               /* KP_HOST_LIMIT_COUNT_MIN .. _MAX */
        guint max_connections_per_ip;        /* KP_HOST_LIMIT_COUNT_MIN .. _MAX */
        guint max_pending_handshakes;        /* KP_HOST_LIMIT_COUNT_MIN .. _MAX */
        guint max_pending_handshakes_per_ip; /* KP_HOST_LIMIT_COUNT_MIN .. _MAX */
        guint handshake_timeout_ms;          /* KP_HOST_HANDSHAKE_TIMEOUT_MIN_MS .. _MAX_MS */
        guint idle_timeout_ms;               /* KP_HOST_IDLE_TIMEOUT_MIN_MS .. _MAX_MS */
        guint max_streams_per_connection;    /* KP_YAMUX_MAX_STREAMS_MIN .. _MAX */
} KpHostLimits;

void kp_host_limits_init(KpHostLimits *limits);
/* FALSE with KP_ERROR_INVALID naming the first field out of its bounds. */
gboolean kp_host_limits_validate(const KpHostLimits *limits, GError **error);

/* Copies nothing: @identity must outlive the host. */
KpHost *kp_host_new(const KpKeypair *identity);
void kp_host_free(KpHost *host);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpHost, kp_host_free)

/* @limits must pass kp_host_limits_validate(). Counts apply to the next
 * accept or dial, timeouts and the stream limit to connections accepted or
 * dialled from now on. */
void kp_host_set_limits(KpHost *host, const KpHostLimits *limits);
const KpHostLimits *kp_host_get_limits(KpHost *host);
/* Only the handshake timeout; @ms must be within
 * KP_HOST_HANDSHAKE_TIMEOUT_MIN_MS .. KP_HOST_HANDSHAKE_TIMEOUT_MAX_MS. */
void kp_host_set_handshake_timeout(KpHost *host, guint ms);
guint kp_host_get_handshake_timeout(KpHost *host);
/* Connections still in their handshake, in total or from @ip (text form,
 * IPv4-mapped IPv6 given as IPv4; NULL: in total). */
guint kp_host_get_n_pending_handshakes(KpHost *host, const char *ip);
/* Connections (pending and established) from or to @ip. */
guint kp_host_get_n_connections_for_ip(KpHost *host, const char *ip);
/* Inbound connections refused for a limit since the host was made. */
guint64 kp_host_get_n_refused(KpHost *host);

const KpPeerId *kp_host_get_peer_id(KpHost *host);
const KpKeypair *kp_host_get_identity(KpHost *host);
void kp_host_add_callbacks(KpHost *host, const KpHostCallbacks *callbacks, gpointer user_data);

void kp_host_set_stream_handler(KpHost *host, const char *protocol, KpStreamHandlerFunc func,
                                gpointer user_data);
/* The registered protocols, sorted. */
const char *const *kp_host_get_protocols(KpHost *host);
/* The same as an array (of char*) for kp_mss_new_listener_shared(); a new
 * one replaces it when a handler is added. */
GPtrArray *kp_host_get_protocol_list(KpHost *host);
/* @protocols (NULL-terminated, at least one) as a checked array for
 * kp_mss_new_dialer_shared(), a new reference; NULL with @error when an id
 * is not a valid protocol id. A single protocol is kept by the host and
 * shared by every stream that proposes it. */
GPtrArray *kp_host_get_dial_protocols(KpHost *host, const char *const *protocols, GError **error);

/* Binds and listens; tcp/0 picks a free port. */
gboolean kp_host_listen(KpHost *host, const KpMultiaddr *addr, GError **error);
/* Listens on an already bound, listening socket (socket activation). */
gboolean kp_host_listen_socket(KpHost *host, GSocket *socket, GError **error);
/* The bound addresses (with real ports), without /p2p. */
GPtrArray *kp_host_get_listen_addrs(KpHost *host);
/* Where others can reach us: the bound addresses, with unspecified ones
 * (0.0.0.0, ::) expanded to this machine's interface addresses, read again
 * at most every KP_HOST_ADVERTISED_ADDRS_TTL_MS. */
GPtrArray *kp_host_get_advertised_addrs(KpHost *host);

/* Dials @addr; when it ends in /p2p/<id> the remote must prove that id
 * (else KP_ERROR_PEER_ID_MISMATCH). An open connection to that peer is
 * reused. */
void kp_host_dial_async(KpHost *host, const KpMultiaddr *addr, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data);
KpConnection *kp_host_dial_finish(KpHost *host, GAsyncResult *result, GError **error);

/* An open connection to @peer, or NULL. */
KpConnection *kp_host_get_connection(KpHost *host, const KpPeerId *peer);
guint kp_host_get_n_connections(KpHost *host);
void kp_host_close_all(KpHost *host);

G_END_DECLS
