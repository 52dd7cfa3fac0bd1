/* kpingctl subcommands: each takes the arguments after its name. */
#pragma once

#include <glib.h>

/* Exit statuses, as iputils ping(8). */
#define KP_CTL_EXIT_OK       0
#define KP_CTL_EXIT_NO_REPLY 1
#define KP_CTL_EXIT_ERROR    2

int kp_ctl_ping (int argc, char **argv);

/* Prints "kpingctl: <message>" on stderr and returns KP_CTL_EXIT_ERROR. */
int kp_ctl_fail (const GError *error);
