/* multistream-select 1.0 (/multistream/1.0.0), sans-I/O.
 *
 * Specs: libp2p/specs connections/README.md, multiformats/multistream-select
 * README.md. Every message is <uvarint n><n bytes>, the n bytes ending in '\n'.
 *
 * Usage: create a dialer or listener, write out whatever kp_mss_take_output()
 * returns, and feed every received byte to kp_mss_feed(). Once the state is
 * KP_MSS_DONE, feed() stops consuming at the end of the last negotiation
 * message: the bytes it did not consume are the first bytes of the selected
 * protocol and belong to the caller.
 *
 * Not implemented: a dialer sending "ls" (only the listener answers it), and
 * the simultaneous-open extension ("iamclient", "select:"); both are refused
 * as protocol errors if received. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define KP_MSS_PROTOCOL_ID "/multistream/1.0.0"

/* Largest accepted message, counting the trailing newline. go-multistream
 * allows 64 KiB, but protocol ids are short; a length prefix above this is
 * refused as soon as it is read, before any body is buffered. */
#define KP_MSS_MAX_MESSAGE 1024

/* A listener answers at most this many "na" and "ls" in total on one
 * stream; the next proposal it cannot accept fails the negotiation. This
 * bounds the work (and the "ls" output) one dialer can cause. */
#define KP_MSS_MAX_ATTEMPTS 16

typedef enum {
        KP_MSS_NEGOTIATING,
        KP_MSS_DONE,
        KP_MSS_FAILED,
} KpMssState;

typedef struct _KpMss KpMss;

/* Extra acceptance test for a listener, after exact matching against its
 * list has failed (the spec's "match function"). @protocol is already
 * validated: printable ASCII starting with '/'. */
typedef gboolean (*KpMssMatchFunc)(const char *protocol, gpointer user_data);

/* @protocols: NULL-terminated, in order of preference, at least one; each
 * must satisfy kp_mss_protocol_id_is_valid(). The header and the first
 * proposal are queued for output at once (the listener's header is not
 * waited for, as the spec allows).
 *
 * @lazy (optimistic, "V1Lazy"): needs exactly one protocol. The caller may
 * write application data right after the first output without waiting for
 * the listener (kp_mss_may_send() is TRUE at once). The state still
 * becomes DONE only when the listener's header and echo have been fed;
 * a "na" fails the negotiation. */
KpMss *kp_mss_new_dialer(const char *const *protocols, gboolean lazy);

/* @protocols: NULL-terminated supported ids (may be empty), answered to
 * "ls" in this order. The listener's header is queued for output at once. */
KpMss *kp_mss_new_listener(const char *const *protocols);

/* As kp_mss_new_listener(), but shares @protocols (of char*; a reference is
 * taken) instead of copying and checking it for every negotiation: its owner
 * has checked every id with kp_mss_protocol_id_is_valid() and replaces the
 * array rather than changing it. */
KpMss *kp_mss_new_listener_shared(GPtrArray *protocols);
/* The same for a dialer (kp_mss_new_dialer()): @protocols is proposed in
 * order, and must hold exactly one id when @lazy. */
KpMss *kp_mss_new_dialer_shared(GPtrArray *protocols, gboolean lazy);

/* Listener only. @destroy is called on @user_data when @mss is freed. */
void kp_mss_set_match_func(KpMss *mss, KpMssMatchFunc func, gpointer user_data,
                           GDestroyNotify destroy);

void kp_mss_free(KpMss *mss);

/* Consumes bytes until negotiation ends (or all of @len). On success
 * *@ret_consumed is how many were used: always @len while still negotiating,
 * possibly fewer once DONE (and 0 if called when already DONE). On failure
 * the state is FAILED, *@ret_consumed is untouched, and every later call
 * returns the same error. */
gboolean kp_mss_feed(KpMss *mss, const guint8 *data, gsize len, gsize *ret_consumed,
                     GError **error);

/* The peer closed its side. Fails (KP_ERROR_TRUNCATED inside a message,
 * KP_ERROR_CLOSED between messages) unless negotiation is already DONE. */
gboolean kp_mss_feed_eof(KpMss *mss, GError **error);

/* Bytes to write to the peer, in order, or NULL when there are none. */
GBytes *kp_mss_take_output(KpMss *mss);

/* The same bytes without a copy: valid until the next call on @mss; then
 * kp_mss_output_consumed() once they are written. */
gsize kp_mss_peek_output(KpMss *mss, const guint8 **ret_data);
void kp_mss_output_consumed(KpMss *mss);

KpMssState kp_mss_get_state(KpMss *mss);

/* The agreed protocol once DONE, else NULL; for a lazy dialer, its single
 * protocol from the start (it is already speaking it). */
const char *kp_mss_get_protocol(KpMss *mss);
/* The agreed protocol (KP_MSS_DONE only), handed over: @mss is to be freed
 * next, and kp_mss_get_protocol() then returns NULL. */
char *kp_mss_steal_protocol(KpMss *mss);

/* TRUE when the caller may write application data: DONE, or a lazy dialer
 * that has not failed. */
gboolean kp_mss_may_send(KpMss *mss);

/* Printable ASCII (0x20..0x7e), starts with '/', and fits a message. */
gboolean kp_mss_protocol_id_is_valid(const char *protocol);

/* Appends <uvarint strlen+1><line>\n. */
void kp_mss_encode_message(GByteArray *out, const char *line_without_newline);

/* Reads one message from a complete buffer at *@pos, advancing it; the line
 * is returned without its newline. Enforces KP_MSS_MAX_MESSAGE, minimal
 * varints and the trailing newline; running out of bytes is
 * KP_ERROR_TRUNCATED. The line is not otherwise checked (it may hold any
 * byte but NUL is refused). */
gboolean kp_mss_decode_message(const guint8 *buf, gsize len, gsize *pos, char **ret_line,
                               GError **error);

/* Parses the body of an "ls" response (the message payload, trailing newline
 * included). Wire format, as go-multistream and rust-libp2p send it (the
 * README's count-prefixed "ls example in detail" is not what implementations
 * speak): one message whose body is <uvarint len(p)+1><p>\n for each protocol
 * p, then a final \n. */
GStrv kp_mss_parse_ls(const guint8 *body, gsize len, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpMss, kp_mss_free)

G_END_DECLS
