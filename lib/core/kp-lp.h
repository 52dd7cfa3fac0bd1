/* Varint-length-prefixed messages on a byte stream (identify, kad): a reader
 * that reassembles them from any chunking, refusing a length over its limit
 * as soon as the prefix is read, before buffering anything. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
        gsize max_message;
        GByteArray *partial; /* prefix and body bytes so far; NULL when empty */
} KpLpReader;

void kp_lp_reader_init(KpLpReader *reader, gsize max_message);
void kp_lp_reader_clear(KpLpReader *reader);

/* Consume bytes from @data until one whole message is read. Returns TRUE with
 * *@ret_message (NULL while incomplete) and *@ret_consumed bytes used;
 * FALSE with @error for a bad prefix or an oversized length. Call again with
 * the rest of @data for further messages. */
gboolean kp_lp_reader_feed(KpLpReader *reader, const guint8 *data, gsize len, gsize *ret_consumed,
                           GBytes **ret_message, GError **error);
/* TRUE when bytes of an unfinished message are buffered. */
gboolean kp_lp_reader_has_partial(const KpLpReader *reader);

void kp_lp_append(GByteArray *out, const guint8 *body, gsize len);

G_END_DECLS
