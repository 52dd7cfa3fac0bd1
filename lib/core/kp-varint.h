/* Unsigned varint (multiformats/unsigned-varint): LEB128, at most 9 bytes,
 * minimal encoding only, so values are below 2^63. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define KP_VARINT_MAX_BYTES 9
#define KP_VARINT_MAX_VALUE ((guint64)G_MAXINT64)

/* Streaming decode. Returns the number of bytes consumed (> 0), 0 when
 * @len bytes are a valid but incomplete prefix, or -1 with @error set
 * (non-minimal, longer than 9 bytes). @ret_value is set only on success. */
gssize kp_varint_decode(const guint8 *buf, gsize len, guint64 *ret_value, GError **error);

/* Decode from a complete buffer, advancing *@pos; running out of bytes is an
 * error (KP_ERROR_TRUNCATED). */
gboolean kp_varint_read(const guint8 *buf, gsize len, gsize *pos, guint64 *ret_value,
                        GError **error);

/* @value must be at most KP_VARINT_MAX_VALUE. Returns the bytes written. */
gsize kp_varint_encode(guint64 value, guint8 out[KP_VARINT_MAX_BYTES]);
gsize kp_varint_size(guint64 value);
void kp_varint_append(GByteArray *out, guint64 value);

G_END_DECLS
