#include "core/kp-mss.h"

#include <string.h>

#include "core/kp-error.h"
#include "core/kp-varint.h"

/* Bytes of a length prefix that can still describe a length within
 * KP_MSS_MAX_MESSAGE; an incomplete prefix this long is already too big. */
#define KP_MSS_MAX_PREFIX 2
G_STATIC_ASSERT(KP_MSS_MAX_MESSAGE < (1 << (7 * KP_MSS_MAX_PREFIX)));
G_STATIC_ASSERT(KP_MSS_MAX_MESSAGE >= (1 << (7 * (KP_MSS_MAX_PREFIX - 1))));

/* Received text quoted in error messages is cut to this many bytes. */
#define KP_MSS_MAX_QUOTE 64

/* The header and a proposal or two fit without reallocating the output. */
#define KP_MSS_OUT_RESERVE 128

typedef enum {
        KP_MSS_ROLE_DIALER,
        KP_MSS_ROLE_LISTENER,
} KpMssRole;

typedef enum {
        KP_MSS_PHASE_HEADER,   /* waiting for the peer's header */
        KP_MSS_PHASE_RESPONSE, /* dialer: waiting for echo or na */
        KP_MSS_PHASE_PROPOSAL, /* listener: waiting for a proposal or ls */
} KpMssPhase;

struct _KpMss {
        KpMssRole role;
        gboolean lazy;
        KpMssState state;
        KpMssPhase phase;
        GPtrArray *protocols; /* of char*: proposals, or the supported set */
        guint proposal;       /* dialer: index of the outstanding proposal */
        guint attempts;       /* listener: na and ls answered so far */
        KpMssMatchFunc match_func;
        gpointer match_data;
        GDestroyNotify match_destroy;
        GByteArray *out;
        char *protocol;
        GError *failure;

        /* the message being received, when it arrives in pieces */
        guint8 prefix[KP_VARINT_MAX_BYTES];
        gsize prefix_len;
        gboolean have_len;
        gsize body_len;
        gsize body_have;
        guint8 *body; /* KP_MSS_MAX_MESSAGE bytes, allocated on first need */
};

static char *
kp_mss_quote(const guint8 *buf, gsize len)
{
        GString *s = g_string_new("\"");
        gsize n = MIN(len, KP_MSS_MAX_QUOTE);

        for (gsize i = 0; i < n; i++) {
                guint8 c = buf[i];
                if (c >= 0x20 && c <= 0x7e && c != '"' && c != '\\')
                        g_string_append_c(s, (char)c);
                else if (c == '\n')
                        g_string_append(s, "\\n");
                else
                        g_string_append_printf(s, "\\x%02x", c);
        }
        g_string_append_c(s, '"');
        if (n < len)
                g_string_append_printf(s, "... (%" G_GSIZE_FORMAT " bytes)", len);
        return g_string_free(s, FALSE);
}

static gboolean
kp_mss_is_printable(const guint8 *buf, gsize len, gsize *ret_bad)
{
        for (gsize i = 0; i < len; i++) {
                if (buf[i] < 0x20 || buf[i] > 0x7e) {
                        *ret_bad = i;
                        return FALSE;
                }
        }
        return TRUE;
}

gboolean
kp_mss_protocol_id_is_valid(const char *protocol)
{
        gsize len, bad;

        if (protocol == NULL || protocol[0] != '/')
                return FALSE;
        len = strlen(protocol);
        if (len + 1 > KP_MSS_MAX_MESSAGE)
                return FALSE;
        return kp_mss_is_printable((const guint8 *)protocol, len, &bad);
}

static void
kp_mss_encode_bytes(GByteArray *out, const guint8 *body, gsize len)
{
        static const guint8 nl = '\n';

        kp_varint_append(out, (guint64)len + 1);
        g_byte_array_append(out, body, (guint)len);
        g_byte_array_append(out, &nl, 1);
}

void
kp_mss_encode_message(GByteArray *out, const char *line_without_newline)
{
        g_return_if_fail(out != NULL);
        g_return_if_fail(line_without_newline != NULL);
        kp_mss_encode_bytes(out, (const guint8 *)line_without_newline,
                            strlen(line_without_newline));
}

/* KP_MSS_PROTOCOL_ID as a message (length, text, newline): every stream
 * starts with it. */
static const guint8 kp_mss_header[] = "\x13" KP_MSS_PROTOCOL_ID "\n";
G_STATIC_ASSERT(sizeof kp_mss_header - 1 == 1 + sizeof KP_MSS_PROTOCOL_ID);
G_STATIC_ASSERT(sizeof KP_MSS_PROTOCOL_ID == 0x13);

/* Takes @protocols. */
static KpMss *
kp_mss_new(KpMssRole role, GPtrArray *protocols)
{
        KpMss *mss = g_new0(KpMss, 1);

        mss->role = role;
        mss->state = KP_MSS_NEGOTIATING;
        mss->phase = KP_MSS_PHASE_HEADER;
        mss->protocols = protocols;
        mss->out = g_byte_array_sized_new(KP_MSS_OUT_RESERVE);
        g_byte_array_append(mss->out, kp_mss_header, sizeof kp_mss_header - 1);
        return mss;
}

static GPtrArray *
kp_mss_copy_protocols(const char *const *protocols)
{
        GPtrArray *copy = g_ptr_array_new_with_free_func(g_free);

        for (gsize i = 0; protocols[i] != NULL; i++)
                g_ptr_array_add(copy, g_strdup(protocols[i]));
        return copy;
}

static gboolean
kp_mss_protocols_are_valid(const char *const *protocols)
{
        for (gsize i = 0; protocols[i] != NULL; i++) {
                if (!kp_mss_protocol_id_is_valid(protocols[i]))
                        return FALSE;
        }
        return TRUE;
}

KpMss *
kp_mss_new_dialer(const char *const *protocols, gboolean lazy)
{
        KpMss *mss;

        g_return_val_if_fail(protocols != NULL && protocols[0] != NULL, NULL);
        g_return_val_if_fail(!lazy || protocols[1] == NULL, NULL);
        g_return_val_if_fail(kp_mss_protocols_are_valid(protocols), NULL);

        mss = kp_mss_new(KP_MSS_ROLE_DIALER, kp_mss_copy_protocols(protocols));
        mss->lazy = lazy;
        kp_mss_encode_message(mss->out, protocols[0]);
        return mss;
}

KpMss *
kp_mss_new_dialer_shared(GPtrArray *protocols, gboolean lazy)
{
        KpMss *mss;

        g_return_val_if_fail(protocols != NULL && protocols->len > 0, NULL);
        g_return_val_if_fail(!lazy || protocols->len == 1, NULL);

        mss = kp_mss_new(KP_MSS_ROLE_DIALER, g_ptr_array_ref(protocols));
        mss->lazy = lazy;
        kp_mss_encode_message(mss->out, g_ptr_array_index(protocols, 0));
        return mss;
}

KpMss *
kp_mss_new_listener(const char *const *protocols)
{
        g_return_val_if_fail(protocols != NULL, NULL);
        g_return_val_if_fail(kp_mss_protocols_are_valid(protocols), NULL);
        return kp_mss_new(KP_MSS_ROLE_LISTENER, kp_mss_copy_protocols(protocols));
}

KpMss *
kp_mss_new_listener_shared(GPtrArray *protocols)
{
        g_return_val_if_fail(protocols != NULL, NULL);
        return kp_mss_new(KP_MSS_ROLE_LISTENER, g_ptr_array_ref(protocols));
}

void
kp_mss_set_match_func(KpMss *mss, KpMssMatchFunc func, gpointer user_data, GDestroyNotify destroy)
{
        g_return_if_fail(mss != NULL);
        g_return_if_fail(mss->role == KP_MSS_ROLE_LISTENER);

        if (mss->match_destroy != NULL)
                mss->match_destroy(mss->match_data);
        mss->match_func = func;
        mss->match_data = user_data;
        mss->match_destroy = destroy;
}

void
kp_mss_free(KpMss *mss)
{
        if (mss == NULL)
                return;
        if (mss->match_destroy != NULL)
                mss->match_destroy(mss->match_data);
        g_ptr_array_unref(mss->protocols);
        g_byte_array_unref(mss->out);
        g_free(mss->body);
        g_free(mss->protocol);
        g_clear_error(&mss->failure);
        g_free(mss);
}

GBytes *
kp_mss_take_output(KpMss *mss)
{
        GBytes *bytes;

        g_return_val_if_fail(mss != NULL, NULL);

        if (mss->out->len == 0)
                return NULL;
        bytes = g_byte_array_free_to_bytes(mss->out);
        mss->out = g_byte_array_new();
        return bytes;
}

gsize
kp_mss_peek_output(KpMss *mss, const guint8 **ret_data)
{
        g_return_val_if_fail(mss != NULL, 0);

        *ret_data = mss->out->data;
        return mss->out->len;
}

void
kp_mss_output_consumed(KpMss *mss)
{
        g_return_if_fail(mss != NULL);
        g_byte_array_set_size(mss->out, 0);
}

KpMssState
kp_mss_get_state(KpMss *mss)
{
        g_return_val_if_fail(mss != NULL, KP_MSS_FAILED);
        return mss->state;
}

const char *
kp_mss_get_protocol(KpMss *mss)
{
        g_return_val_if_fail(mss != NULL, NULL);

        if (mss->state == KP_MSS_DONE)
                return mss->protocol;
        if (mss->state == KP_MSS_NEGOTIATING && mss->lazy)
                return g_ptr_array_index(mss->protocols, 0);
        return NULL;
}

char *
kp_mss_steal_protocol(KpMss *mss)
{
        g_return_val_if_fail(mss != NULL && mss->state == KP_MSS_DONE, NULL);
        return g_steal_pointer(&mss->protocol);
}

gboolean
kp_mss_may_send(KpMss *mss)
{
        g_return_val_if_fail(mss != NULL, FALSE);
        return mss->state == KP_MSS_DONE || (mss->state == KP_MSS_NEGOTIATING && mss->lazy);
}

/* Takes @error, records it as the reason for failure, and hands a copy to
 * the caller. */
static gboolean
kp_mss_fail(KpMss *mss, GError *error, GError **ret_error)
{
        mss->state = KP_MSS_FAILED;
        g_clear_error(&mss->failure);
        mss->failure = error;
        if (ret_error != NULL)
                *ret_error = g_error_copy(error);
        return FALSE;
}

G_GNUC_PRINTF(4, 5)
static gboolean
kp_mss_failf(KpMss *mss, GError **error, KpError code, const char *format, ...)
{
        va_list args;
        g_autofree char *msg = NULL;

        va_start(args, format);
        msg = g_strdup_vprintf(format, args);
        va_end(args);
        return kp_mss_fail(mss, g_error_new(KP_ERROR, code, "multistream-select: %s", msg), error);
}

static gboolean
kp_mss_line_is(const guint8 *line, gsize len, const char *text)
{
        return len == strlen(text) && memcmp(line, text, len) == 0;
}

static gboolean
kp_mss_check_header(KpMss *mss, const guint8 *line, gsize len, GError **error)
{
        g_autofree char *quoted = NULL;

        if (kp_mss_line_is(line, len, KP_MSS_PROTOCOL_ID))
                return TRUE;
        quoted = kp_mss_quote(line, len);
        return kp_mss_failf(mss, error, KP_ERROR_NEGOTIATION, "expected header \"%s\", received %s",
                            KP_MSS_PROTOCOL_ID, quoted);
}

static gboolean
kp_mss_dialer_handle(KpMss *mss, const guint8 *line, gsize len, GError **error)
{
        const char *proposal = g_ptr_array_index(mss->protocols, mss->proposal);
        g_autofree char *quoted = NULL;

        if (kp_mss_line_is(line, len, proposal)) {
                mss->protocol = g_strdup(proposal);
                mss->state = KP_MSS_DONE;
                return TRUE;
        }
        if (kp_mss_line_is(line, len, "na")) {
                g_autoptr(GString) offered = NULL;

                mss->proposal++;
                if (mss->proposal < mss->protocols->len) {
                        kp_mss_encode_message(mss->out,
                                              g_ptr_array_index(mss->protocols, mss->proposal));
                        return TRUE;
                }
                offered = g_string_new(NULL);
                for (guint i = 0; i < mss->protocols->len; i++) {
                        if (i > 0)
                                g_string_append(offered, ", ");
                        g_string_append(offered, g_ptr_array_index(mss->protocols, i));
                }
                return kp_mss_failf(mss, error, KP_ERROR_NEGOTIATION,
                                    "no protocol in common: offered %s", offered->str);
        }
        quoted = kp_mss_quote(line, len);
        return kp_mss_failf(mss, error, KP_ERROR_PROTOCOL,
                            "expected \"%s\" or \"na\" from listener, received %s", proposal,
                            quoted);
}

static gboolean
kp_mss_listener_accepts(KpMss *mss, const guint8 *line, gsize len, const char *proposal)
{
        for (guint i = 0; i < mss->protocols->len; i++) {
                if (kp_mss_line_is(line, len, g_ptr_array_index(mss->protocols, i)))
                        return TRUE;
        }
        return mss->match_func != NULL && mss->match_func(proposal, mss->match_data);
}

static void
kp_mss_listener_send_ls(KpMss *mss)
{
        g_autoptr(GByteArray) body = g_byte_array_new();

        for (guint i = 0; i < mss->protocols->len; i++)
                kp_mss_encode_message(body, g_ptr_array_index(mss->protocols, i));
        /* the closing newline of the list is the message's own newline */
        kp_mss_encode_bytes(mss->out, body->data, body->len);
}

static gboolean
kp_mss_listener_handle(KpMss *mss, const guint8 *line, gsize len, GError **error)
{
        g_autofree char *proposal = NULL;
        gboolean is_ls = kp_mss_line_is(line, len, "ls");

        if (!is_ls && (len == 0 || line[0] != '/')) {
                g_autofree char *quoted = kp_mss_quote(line, len);
                return kp_mss_failf(mss, error, KP_ERROR_PROTOCOL,
                                    "expected a protocol id or \"ls\" from dialer, received %s",
                                    quoted);
        }
        proposal = g_strndup((const char *)line, len);
        if (!is_ls && kp_mss_listener_accepts(mss, line, len, proposal)) {
                kp_mss_encode_bytes(mss->out, line, len);
                mss->protocol = g_steal_pointer(&proposal);
                mss->state = KP_MSS_DONE;
                return TRUE;
        }
        if (mss->attempts >= KP_MSS_MAX_ATTEMPTS) {
                g_autofree char *quoted = kp_mss_quote(line, len);
                return kp_mss_failf(mss, error, KP_ERROR_TOO_LARGE,
                                    "dialer exceeded %d rejected attempts (last %s)",
                                    KP_MSS_MAX_ATTEMPTS, quoted);
        }
        mss->attempts++;
        if (is_ls)
                kp_mss_listener_send_ls(mss);
        else
                kp_mss_encode_message(mss->out, "na");
        return TRUE;
}

/* @body is a complete message, newline included. */
static gboolean
kp_mss_handle_message(KpMss *mss, const guint8 *body, gsize len, GError **error)
{
        gsize line_len = len - 1;
        gsize bad;

        if (body[line_len] != '\n') {
                g_autofree char *quoted = kp_mss_quote(body, len);
                return kp_mss_failf(mss, error, KP_ERROR_INVALID,
                                    "message does not end in a newline: %s", quoted);
        }
        if (mss->phase == KP_MSS_PHASE_HEADER) {
                if (!kp_mss_check_header(mss, body, line_len, error))
                        return FALSE;
                mss->phase = mss->role == KP_MSS_ROLE_DIALER ? KP_MSS_PHASE_RESPONSE
                                                             : KP_MSS_PHASE_PROPOSAL;
                return TRUE;
        }
        if (!kp_mss_is_printable(body, line_len, &bad)) {
                g_autofree char *quoted = kp_mss_quote(body, line_len);
                return kp_mss_failf(mss, error, KP_ERROR_INVALID,
                                    "non-printable byte 0x%02x at offset %" G_GSIZE_FORMAT
                                    " in message %s",
                                    body[bad], bad, quoted);
        }
        if (mss->role == KP_MSS_ROLE_DIALER)
                return kp_mss_dialer_handle(mss, body, line_len, error);
        return kp_mss_listener_handle(mss, body, line_len, error);
}

static gboolean
kp_mss_check_length(KpMss *mss, guint64 value, GError **error)
{
        if (value > KP_MSS_MAX_MESSAGE) {
                return kp_mss_failf(mss, error, KP_ERROR_TOO_LARGE,
                                    "message length %" G_GUINT64_FORMAT " exceeds limit %d", value,
                                    KP_MSS_MAX_MESSAGE);
        }
        if (value == 0) {
                return kp_mss_failf(mss, error, KP_ERROR_INVALID,
                                    "empty message (length 0, no newline)");
        }
        return TRUE;
}

gboolean
kp_mss_feed(KpMss *mss, const guint8 *data, gsize len, gsize *ret_consumed, GError **error)
{
        gsize pos = 0;

        g_return_val_if_fail(mss != NULL, FALSE);
        g_return_val_if_fail(data != NULL || len == 0, FALSE);

        if (mss->state == KP_MSS_FAILED) {
                g_propagate_error(error, g_error_copy(mss->failure));
                return FALSE;
        }
        while (mss->state == KP_MSS_NEGOTIATING && pos < len) {
                gsize take;

                /* A whole message in @data (the usual case) is handled where
                 * it lies; anything else, errors included, takes the path
                 * below that collects a message byte by byte. */
                if (!mss->have_len && mss->prefix_len == 0) {
                        guint64 value = 0;
                        gssize n = kp_varint_decode(data + pos, MIN(len - pos, KP_MSS_MAX_PREFIX),
                                                    &value, NULL);

                        if (n > 0 && value > 0 && value <= KP_MSS_MAX_MESSAGE
                            && value <= len - pos - (gsize)n) {
                                pos += (gsize)n + (gsize)value;
                                if (!kp_mss_handle_message(mss, data + pos - value, (gsize)value,
                                                           error))
                                        return FALSE;
                                continue;
                        }
                }
                if (!mss->have_len) {
                        g_autoptr(GError) error_local = NULL;
                        guint64 value = 0;
                        gssize n;

                        mss->prefix[mss->prefix_len++] = data[pos++];
                        n = kp_varint_decode(mss->prefix, mss->prefix_len, &value, &error_local);
                        if (n < 0) {
                                return kp_mss_failf(mss, error, error_local->code,
                                                    "message length: %s", error_local->message);
                        }
                        if (n == 0) {
                                if (mss->prefix_len >= KP_MSS_MAX_PREFIX) {
                                        return kp_mss_failf(
                                            mss, error, KP_ERROR_TOO_LARGE,
                                            "message length prefix longer than %d bytes "
                                            "exceeds limit %d",
                                            KP_MSS_MAX_PREFIX, KP_MSS_MAX_MESSAGE);
                                }
                                continue;
                        }
                        if (!kp_mss_check_length(mss, value, error))
                                return FALSE;
                        mss->have_len = TRUE;
                        mss->body_len = (gsize)value;
                        mss->body_have = 0;
                        continue;
                }
                take = MIN(mss->body_len - mss->body_have, len - pos);
                if (mss->body == NULL)
                        mss->body = g_malloc(KP_MSS_MAX_MESSAGE);
                memcpy(mss->body + mss->body_have, data + pos, take);
                mss->body_have += take;
                pos += take;
                if (mss->body_have < mss->body_len)
                        break;
                mss->have_len = FALSE;
                mss->prefix_len = 0;
                if (!kp_mss_handle_message(mss, mss->body, mss->body_len, error))
                        return FALSE;
        }
        if (ret_consumed != NULL)
                *ret_consumed = pos;
        return TRUE;
}

gboolean
kp_mss_feed_eof(KpMss *mss, GError **error)
{
        g_return_val_if_fail(mss != NULL, FALSE);

        switch (mss->state) {
        case KP_MSS_DONE:
                return TRUE;
        case KP_MSS_FAILED:
                g_propagate_error(error, g_error_copy(mss->failure));
                return FALSE;
        case KP_MSS_NEGOTIATING:
                break;
        }
        if (mss->have_len) {
                return kp_mss_failf(mss, error, KP_ERROR_TRUNCATED,
                                    "stream ended inside a message (%" G_GSIZE_FORMAT
                                    " of %" G_GSIZE_FORMAT " bytes)",
                                    mss->body_have, mss->body_len);
        }
        if (mss->prefix_len > 0) {
                return kp_mss_failf(mss, error, KP_ERROR_TRUNCATED,
                                    "stream ended inside a message length prefix");
        }
        return kp_mss_failf(mss, error, KP_ERROR_CLOSED,
                            "peer closed the stream before negotiation finished");
}

gboolean
kp_mss_decode_message(const guint8 *buf, gsize len, gsize *pos, char **ret_line, GError **error)
{
        guint64 value;
        gsize p;

        g_return_val_if_fail(buf != NULL || len == 0, FALSE);
        g_return_val_if_fail(pos != NULL && *pos <= len, FALSE);

        p = *pos;
        if (!kp_varint_read(buf, len, &p, &value, error)) {
                g_prefix_error(error, "multistream-select: message length: ");
                return FALSE;
        }
        if (value > KP_MSS_MAX_MESSAGE) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "multistream-select: message length %" G_GUINT64_FORMAT
                            " exceeds limit %d",
                            value, KP_MSS_MAX_MESSAGE);
                return FALSE;
        }
        if (value == 0) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "multistream-select: empty message (length 0, no newline)");
                return FALSE;
        }
        if (value > len - p) {
                g_set_error(error, KP_ERROR, KP_ERROR_TRUNCATED,
                            "multistream-select: message of %" G_GUINT64_FORMAT
                            " bytes truncated to %" G_GSIZE_FORMAT,
                            value, len - p);
                return FALSE;
        }
        if (buf[p + value - 1] != '\n') {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "multistream-select: message does not end in a newline");
                return FALSE;
        }
        if (memchr(buf + p, '\0', (gsize)value - 1) != NULL) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "multistream-select: message contains a NUL byte");
                return FALSE;
        }
        if (ret_line != NULL)
                *ret_line = g_strndup((const char *)buf + p, (gsize)value - 1);
        *pos = p + (gsize)value;
        return TRUE;
}

GStrv
kp_mss_parse_ls(const guint8 *body, gsize len, GError **error)
{
        g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
        gsize pos = 0;

        g_return_val_if_fail(body != NULL || len == 0, NULL);

        if (len == 0 || body[len - 1] != '\n') {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "multistream-select: ls response: does not end in a newline");
                return NULL;
        }
        while (pos < len - 1) {
                g_autoptr(GError) error_local = NULL;
                g_autofree char *line = NULL;

                if (!kp_mss_decode_message(body, len - 1, &pos, &line, &error_local)) {
                        const char *prefix = "multistream-select: ";
                        const char *detail = error_local->message;

                        if (g_str_has_prefix(detail, prefix))
                                detail += strlen(prefix);
                        g_set_error(error, KP_ERROR, error_local->code,
                                    "multistream-select: ls response: %s", detail);
                        return NULL;
                }
                if (!kp_mss_protocol_id_is_valid(line)) {
                        g_autofree char *quoted = kp_mss_quote((const guint8 *)line, strlen(line));
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "multistream-select: ls response: invalid protocol id %s",
                                    quoted);
                        return NULL;
                }
                g_strv_builder_add(builder, line);
        }
        return g_strv_builder_end(builder);
}
