/* session_int.h: private to proto/common's session core: what session.c
 * and session_login.c share. */
#ifndef POSTHORN_PROTO_COMMON_SESSION_INT_H
#define POSTHORN_PROTO_COMMON_SESSION_INT_H

#include "proto/common/session.h"

/* Give back what the login part of s holds (pending place in the guard,
 * the user's count, the SASL exchange, the held argument). */
void session_login_deinit(struct session *s);

#endif
