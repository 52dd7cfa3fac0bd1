/* The key and peer id decoders on hostile bytes: every input goes to the
 * PublicKey and PrivateKey protobuf decoders, the binary peer id decoder and
 * (as text) the peer id parser; what decodes must re-encode and round-trip. */
#include <stdint.h>
#include <string.h>

#include "core/kp-keys.h"
#include "core/kp-peer-id.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_peer_id(const KpPeerId *id)
{
        g_autofree char *text = kp_peer_id_to_string(id);
        g_autofree char *cid = kp_peer_id_to_cid_string(id);
        g_autoptr(KpPublicKey) key = NULL;
        KpPeerId again;

        if (!kp_peer_id_parse(text, &again, NULL) || !kp_peer_id_equal(id, &again))
                g_error("peer id %s does not round-trip", text);
        if (!kp_peer_id_parse(cid, &again, NULL) || !kp_peer_id_equal(id, &again))
                g_error("peer id %s does not round-trip", cid);
        key = kp_peer_id_extract_public_key(id, NULL);
        if (key != NULL && !kp_peer_id_matches_public_key(id, key))
                g_error("peer id %s does not match its inline key", text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        g_autoptr(KpPublicKey) key = NULL;
        g_autoptr(KpKeypair) keypair = NULL;
        g_autofree char *text = NULL;
        KpPeerId id;

        key = kp_public_key_from_protobuf(data, size, NULL);
        if (key != NULL) {
                g_autoptr(GBytes) again = kp_public_key_to_protobuf(key);
                gsize len;
                const guint8 *bytes = g_bytes_get_data(again, &len);

                if (len != size || memcmp(bytes, data, size) != 0)
                        g_error("public key does not re-encode to its input");
                kp_peer_id_from_public_key(key, &id);
                check_peer_id(&id);
        }

        keypair = kp_keypair_from_private_key_protobuf(data, size, NULL);
        if (keypair != NULL) {
                g_autoptr(GBytes) again = kp_keypair_to_private_key_protobuf(keypair);
                g_autoptr(KpKeypair) reloaded = kp_keypair_from_private_key_protobuf(
                    g_bytes_get_data(again, NULL), g_bytes_get_size(again), NULL);
                guint8 sig[KP_ED25519_SIGNATURE_BYTES];

                if (reloaded == NULL
                    || !kp_public_key_equal(kp_keypair_get_public_key(keypair),
                                            kp_keypair_get_public_key(reloaded)))
                        g_error("private key does not round-trip");
                kp_keypair_sign(keypair, data, size, sig);
                if (!kp_public_key_verify(kp_keypair_get_public_key(keypair), data, size, sig,
                                          sizeof sig, NULL))
                        g_error("own signature does not verify");
        }

        if (kp_peer_id_from_bytes(data, size, &id, NULL))
                check_peer_id(&id);

        text = g_strndup((const char *)data, size);
        if (kp_peer_id_parse(text, &id, NULL))
                check_peer_id(&id);
        return 0;
}
