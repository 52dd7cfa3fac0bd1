/* Kademlia RPC messages, and the kameo registration value and meta key that
 * travel inside their records. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"

#include "core/kp-error.h"
#include "core/kp-kad-message.h"
#include "core/kp-kameo-registration.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        g_autoptr(KpKadMessage) msg = kp_kad_message_decode(data, size, NULL);
        g_autoptr(KpKadMessage) response = kp_kad_message_decode_response(data, size, NULL);
        g_autoptr(KpKameoRegistration) reg = kp_kameo_registration_decode(data, size, NULL);
        g_autofree char *name = NULL;

        if (msg != NULL) {
                g_autoptr(GError) error = NULL;
                g_autoptr(GBytes) again = kp_kad_message_encode(msg, &error);

                /* What we accept we can re-encode (explicit defaults may
                 * push it over the limit) and accept again. */
                if (again == NULL) {
                        if (!g_error_matches(error, KP_ERROR, KP_ERROR_TOO_LARGE))
                                abort();
                } else {
                        g_autoptr(KpKadMessage) back = kp_kad_message_decode(
                            g_bytes_get_data(again, NULL), g_bytes_get_size(again), NULL);
                        if (back == NULL || back->type != msg->type
                            || back->closer_peers->len != msg->closer_peers->len)
                                abort();
                }
        }
        /* a response may be larger than a request, otherwise the same */
        if (msg != NULL && (response == NULL || response->type != msg->type))
                abort();
        if (reg != NULL) {
                g_autoptr(GBytes) again
                    = kp_kameo_registration_encode(reg->actor_seq, &reg->peer_id, reg->remote_id);
                if (g_bytes_get_size(again) != size)
                        abort();
        }
        (void)kp_kameo_meta_key_parse(data, size, &name, NULL);
        return 0;
}
