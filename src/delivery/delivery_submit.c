/* delivery_submit.c: parse an accepted message once and hand the store one
 * DELIVER request with every local target and the outbound queue entry;
 * the request memory lives in an arena freed after the completion. */
#include "delivery/delivery.h"
#include "base/strbuf.h"
#include "mail/imap_bodystructure.h"
#include "mail/imap_envelope.h"
#include "mail/mime_parts.h"
#include "mail/tls_required.h"

#include <strings.h>

struct delivery_submission {
	struct arena arena;
	struct store_req req;
	struct store_target *targets;
	struct queue_rcpt *rcpts;
	struct queue_new outbound;	/* the deliver's attach */
	delivery_done_fn *done;
	void *arg;
	char *owned;		/* the message buffer taken over, or NULL */
};

static void submission_free(struct delivery_submission *sub)
{
	arena_deinit(&sub->arena);
	free(sub->owned);
	free(sub);
}

static void submission_done(void *arg, struct store_result *result)
{
	struct delivery_submission *sub = arg;

	sub->done(sub->arg, result);
	store_result_free(&result);
	submission_free(sub);
}

static const char *arena_strbuf(struct arena *a, struct strbuf *sb)
{
	const char *s = arena_strndup(a, strbuf_cstr(sb), sb->n);

	strbuf_reset(sb);
	return s;
}

/* The stored bytes (Return-Path + message) and their parsed metadata. */
static void submission_message(struct delivery_submission *sub,
			       const struct delivery_msg *msg)
{
	const char *sender = msg->sender != NULL ? msg->sender : "";
	struct mime_tree *tree = msg->tree;
	struct strbuf sb = STRBUF_INIT;
	const char *body = msg->data;
	size_t hlen, size = msg->size;
	char *data;

	strbuf_printf(&sb, "Return-Path: <%s>\r\n", sender);
	if (msg->delivered_to != NULL)
		strbuf_printf(&sb, "Delivered-To: %s\r\n", msg->delivered_to);
	if (msg->header_size > 0)
		strbuf_append(&sb, msg->header, msg->header_size);
	hlen = sb.n;
	if (msg->take != NULL) {
		/* The one copy of the message is the caller's buffer: our
		 * fields go into the room left before it. */
		struct strbuf *t = msg->take;
		size_t room = msg->take_room;

		size = t->n - room;
		if (hlen > room) {
			strbuf_grow(t, hlen - room);
			memmove(t->p + hlen, t->p + room, size + 1);
			room = hlen;
		}
		data = t->p + room - hlen;
		memcpy(data, sb.p, hlen);
		sub->owned = strbuf_detach(t, NULL);
	} else {
		/* The one copy of the message: into the request's arena. */
		data = arena_alloc(&sub->arena, hlen + size + 1);
		memcpy(data, sb.p, hlen);
		if (size > 0)
			memcpy(data + hlen, body, size);
		data[hlen + size] = '\0';
	}
	strbuf_reset(&sb);
	sub->req.u.deliver.data = data;
	sub->req.u.deliver.size = hlen + size;

	if (tree != NULL)
		mime_tree_shift(tree, (int64_t)hlen -
				      (int64_t)MIME_PREFIX_STANDIN_LEN);
	else
		tree = mime_parse(data, hlen + size, NULL);
	imap_envelope_write(&sb, tree->root);
	sub->req.u.deliver.meta.envelope = arena_strbuf(&sub->arena, &sb);
	imap_bodystructure_write(&sb, tree->root, false);
	sub->req.u.deliver.meta.body = arena_strbuf(&sub->arena, &sb);
	imap_bodystructure_write(&sb, tree->root, true);
	sub->req.u.deliver.meta.bodystructure = arena_strbuf(&sub->arena, &sb);
	mime_parts_serialize(tree, &sb);
	if (sb.n > 0) {
		void *parts = arena_alloc(&sub->arena, sb.n);

		memcpy(parts, sb.p, sb.n);
		sub->req.u.deliver.meta.parts = parts;
		sub->req.u.deliver.meta.parts_size = sb.n;
	}
	strbuf_free(&sb);
	mime_tree_free(&tree);
}

static void submission_targets(struct delivery_submission *sub,
			       const struct delivery_msg *msg)
{
	size_t n = 0;

	sub->targets = arena_zalloc(&sub->arena,
				    (msg->n_users + 1) * sizeof(*sub->targets));
	for (size_t i = 0; i < msg->n_users; i++) {
		size_t j;

		for (j = 0; j < n; j++) {
			if (sub->targets[j].user_id == msg->user_ids[i])
				break;
		}
		if (j == n) {
			sub->targets[n].junk = msg->junk;
			sub->targets[n++].user_id = msg->user_ids[i];
		}
	}
	sub->req.u.deliver.targets = sub->targets;
	sub->req.u.deliver.n_targets = n;
}

static const char *opt_dup(struct arena *a, const char *s)
{
	return arena_strdup(a, s != NULL ? s : "");
}

static void submission_rcpts(struct delivery_submission *sub,
			     const struct delivery_msg *msg)
{
	struct arena *a = &sub->arena;
	size_t n = 0;

	sub->rcpts = arena_zalloc(a, (msg->n_remotes + 1) *
				  sizeof(*sub->rcpts));
	for (size_t i = 0; i < msg->n_remotes; i++) {
		const struct queue_rcpt *in = &msg->remotes[i];
		size_t j;

		for (j = 0; j < n; j++) {
			if (strcasecmp(sub->rcpts[j].address, in->address) == 0)
				break;
		}
		if (j < n)
			continue;
		sub->rcpts[n].address = arena_strdup(a, in->address);
		sub->rcpts[n].orcpt = opt_dup(a, in->orcpt);
		sub->rcpts[n].notify = opt_dup(a, in->notify);
		n++;
	}
	sub->outbound.rcpts = sub->rcpts;
	sub->outbound.n_rcpts = n;
	sub->outbound.sender = opt_dup(a, msg->sender);
	sub->outbound.envid = opt_dup(a, msg->envid);
	sub->outbound.ret = opt_dup(a, msg->ret);
	sub->outbound.requiretls = msg->requiretls;
	/* RFC 8689 5: with REQUIRETLS the TLS-Required field is ignored */
	sub->outbound.tls_optional = n > 0 && !msg->requiretls &&
		tls_required_no(str_make(sub->req.u.deliver.data,
					 sub->req.u.deliver.size));
	queue_store_attach(&sub->req, &sub->outbound);
}

struct delivery_submission *delivery_prepare(const struct delivery_msg *msg,
					     const char **error_r)
{
	struct delivery_submission *sub;

	*error_r = NULL;
	if (msg->n_users == 0 && msg->n_remotes == 0)
		*error_r = "no recipients";
	else if (msg->sender != NULL && strpbrk(msg->sender, "\r\n<>") != NULL)
		*error_r = "invalid envelope sender";
	else if (msg->delivered_to != NULL &&
		 strpbrk(msg->delivered_to, "\r\n") != NULL)
		*error_r = "invalid Delivered-To address";
	if (*error_r != NULL) {
		/* what was handed over is ours to free */
		struct mime_tree *tree = msg->tree;

		mime_tree_free(&tree);
		if (msg->take != NULL)
			strbuf_free(msg->take);
		return NULL;
	}
	sub = xcalloc(1, sizeof(*sub));
	arena_init(&sub->arena, 0);
	sub->req.type = STORE_REQ_DELIVER;
	sub->req.u.deliver.internal_date = msg->internal_date;
	submission_message(sub, msg);
	submission_targets(sub, msg);
	submission_rcpts(sub, msg);
	return sub;
}

const struct store_req *delivery_prepared_req(
	const struct delivery_submission *sub)
{
	return &sub->req;
}

void delivery_prepared_free(struct delivery_submission **subp)
{
	struct delivery_submission *sub = *subp;

	if (sub == NULL)
		return;
	*subp = NULL;
	submission_free(sub);
}

int delivery_submit(struct store *store, const struct delivery_msg *msg,
		    struct task_queue *reply_queue, delivery_done_fn *done,
		    void *arg, const char **error_r)
{
	struct delivery_submission *sub = delivery_prepare(msg, error_r);

	if (sub == NULL)
		return -1;
	sub->done = done;
	sub->arg = arg;
	store_submit(store, &sub->req, reply_queue, submission_done, sub);
	return 0;
}
