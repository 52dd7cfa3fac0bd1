/* yamux stream multiplexer (hashicorp/yamux spec.md, libp2p /yamux/1.0.0) as a
 * sans-I/O session: bytes go in with kp_yamux_session_feed(), whole frames come
 * out of one ordered output queue, and what happened is polled as events.
 * No sockets and no clock: the host passes the monotonic time in.
 *
 * Output: kp_yamux_session_pending_output() returns the queued bytes (whole
 * frames only, several small frames coalesced into one contiguous buffer) and
 * kp_yamux_session_output_consumed() drops what the host has written. Frames
 * never interleave because there is only this one queue.
 *
 * Opening: kp_yamux_session_open_stream() only allocates an id. The SYN goes out
 * on the stream's first frame: the first DATA of kp_yamux_stream_write(), or a
 * flag-only WINDOW_UPDATE from kp_yamux_stream_write() with length 0,
 * kp_yamux_stream_close() or a window update. Inbound streams are acknowledged
 * the same way (libp2p: no implicit ACK before the application answers); until
 * then they count against KP_YAMUX_MAX_ACK_BACKLOG.
 *
 * Receiving: the window is credit, not memory. A stream buffers only the bytes
 * that arrived, at most the KP_YAMUX_INITIAL_WINDOW bytes of credit we gave;
 * reading (kp_yamux_stream_read, or peek + consume) returns credit with a
 * WINDOW_UPDATE once half the window has been consumed.
 *
 * Sending (back-pressure): kp_yamux_stream_write() queues nothing beyond the
 * peer's window. It returns how many bytes it accepted, at most the stream's
 * send window and at most the room left under KP_YAMUX_OUTPUT_HIGH_WATER in
 * the output queue; the host keeps the rest and retries after
 * KP_YAMUX_EVENT_STREAM_WRITABLE.
 *
 * Stream records: every stream the host opened or was told about
 * (KP_YAMUX_EVENT_STREAM_OPENED) stays until the host calls
 * kp_yamux_stream_release(), so ids and user_data in events stay valid.
 *
 * Strictness: PING and GO_AWAY must use stream 0, a PING carries exactly one
 * of SYN and ACK, SYN needs a fresh id of the peer's parity, ACK only answers
 * our SYN; flag bits beyond the four defined ones are ignored. Frames for a
 * stream that existed but is gone (reset, released, refused) are dropped
 * quietly since they may have been in flight; frames for an id never opened
 * are a protocol error.
 *
 * Errors: a peer breaking the protocol makes feed() fail; a GO_AWAY with
 * KP_YAMUX_GO_AWAY_PROTOCOL_ERROR is queued, KP_YAMUX_EVENT_SESSION_ERROR is
 * raised and the session is failed for good (later feeds repeat the error). The
 * host should write out the pending output and close the connection. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define KP_YAMUX_VERSION     0
#define KP_YAMUX_HEADER_SIZE 12

/* Per-stream window both sides assume at the start: 256 KiB exactly (256000
 * is a known interop bug). We never advertise more than this. */
#define KP_YAMUX_INITIAL_WINDOW 262144

/* A DATA frame can never be longer than the credit we ever give, so anything
 * longer is refused from the header alone, before buffering a byte. */
#define KP_YAMUX_MAX_FRAME KP_YAMUX_INITIAL_WINDOW

/* Stream records per session by default (kp_yamux_session_set_max_streams()),
 * both directions; an inbound SYN beyond it gets
 * RST. With receive buffering bounded by the window this caps a session's
 * receive memory at 256 * 256 KiB = 64 MiB even if the host never reads. */
#define KP_YAMUX_MAX_STREAMS 256
/* Bounds of kp_yamux_session_set_max_streams(): past 1024 one session could
 * hold 256 MiB of received data. */
#define KP_YAMUX_MAX_STREAMS_MIN 1
#define KP_YAMUX_MAX_STREAMS_MAX 1024

/* Inbound streams not yet acknowledged (the host has not written, closed or
 * accepted them); an inbound SYN beyond it gets RST. The libp2p yamux spec
 * lets an opener have up to 256 streams unacknowledged, so a receiver that
 * reset earlier would refuse a conforming peer's burst (a kpingctl -l 240
 * session opens its asks in one write). */
#define KP_YAMUX_MAX_ACK_BACKLOG 256

/* Our DATA frames carry at most this much payload, so one large write does not
 * hold up other streams' frames for long on the peer's side. */
#define KP_YAMUX_MAX_SEND_FRAME 16384

/* kp_yamux_stream_write() accepts nothing more while the output queue holds
 * this much; STREAM_WRITABLE follows once it drains below half of it. */
#define KP_YAMUX_OUTPUT_HIGH_WATER (1024 * 1024)

/* Frames queued in reply to the peer (PING ACKs, RSTs for refused streams)
 * may not grow the output queue past this: a peer that floods us while not
 * reading our answers fails the session instead of growing memory. */
#define KP_YAMUX_MAX_OUTPUT_BACKLOG (4 * 1024 * 1024)

/* Our own pings awaiting their ACK. */
#define KP_YAMUX_MAX_PENDING_PINGS 16

typedef enum {
        KP_YAMUX_TYPE_DATA = 0x0,
        KP_YAMUX_TYPE_WINDOW_UPDATE = 0x1,
        KP_YAMUX_TYPE_PING = 0x2,
        KP_YAMUX_TYPE_GO_AWAY = 0x3,
} KpYamuxType;

typedef enum {
        KP_YAMUX_FLAG_SYN = 0x1,
        KP_YAMUX_FLAG_ACK = 0x2,
        KP_YAMUX_FLAG_FIN = 0x4,
        KP_YAMUX_FLAG_RST = 0x8,
} KpYamuxFlags;

typedef enum {
        KP_YAMUX_GO_AWAY_NORMAL = 0x0,
        KP_YAMUX_GO_AWAY_PROTOCOL_ERROR = 0x1,
        KP_YAMUX_GO_AWAY_INTERNAL_ERROR = 0x2,
} KpYamuxGoAwayCode;

/* The client (dialer) opens odd stream ids, the server (listener) even ones. */
typedef enum {
        KP_YAMUX_ROLE_CLIENT,
        KP_YAMUX_ROLE_SERVER,
} KpYamuxRole;

typedef struct {
        guint8 version;
        guint8 type;
        guint16 flags;
        guint32 stream_id;
        guint32 length;
} KpYamuxHeader;

/* Big-endian 12-byte header. decode() checks nothing: the session does. */
void kp_yamux_header_encode(const KpYamuxHeader *header, guint8 out[KP_YAMUX_HEADER_SIZE]);
void kp_yamux_header_decode(const guint8 in[KP_YAMUX_HEADER_SIZE], KpYamuxHeader *ret_header);

typedef enum {
        KP_YAMUX_EVENT_STREAM_OPENED,         /* inbound SYN: a new stream, not yet ACKed */
        KP_YAMUX_EVENT_STREAM_READABLE,       /* data is buffered on stream_id */
        KP_YAMUX_EVENT_STREAM_WRITABLE,       /* a write that was cut short may continue */
        KP_YAMUX_EVENT_STREAM_CLOSED_BY_PEER, /* FIN: nothing more will arrive after the buffer */
        KP_YAMUX_EVENT_STREAM_RESET,          /* RST from the peer (or our SYN refused) */
        KP_YAMUX_EVENT_PING_ACK,              /* the answer to kp_yamux_session_ping() */
        KP_YAMUX_EVENT_GO_AWAY_RECEIVED,      /* no new streams either way from now on */
        KP_YAMUX_EVENT_SESSION_ERROR,         /* the session failed; see error */
} KpYamuxEventKind;

typedef struct {
        KpYamuxEventKind kind;
        guint32 stream_id;  /* STREAM_* */
        gpointer user_data; /* STREAM_*: the stream's user_data when the event is taken */
        guint32 ping_opaque;
        gint64 ping_sent_us;     /* PING_ACK: now_us given to kp_yamux_session_ping() */
        gint64 ping_received_us; /* PING_ACK: now_us given to the feed that had the ACK */
        gint64 rtt_us;           /* PING_ACK: received - sent */
        guint32 go_away_code;    /* GO_AWAY_RECEIVED: a KpYamuxGoAwayCode, or unknown */
        const GError *error;     /* SESSION_ERROR: owned by the session */
} KpYamuxEvent;

typedef enum {
        KP_YAMUX_STREAM_STATE_OPEN,          /* both directions open */
        KP_YAMUX_STREAM_STATE_LOCAL_CLOSED,  /* we sent FIN, can still read */
        KP_YAMUX_STREAM_STATE_REMOTE_CLOSED, /* the peer sent FIN, we can still write */
        KP_YAMUX_STREAM_STATE_CLOSED,        /* both FINs */
        KP_YAMUX_STREAM_STATE_RESET,         /* RST either way; or the session failed */
} KpYamuxStreamState;

typedef struct _KpYamuxSession KpYamuxSession;

KpYamuxSession *kp_yamux_session_new(KpYamuxRole role);
void kp_yamux_session_free(KpYamuxSession *session);

/* Any chunking, down to a byte at a time. FALSE with @error (and the session
 * failed) when the peer broke the protocol: KP_ERROR_PROTOCOL,
 * KP_ERROR_UNSUPPORTED (version), KP_ERROR_TOO_LARGE (frame or backlog
 * limits). @now_us is the monotonic time, used for ping round trips. */
gboolean kp_yamux_session_feed(KpYamuxSession *session, const guint8 *data, gsize len,
                               gint64 now_us, GError **error);

/* The queued output, whole frames in order; *@ret_data stays valid until the
 * next call into the session. */
gsize kp_yamux_session_pending_output(KpYamuxSession *session, const guint8 **ret_data);
void kp_yamux_session_output_consumed(KpYamuxSession *session, gsize n);

/* FALSE when no event is queued. */
gboolean kp_yamux_session_next_event(KpYamuxSession *session, KpYamuxEvent *ret_event);

/* Sends a PING with SYN and returns its opaque value; the ACK comes back as
 * KP_YAMUX_EVENT_PING_ACK. KP_ERROR_TOO_LARGE with too many pings pending. */
gboolean kp_yamux_session_ping(KpYamuxSession *session, gint64 now_us, guint32 *ret_opaque,
                               GError **error);

/* Sends GO_AWAY once (later calls do nothing): no new streams either way,
 * inbound SYNs get RST from now on; existing streams carry on. */
void kp_yamux_session_go_away(KpYamuxSession *session, KpYamuxGoAwayCode code);

/* NULL unless the session failed. */
const GError *kp_yamux_session_get_error(KpYamuxSession *session);
guint kp_yamux_session_get_n_streams(KpYamuxSession *session);
/* Received bytes buffered over all streams, awaiting the host's reads. */
gsize kp_yamux_session_get_buffered(KpYamuxSession *session);
/* Stream records allowed at once (default KP_YAMUX_MAX_STREAMS), within
 * KP_YAMUX_MAX_STREAMS_MIN .. KP_YAMUX_MAX_STREAMS_MAX. Lowering it below the
 * streams already open refuses new ones until enough are released. */
void kp_yamux_session_set_max_streams(KpYamuxSession *session, guint max_streams);
guint kp_yamux_session_get_max_streams(KpYamuxSession *session);
/* Inbound SYNs answered with RST because of the stream limit or the ACK
 * backlog (not those refused after a GO_AWAY), so the host can log them. */
guint64 kp_yamux_session_get_n_refused(KpYamuxSession *session);

/* Allocates the next id of our parity; 0 with @error: KP_ERROR_CLOSED (GO_AWAY
 * or failed session), KP_ERROR_TOO_LARGE (the stream limit, ids used up). */
guint32 kp_yamux_session_open_stream(KpYamuxSession *session, GError **error);

/* Returns the bytes accepted (0 to @len, see back-pressure above) or -1 with
 * @error: KP_ERROR_NOT_FOUND, KP_ERROR_CLOSED (after close, reset, failure).
 * A write of 0 bytes sends a pending SYN or ACK alone, which is how the host
 * accepts an inbound stream without writing. */
gssize kp_yamux_stream_write(KpYamuxSession *session, guint32 stream_id, const guint8 *data,
                             gsize len, GError **error);

/* Copies out up to @len buffered bytes. 0 means nothing buffered right now
 * (see kp_yamux_stream_is_eof); -1 with @error: KP_ERROR_NOT_FOUND, or
 * KP_ERROR_CLOSED once reset. */
gssize kp_yamux_stream_read(KpYamuxSession *session, guint32 stream_id, guint8 *buf, gsize len,
                            GError **error);
/* Zero-copy reading: all buffered bytes, valid until the next call into the
 * session; then consume what was used. */
gsize kp_yamux_stream_peek(KpYamuxSession *session, guint32 stream_id, const guint8 **ret_data);
void kp_yamux_stream_consume(KpYamuxSession *session, guint32 stream_id, gsize n);
/* The peer sent FIN and every byte before it has been read. */
gboolean kp_yamux_stream_is_eof(KpYamuxSession *session, guint32 stream_id);

/* Half-close: FIN (with a pending SYN/ACK). Closing twice does nothing. */
gboolean kp_yamux_stream_close(KpYamuxSession *session, guint32 stream_id, GError **error);
/* RST (nothing is sent for a stream whose SYN never went out); buffered data
 * is dropped. Resetting twice does nothing. */
gboolean kp_yamux_stream_reset(KpYamuxSession *session, guint32 stream_id, GError **error);

/* The host is done with the stream and its id. A stream we never closed is
 * reset. One we closed while the peer has not is kept out of sight until the
 * peer's FIN or RST, its data discarded and its credit returned, so that a
 * graceful close stays graceful. Events still queued for it are dropped. */
void kp_yamux_stream_release(KpYamuxSession *session, guint32 stream_id);

gboolean kp_yamux_stream_get_state(KpYamuxSession *session, guint32 stream_id,
                                   KpYamuxStreamState *ret_state);
/* Our outbound stream has been acknowledged, or an inbound one has been by us. */
gboolean kp_yamux_stream_is_acked(KpYamuxSession *session, guint32 stream_id);
gsize kp_yamux_stream_get_readable(KpYamuxSession *session, guint32 stream_id);
/* Bytes the peer still lets us send. */
guint32 kp_yamux_stream_get_send_window(KpYamuxSession *session, guint32 stream_id);
gboolean kp_yamux_stream_set_user_data(KpYamuxSession *session, guint32 stream_id,
                                       gpointer user_data);
gpointer kp_yamux_stream_get_user_data(KpYamuxSession *session, guint32 stream_id);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpYamuxSession, kp_yamux_session_free)

G_END_DECLS
