/* session_int.h: private to proto/common's session core: what session.c
 * and session_login.c share. */
#ifndef POSTHORN_PROTO_COMMON_SESSION_INT_H
#define POSTHORN_PROTO_COMMON_SESSION_INT_H

#include "proto/common/session.h"

/* The count of logged-in sessions per user and address of a front-end. */
struct session_userips *session_userips_new(void);
void session_userips_free(struct session_userips **u);

/* Give back what the login part of s holds (pending place in the guard,
 * the user's count, the SASL exchange, the held argument). */
void session_login_deinit(struct session *s);

#endif
