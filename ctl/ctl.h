/* kpingctl: shared pieces of the subcommands (one file each). */
#pragma once

#include <glib.h>

#include "core/kp-multiaddr.h"
#include "net/kp-host.h"
#include "net/kp-identify-service.h"

/* Exit statuses, as iputils ping(8). */
#define KP_CTL_EXIT_OK       0
#define KP_CTL_EXIT_NO_REPLY 1
#define KP_CTL_EXIT_ERROR    2

int kp_ctl_ping(int argc, char **argv);
int kp_ctl_id(int argc, char **argv);
int kp_ctl_resolve(int argc, char **argv);

/* Prints "kpingctl: <message>" on stderr and returns KP_CTL_EXIT_ERROR. */
int kp_ctl_fail(const GError *error);

/* Microseconds since the process started (for connect_us and friends). */
gint64 kp_ctl_elapsed_us(void);

/* Parses a full multiaddr (with /p2p/<peer id>) given on the command line. */
KpMultiaddr *kp_ctl_parse_target(const char *text, GError **error);

/* A client node: an ephemeral identity, a host that listens nowhere, and
 * identify. */
typedef struct {
        KpKeypair *identity;
        KpHost *host;
        KpIdentifyService *identify;
} KpCtlNode;

void kp_ctl_node_init(KpCtlNode *node);
void kp_ctl_node_clear(KpCtlNode *node);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(KpCtlNode, kp_ctl_node_clear)

/* Dials @addr, iterating the main context until done. */
KpConnection *kp_ctl_dial_sync(KpCtlNode *node, const KpMultiaddr *addr, GError **error);
