/* multibase: base58btc ('z') and base32 lower-case unpadded ('b'). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Base58 decoding is quadratic in the length: texts longer than this are
 * refused before any work is done. Peer ids and CIDs are under 100 chars. */
#define KP_MULTIBASE_MAX_TEXT 1024

typedef enum {
        KP_MULTIBASE_BASE58BTC = 'z',
        KP_MULTIBASE_BASE32 = 'b',
} KpMultibase;

char *kp_base58btc_encode(const guint8 *data, gsize len);
GBytes *kp_base58btc_decode(const char *text, gsize len, GError **error);
char *kp_base32_encode(const guint8 *data, gsize len);
GBytes *kp_base32_decode(const char *text, gsize len, GError **error);

/* With the one-character multibase prefix. */
char *kp_multibase_encode(KpMultibase base, const guint8 *data, gsize len);
GBytes *kp_multibase_decode(const char *text, GError **error);

G_END_DECLS
