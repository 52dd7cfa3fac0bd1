#include "core/kp-lp.h"

#include "core/kp-error.h"
#include "core/kp-varint.h"

void
kp_lp_reader_init(KpLpReader *reader, gsize max_message)
{
        reader->max_message = max_message;
        reader->partial = NULL;
}

void
kp_lp_reader_clear(KpLpReader *reader)
{
        g_clear_pointer(&reader->partial, g_byte_array_unref);
}

gboolean
kp_lp_reader_has_partial(const KpLpReader *reader)
{
        return reader->partial != NULL && reader->partial->len > 0;
}

/* Parses the prefix of @buf: TRUE with *@ret_body_len set, or *@ret_prefix_len
 * 0 while the prefix is incomplete. */
static gboolean
parse_prefix(const KpLpReader *reader, const guint8 *buf, gsize len, gsize *ret_prefix_len,
             gsize *ret_body_len, GError **error)
{
        guint64 body_len = 0;
        gssize n = kp_varint_decode(buf, len, &body_len, error);

        if (n < 0) {
                g_prefix_error(error, "message length prefix: ");
                return FALSE;
        }
        if (n > 0 && body_len > reader->max_message) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "message of %" G_GUINT64_FORMAT " bytes exceeds limit %" G_GSIZE_FORMAT,
                            body_len, reader->max_message);
                return FALSE;
        }
        *ret_prefix_len = (gsize)n;
        *ret_body_len = (gsize)body_len;
        return TRUE;
}

gboolean
kp_lp_reader_feed(KpLpReader *reader, const guint8 *data, gsize len, gsize *ret_consumed,
                  GBytes **ret_message, GError **error)
{
        gsize prefix_len = 0, body_len = 0, take;

        *ret_message = NULL;
        *ret_consumed = 0;
        if (!kp_lp_reader_has_partial(reader)) {
                /* Fast path: a whole message in @data is returned without a copy
                 * into the reader. */
                if (!parse_prefix(reader, data, len, &prefix_len, &body_len, error))
                        return FALSE;
                if (prefix_len > 0 && len - prefix_len >= body_len) {
                        *ret_message = g_bytes_new(data + prefix_len, body_len);
                        *ret_consumed = prefix_len + body_len;
                        return TRUE;
                }
                if (reader->partial == NULL)
                        reader->partial = g_byte_array_new();
                g_byte_array_append(reader->partial, data, (guint)len);
                *ret_consumed = len;
                return TRUE;
        }

        /* Complete the prefix a byte at a time, then the body in one go. */
        for (take = 0; take < len;) {
                if (!parse_prefix(reader, reader->partial->data, reader->partial->len, &prefix_len,
                                  &body_len, error))
                        return FALSE;
                if (prefix_len > 0)
                        break;
                g_byte_array_append(reader->partial, data + take, 1);
                take++;
        }
        if (!parse_prefix(reader, reader->partial->data, reader->partial->len, &prefix_len,
                          &body_len, error))
                return FALSE;
        if (prefix_len == 0) {
                *ret_consumed = take;
                return TRUE;
        }
        {
                gsize have = reader->partial->len - prefix_len;
                gsize want = body_len - have;
                gsize chunk = MIN(want, len - take);

                g_byte_array_append(reader->partial, data + take, (guint)chunk);
                take += chunk;
                if (chunk == want) {
                        *ret_message = g_bytes_new(reader->partial->data + prefix_len, body_len);
                        g_byte_array_set_size(reader->partial, 0);
                }
        }
        *ret_consumed = take;
        return TRUE;
}

void
kp_lp_append(GByteArray *out, const guint8 *body, gsize len)
{
        kp_varint_append(out, len);
        g_byte_array_append(out, body, (guint)len);
}
