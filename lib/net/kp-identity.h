/* The node's identity: an Ed25519 key stored as a libp2p PrivateKey protobuf
 * (the format js-libp2p's privateKeyToProtobuf writes) in the state dir. */
#pragma once

#include <glib.h>

#include "core/kp-keys.h"

G_BEGIN_DECLS

#define KP_IDENTITY_FILENAME  "identity.key"
#define KP_IDENTITY_DIR_MODE  0700
#define KP_IDENTITY_FILE_MODE 0600

/* Loads <state_dir>/identity.key, or creates it (and the state dir, mode
 * 0700) when it does not exist; *ret_created says which. The key file is
 * written to a temp file, fsync'ed and renamed into place, so it is either
 * absent or complete. Refused, never replaced: a key file group or others may
 * access (KP_ERROR_PERMISSION, with the chmod that fixes it), one owned by
 * another user (KP_ERROR_PERMISSION), one that does not decode (the decoder's
 * code, naming the file). */
KpKeypair *kp_identity_load_or_create(const char *state_dir, gboolean *ret_created, GError **error);

/* Loads one key file with the same checks. */
KpKeypair *kp_identity_load(const char *path, GError **error);

G_END_DECLS
