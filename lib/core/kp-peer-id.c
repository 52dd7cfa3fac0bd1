#include "core/kp-peer-id.h"

#include <string.h>

#include "core/kp-error.h"
#include "core/kp-multibase.h"
#include "core/kp-multihash.h"
#include "core/kp-varint.h"

#define KP_CID_VERSION_1 1

void
kp_peer_id_from_public_key(const KpPublicKey *key, KpPeerId *ret_id)
{
        g_autoptr(GBytes) encoded = NULL;
        g_autoptr(GByteArray) mh = g_byte_array_new();
        gsize len;
        const guint8 *data;

        g_return_if_fail(key != NULL);
        g_return_if_fail(ret_id != NULL);

        encoded = kp_public_key_to_protobuf(key);
        data = g_bytes_get_data(encoded, &len);
        if (len <= KP_PEER_ID_MAX_INLINE_KEY)
                kp_multihash_append(mh, KP_MULTIHASH_IDENTITY, data, len);
        else
                kp_multihash_append_sha256(mh, data, len);
        g_assert(mh->len <= KP_PEER_ID_MAX_BYTES);
        memset(ret_id, 0, sizeof *ret_id);
        ret_id->len = (guint8)mh->len;
        memcpy(ret_id->bytes, mh->data, mh->len);
}

/* PublicKey { Type = Ed25519 (field 1, varint 1), Data (field 2, 32 bytes) } */
static const guint8 canonical_ed25519_prefix[] = { 0x08, 0x01, 0x12, KP_ED25519_PUBLIC_KEY_BYTES };

static gboolean
is_canonical_ed25519(const guint8 *buf, gsize len)
{
        return len == sizeof canonical_ed25519_prefix + KP_ED25519_PUBLIC_KEY_BYTES
               && memcmp(buf, canonical_ed25519_prefix, sizeof canonical_ed25519_prefix) == 0;
}

gboolean
kp_peer_id_from_bytes(const guint8 *buf, gsize len, KpPeerId *ret_id, GError **error)
{
        KpMultihashView view;

        if (len == 0) {
                g_set_error(error, KP_ERROR, KP_ERROR_TRUNCATED, "peer id: empty");
                return FALSE;
        }
        if (!kp_multihash_parse(buf, len, &view, error)) {
                g_prefix_error(error, "peer id: ");
                return FALSE;
        }
        if (view.code == KP_MULTIHASH_IDENTITY) {
                if (view.digest_len > KP_PEER_ID_MAX_INLINE_KEY) {
                        g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                                    "peer id: inline public key of %" G_GSIZE_FORMAT
                                    " bytes exceeds %d",
                                    view.digest_len, KP_PEER_ID_MAX_INLINE_KEY);
                        return FALSE;
                }
                /* An identity peer id that does not hold a public key names
                 * nobody; refusing it here means extract_public_key cannot
                 * fail later for a parsed id. The canonical encoding of an
                 * Ed25519 key, the one every request names, is recognised
                 * without unpacking the protobuf: the only one that would
                 * be accepted, since no other encoding is canonical. */
                if (!is_canonical_ed25519(view.digest, view.digest_len)) {
                        g_autoptr(KpPublicKey) key
                            = kp_public_key_from_protobuf(view.digest, view.digest_len, error);

                        if (key == NULL) {
                                g_prefix_error(error, "peer id: inline ");
                                return FALSE;
                        }
                }
        }
        g_assert(len <= KP_PEER_ID_MAX_BYTES);
        memset(ret_id, 0, sizeof *ret_id);
        ret_id->len = (guint8)len;
        memcpy(ret_id->bytes, buf, len);
        return TRUE;
}

static const char *
multicodec_name(guint64 codec)
{
        switch (codec) {
        case 0x55:
                return "raw";
        case 0x70:
                return "dag-pb";
        case 0x71:
                return "dag-cbor";
        case 0x0129:
                return "dag-json";
        case 0x72:
                return "libp2p-key";
        default:
                return "unknown";
        }
}

static gboolean
parse_cid(const guint8 *buf, gsize len, KpPeerId *ret_id, GError **error)
{
        gsize pos = 0;
        guint64 version, codec;

        if (!kp_varint_read(buf, len, &pos, &version, error)) {
                g_prefix_error(error, "peer id: CID version: ");
                return FALSE;
        }
        if (version != KP_CID_VERSION_1) {
                g_set_error(error, KP_ERROR, KP_ERROR_UNSUPPORTED,
                            "peer id: CID version %" G_GUINT64_FORMAT ", expected 1", version);
                return FALSE;
        }
        if (!kp_varint_read(buf, len, &pos, &codec, error)) {
                g_prefix_error(error, "peer id: CID codec: ");
                return FALSE;
        }
        if (codec != KP_CID_CODEC_LIBP2P_KEY) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "peer id: CID codec 0x%" G_GINT64_MODIFIER
                            "x (%s) is not libp2p-key (0x72)",
                            codec, multicodec_name(codec));
                return FALSE;
        }
        return kp_peer_id_from_bytes(buf + pos, len - pos, ret_id, error);
}

gboolean
kp_peer_id_parse(const char *text, KpPeerId *ret_id, GError **error)
{
        g_autoptr(GBytes) bytes = NULL;
        gsize len;
        const guint8 *data;

        g_return_val_if_fail(text != NULL, FALSE);

        len = strlen(text);
        if (len == 0) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "peer id: empty text");
                return FALSE;
        }
        /* Bare base58btc multihashes: identity ones start with '1' (a zero
         * byte), sha2-256 ones with "Qm". Anything else is a multibase CID. */
        if (text[0] == '1' || g_str_has_prefix(text, "Qm")) {
                bytes = kp_base58btc_decode(text, len, error);
                if (bytes == NULL) {
                        g_prefix_error(error, "peer id: ");
                        return FALSE;
                }
                data = g_bytes_get_data(bytes, &len);
                return kp_peer_id_from_bytes(data, len, ret_id, error);
        }
        bytes = kp_multibase_decode(text, error);
        if (bytes == NULL) {
                g_prefix_error(error, "peer id: ");
                return FALSE;
        }
        data = g_bytes_get_data(bytes, &len);
        return parse_cid(data, len, ret_id, error);
}

char *
kp_peer_id_to_string(const KpPeerId *id)
{
        g_return_val_if_fail(id != NULL, NULL);
        return kp_base58btc_encode(id->bytes, id->len);
}

char *
kp_peer_id_to_cid_string(const KpPeerId *id)
{
        g_autoptr(GByteArray) cid = g_byte_array_new();

        g_return_val_if_fail(id != NULL, NULL);

        kp_varint_append(cid, KP_CID_VERSION_1);
        kp_varint_append(cid, KP_CID_CODEC_LIBP2P_KEY);
        g_byte_array_append(cid, id->bytes, id->len);
        return kp_multibase_encode(KP_MULTIBASE_BASE32, cid->data, cid->len);
}

gboolean
kp_peer_id_equal(const KpPeerId *a, const KpPeerId *b)
{
        g_return_val_if_fail(a != NULL && b != NULL, FALSE);
        return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

KpPublicKey *
kp_peer_id_extract_public_key(const KpPeerId *id, GError **error)
{
        KpMultihashView view;
        KpPublicKey *key;

        g_return_val_if_fail(id != NULL, NULL);

        if (!kp_multihash_parse(id->bytes, id->len, &view, error)) {
                g_prefix_error(error, "peer id: ");
                return NULL;
        }
        if (view.code != KP_MULTIHASH_IDENTITY) {
                g_set_error(error, KP_ERROR, KP_ERROR_NOT_FOUND,
                            "peer id is a sha2-256 hash, it does not contain the public key");
                return NULL;
        }
        key = kp_public_key_from_protobuf(view.digest, view.digest_len, error);
        if (key == NULL)
                g_prefix_error(error, "peer id: inline ");
        return key;
}

gboolean
kp_peer_id_matches_public_key(const KpPeerId *id, const KpPublicKey *key)
{
        KpPeerId other;

        g_return_val_if_fail(id != NULL && key != NULL, FALSE);

        kp_peer_id_from_public_key(key, &other);
        return kp_peer_id_equal(id, &other);
}

guint
kp_peer_id_hash(gconstpointer p)
{
        const KpPeerId *id = p;
        guint64 h = id->len;
        guint i = 0;

        /* Eight bytes per step: hash tables keyed by peer id are looked up
         * for every actor request. */
        for (;;) {
                guint64 word = 0;

                if (i >= id->len)
                        break;
                memcpy(&word, id->bytes + i, MIN(8u, (guint)id->len - i));
                h = (h ^ word) * G_GUINT64_CONSTANT(0x9e3779b97f4a7c15);
                i += 8;
        }
        return (guint)(h ^ (h >> 32));
}

gboolean
kp_peer_id_equal_func(gconstpointer a, gconstpointer b)
{
        return kp_peer_id_equal(a, b);
}
