/* Internals shared by kp-host.c, kp-connection.c and kp-stream.c. */
#pragma once

#include "core/kp-mss.h"
#include "core/kp-noise.h"
#include "core/kp-yamux.h"
#include "net/kp-deadlines.h"
#include "net/kp-host.h"
#include "net/kp-socket-pump.h"

/* The reused plaintext buffer keeps at most this much capacity between
 * reads, so an idle connection holds little memory. */
#define KP_CONNECTION_KEEP_BUFFER 4096

/* Output produced while handling input is written once this much is
 * pending, not only at the end of the read (see kp_connection_flush). */
#define KP_CONNECTION_EARLY_FLUSH_BYTES 4096

typedef enum {
        KP_CONNECTION_STAGE_SECURITY, /* multistream-select for /noise */
        KP_CONNECTION_STAGE_NOISE,    /* Noise XX handshake */
        KP_CONNECTION_STAGE_MUXER,    /* multistream-select for /yamux/1.0.0, encrypted */
        KP_CONNECTION_STAGE_OPEN,     /* yamux */
        KP_CONNECTION_STAGE_CLOSED,
} KpConnectionStage;

/* What the host learns from a connection; the host sets these. */
typedef struct {
        void (*established)(KpConnection *conn, gpointer user_data);
        void (*closed)(KpConnection *conn, const GError *error, gpointer user_data);
} KpConnectionHostCallbacks;

struct _KpConnection {
        gint ref_count;
        KpHost *host;
        KpConnectionHostCallbacks host_callbacks;
        gpointer host_data;

        KpConnectionDirection direction;
        KpConnectionStage stage;
        KpSocketPump *pump;
        KpMultiaddr *remote_addr;
        KpMultiaddr *local_addr;
        gboolean has_expected_peer;
        KpPeerId expected_peer;
        KpPeerId remote_peer;
        gint64 connected_us;
        gint64 upgrade_us;

        KpMss *mss;
        KpNoise *noise;
        KpYamuxSession *yamux;
        GHashTable *streams; /* stream id -> KpStream* (owned) */

        KpDeadline idle_deadline; /* in the host's idle deadlines once open */
        guint idle_timeout_ms;    /* the host's when the connection was made */
        guint64 n_refused_logged; /* yamux's refused stream count, as logged */
        gint64 last_input_us;
        guint dispatch_depth; /* > 0 while handling input: flush once at the end */
        guint output_held;    /* kp_connection_hold_output() calls not yet released */
        GByteArray *scratch;  /* plaintext, and ciphertext on the way out */
        GByteArray *plain;    /* decrypted input, reused across reads */
};

struct _KpStream {
        gint ref_count;
        KpConnection *conn; /* NULL once closed */
        guint32 id;
        gboolean outbound;
        KpMss *mss;     /* until negotiated */
        char *protocol; /* once negotiated */
        KpStreamCallbacks callbacks;
        gpointer user_data;
        GByteArray *pending; /* written but not yet accepted by yamux */
        GByteArray *held;    /* written before the protocol was agreed */
        gboolean close_requested;
        gboolean eof_seen;
        gboolean finished;
};

KpConnection *kp_connection_new(KpHost *host, GSocketConnection *socket_conn,
                                KpConnectionDirection direction, const KpPeerId *expected,
                                const KpConnectionHostCallbacks *callbacks, gpointer user_data,
                                GError **error);
void kp_connection_start(KpConnection *conn);
/* Ends the connection with @error (its streams, socket; the host is told). */
void kp_connection_abort(KpConnection *conn, const GError *error);
/* Writes out what yamux has queued, unless input is being handled (then it
 * happens once at the end, so replies share one Noise frame and one send). */
void kp_connection_flush(KpConnection *conn);

KpStream *kp_stream_new(KpConnection *conn, guint32 id, gboolean outbound);
/* Drives a stream after yamux reported something for it. */
void kp_stream_on_readable(KpStream *stream);
void kp_stream_on_writable(KpStream *stream);
void kp_stream_on_peer_closed(KpStream *stream);
void kp_stream_finish(KpStream *stream, const GError *error);
/* Feeds the listener negotiation with host's protocols. */
void kp_stream_start_inbound(KpStream *stream);
gboolean kp_stream_start_outbound(KpStream *stream, const char *const *protocols, GError **error);

/* kp-host.c */
KpStreamHandlerFunc kp_host_lookup_handler(KpHost *host, const char *protocol,
                                           gpointer *ret_user_data);
/* The host's Noise static key, signed once, for every connection. */
KpNoiseStaticKey *kp_host_get_noise_static_key(KpHost *host);
/* The idle timeouts of the host's open connections: one main-loop timer for
 * all of them, not a GSource each that every loop iteration visits. */
KpDeadlines *kp_host_get_idle_deadlines(KpHost *host);

/* kp-connection.c: the KpDeadlineFunc of kp_host_get_idle_deadlines(). */
void kp_connection_on_idle_deadline(gpointer data, gpointer user_data);

/* Why a connection or stream was refused: one rate-limited log line each. */
typedef enum {
        KP_HOST_REFUSAL_CONNECTIONS,
        KP_HOST_REFUSAL_CONNECTIONS_PER_IP,
        KP_HOST_REFUSAL_PENDING,
        KP_HOST_REFUSAL_PENDING_PER_IP,
        KP_HOST_REFUSAL_STREAMS,
        KP_HOST_REFUSAL_N,
} KpHostRefusal;

/* Logs @text about @remote (@count refusals) at most once per
 * KP_HOST_REFUSAL_LOG_INTERVAL_MS for @reason; the rest are summed up. */
void kp_host_log_refusal(KpHost *host, KpHostRefusal reason, guint count, const char *remote,
                         const char *text);
