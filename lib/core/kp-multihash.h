/* multihash: identity (0x00) and sha2-256 (0x12). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define KP_MULTIHASH_IDENTITY     0x00
#define KP_MULTIHASH_SHA2_256     0x12
#define KP_MULTIHASH_SHA2_256_LEN 32
/* An identity multihash inlines its data: peer ids inline public keys of at
 * most 42 bytes, so anything much larger is hostile. */
#define KP_MULTIHASH_MAX_DIGEST 128

typedef struct {
        guint64 code;
        const guint8 *digest; /* points into the parsed buffer */
        gsize digest_len;
} KpMultihashView;

/* Parse exactly one multihash filling all of @buf. */
gboolean kp_multihash_parse(const guint8 *buf, gsize len, KpMultihashView *ret_view,
                            GError **error);
void kp_multihash_append(GByteArray *out, guint64 code, const guint8 *digest, gsize len);
void kp_multihash_append_sha256(GByteArray *out, const guint8 *data, gsize len);

G_END_DECLS
