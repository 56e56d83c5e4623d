/* ctlclient.h - the client side of the control protocol (see control.h),
 * used by evdctl. */
#pragma once

#include "util.h"

/* The default socket: $EVD_SOCKET, else /run/evd/control.sock. */
const char *ctl_default_socket(void);

/* Connects, sends one request line and reads the whole reply, all within
 * timeout (a full listen backlog included). Returns 0 with the reply's exit
 * code and body (malloc'd), -ETIMEDOUT when that took longer, -errno when
 * the daemon cannot be reached (connect failed) and -EPROTO for a
 * malformed reply. */
int ctl_request(const char *socket_path, const char *request, usec_t timeout, int *ret_code, char **ret_body);
