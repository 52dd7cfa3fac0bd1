#include "core/kp-multihash.h"

#include <sodium.h>

#include "core/kp-error.h"
#include "core/kp-varint.h"

gboolean
kp_multihash_parse(const guint8 *buf, gsize len, KpMultihashView *ret_view, GError **error)
{
        gsize pos = 0;
        guint64 code, digest_len;

        if (!kp_varint_read(buf, len, &pos, &code, error)
            || !kp_varint_read(buf, len, &pos, &digest_len, error)) {
                g_prefix_error(error, "multihash: ");
                return FALSE;
        }
        if (code != KP_MULTIHASH_IDENTITY && code != KP_MULTIHASH_SHA2_256) {
                g_set_error(error, KP_ERROR, KP_ERROR_UNSUPPORTED,
                            "multihash: unsupported hash code 0x%" G_GINT64_MODIFIER "x", code);
                return FALSE;
        }
        if (digest_len > KP_MULTIHASH_MAX_DIGEST) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "multihash: digest length %" G_GUINT64_FORMAT " exceeds %d", digest_len,
                            KP_MULTIHASH_MAX_DIGEST);
                return FALSE;
        }
        if (code == KP_MULTIHASH_SHA2_256 && digest_len != KP_MULTIHASH_SHA2_256_LEN) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "multihash: sha2-256 digest of %" G_GUINT64_FORMAT " bytes, not 32",
                            digest_len);
                return FALSE;
        }
        if (len - pos != digest_len) {
                g_set_error(error, KP_ERROR,
                            len - pos < digest_len ? KP_ERROR_TRUNCATED : KP_ERROR_INVALID,
                            "multihash: digest length %" G_GUINT64_FORMAT " but %" G_GSIZE_FORMAT
                            " bytes follow",
                            digest_len, len - pos);
                return FALSE;
        }
        ret_view->code = code;
        ret_view->digest = buf + pos;
        ret_view->digest_len = (gsize)digest_len;
        return TRUE;
}

void
kp_multihash_append(GByteArray *out, guint64 code, const guint8 *digest, gsize len)
{
        kp_varint_append(out, code);
        kp_varint_append(out, len);
        g_byte_array_append(out, digest, (guint)len);
}

void
kp_multihash_append_sha256(GByteArray *out, const guint8 *data, gsize len)
{
        guint8 digest[crypto_hash_sha256_BYTES];

        crypto_hash_sha256(digest, data, len);
        kp_multihash_append(out, KP_MULTIHASH_SHA2_256, digest, sizeof digest);
}
