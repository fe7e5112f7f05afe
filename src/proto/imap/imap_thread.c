/* imap_thread.c: RFC 5256 section 3 on a tree of nodes (a node without a
 * message is a "dummy": a message that was referred to but is not here).
 * Both algorithms build the tree, then one renderer writes it. */
#include "proto/imap/imap_thread.h"

#include <stdlib.h>
#include <string.h>

bool imap_thread_alg_parse(struct str name, enum imap_thread_alg *alg_r)
{
	if (str_caseeq(name, STR_LIT("ORDEREDSUBJECT")))
		*alg_r = IMAP_THREAD_ORDEREDSUBJECT;
	else if (str_caseeq(name, STR_LIT("REFERENCES")))
		*alg_r = IMAP_THREAD_REFERENCES;
	else
		return false;
	return true;
}

size_t imap_thread_msgids(struct str value, struct arena *a,
			  const char ***ids_r)
{
	const char **ids = arena_alloc(a, (value.n / 3 + 1) * sizeof(*ids));
	size_t n = 0, i = 0;

	while (i < value.n) {
		const char *open = memchr(value.p + i, '<', value.n - i);
		const char *close;
		char *id;
		size_t k = 0;

		if (open == NULL)
			break;
		close = memchr(open, '>', (size_t)(value.p + value.n - open));
		if (close == NULL)
			break;
		id = arena_alloc(a, (size_t)(close - open));
		for (const char *p = open + 1; p < close; p++) {
			if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
				id[k++] = *p;
		}
		id[k] = '\0';
		if (k > 0)
			ids[n++] = id;
		i = (size_t)(close - value.p) + 1;
	}
	*ids_r = ids;
	return n;
}

/* A chain of parents longer than this is not followed: a link that would
 * need it is not made (as if it made a loop), so a hostile References
 * chain costs at most this per reference. Real threads stay far below. */
#define THREAD_MAX_DEPTH 512
/* Only the last references of a message are linked (RFC 5322 3.6.4
 * trims the middle too); the parent is the last one. */
#define THREAD_MAX_REFS 256

struct node {
	const struct imap_thread_msg *msg;	/* NULL: a dummy */
	struct node *parent;
	struct node *child, *last;		/* first and last child */
	struct node *prev, *next;		/* siblings */
};

/* O(1): a parent with a hundred thousand replies stays linear. */
static void add_child(struct node *parent, struct node *child)
{
	child->parent = parent;
	child->next = NULL;
	child->prev = parent->last;
	if (parent->last != NULL)
		parent->last->next = child;
	else
		parent->child = child;
	parent->last = child;
}

static void unlink_node(struct node *n)
{
	struct node *parent = n->parent;

	if (parent == NULL)
		return;
	if (n->prev != NULL)
		n->prev->next = n->next;
	else
		parent->child = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	else
		parent->last = n->prev;
	n->parent = n->prev = n->next = NULL;
}

/* Whether maybe is n or one of its ancestors; true also when the chain
 * is longer than THREAD_MAX_DEPTH (the caller then makes no link). */
static bool is_ancestor(const struct node *maybe, const struct node *n)
{
	if (maybe->child == NULL)	/* a leaf is nobody's ancestor */
		return maybe == n;
	for (unsigned depth = 0; n != NULL; n = n->parent, depth++) {
		if (n == maybe || depth == THREAD_MAX_DEPTH)
			return true;
	}
	return false;
}

/* A growable array of nodes, for walks without recursion. */
struct node_stack {
	struct node **v;
	size_t n, cap;
};

static void stack_push(struct node_stack *st, struct node *x)
{
	if (st->n == st->cap) {
		st->cap = st->cap * 2 + 64;
		st->v = xrealloc(st->v, st->cap * sizeof(*st->v));
	}
	st->v[st->n++] = x;
}

/* Every node of the trees of list, each before its children, into
 * order (malloc'd): the trees are walked with this instead of recursion,
 * so a chain of a hundred thousand replies cannot exhaust the stack. */
static void preorder(struct node *list, struct node_stack *order)
{
	struct node_stack todo = { 0 };

	for (struct node *x = list; x != NULL; x = x->next)
		stack_push(&todo, x);
	while (todo.n > 0) {
		struct node *x = todo.v[--todo.n];

		stack_push(order, x);
		for (struct node *c = x->child; c != NULL; c = c->next)
			stack_push(&todo, c);
	}
	free(todo.v);
}

/* A dummy's date and order are its first child's (children are sorted
 * before their parent is compared). */
static const struct imap_thread_msg *node_msg(const struct node *n)
{
	while (n->msg == NULL && n->child != NULL)
		n = n->child;
	return n->msg;
}

static int node_cmp(const void *pa, const void *pb)
{
	const struct imap_thread_msg *a = node_msg(*(struct node *const *)pa);
	const struct imap_thread_msg *b = node_msg(*(struct node *const *)pb);

	if (a == NULL || b == NULL)
		return (a == NULL) - (b == NULL);
	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* The sibling list from first, sorted by sent date, as a new list (its
 * last node in *last_r). */
static struct node *sort_siblings(struct arena *a, struct node *first,
				  struct node **last_r)
{
	struct node **v;
	size_t n = 0, i = 0;

	for (struct node *x = first; x != NULL; x = x->next)
		n++;
	if (n < 2) {
		*last_r = first;
		return first;
	}
	v = arena_alloc(a, n * sizeof(*v));
	for (struct node *x = first; x != NULL; x = x->next)
		v[i++] = x;
	qsort(v, n, sizeof(*v), node_cmp);
	for (i = 0; i < n; i++) {
		v[i]->prev = i > 0 ? v[i - 1] : NULL;
		v[i]->next = i + 1 < n ? v[i + 1] : NULL;
	}
	*last_r = v[n - 1];
	return v[0];
}

/* Sorts the children at every level below the nodes of the list,
 * deepest first: a dummy's order is its first child's. */
static void sort_below(struct arena *a, struct node *list)
{
	struct node_stack order = { 0 };

	preorder(list, &order);
	for (size_t i = order.n; i-- > 0;) {
		struct node *x = order.v[i];

		x->child = sort_siblings(a, x->child, &x->last);
	}
	free(order.v);
}

/* ---- REFERENCES ---- */

/* Nodes by a string key (Message-IDs, base subjects): open addressing,
 * room for n keys. */
struct node_table {
	struct { const char *key; struct node *node; } *slots;
	size_t mask;
};

static void table_init(struct node_table *t, struct arena *a, size_t n)
{
	size_t size = 16;

	while (size < 2 * n + 2)
		size *= 2;
	t->slots = arena_zalloc(a, size * sizeof(*t->slots));
	t->mask = size - 1;
}

/* The node of key, or NULL in a slot now holding key. */
static struct node **table_slot(struct node_table *t, const char *key)
{
	size_t i;

	for (i = str_hash(str_c(key)) & t->mask; t->slots[i].key != NULL;
	     i = (i + 1) & t->mask) {
		if (strcmp(t->slots[i].key, key) == 0)
			return &t->slots[i].node;
	}
	t->slots[i].key = key;
	return &t->slots[i].node;
}

static struct node *new_node(struct arena *a,
			     const struct imap_thread_msg *msg)
{
	struct node *n = arena_zalloc(a, sizeof(*n));

	n->msg = msg;
	return n;
}

/* Step 1: containers by Message-ID, linked by the references. Returns
 * the root set (step 2) as a list. */
static struct node *link_references(struct arena *a,
				    const struct imap_thread_msg *msgs,
				    size_t n)
{
	struct node_table t;
	struct node **all, *roots = NULL, **tail = &roots;
	size_t n_all = 0, max_all = n;

	for (size_t i = 0; i < n; i++)
		max_all += msgs[i].n_refs;
	table_init(&t, a, max_all);
	all = arena_alloc(a, (max_all + 1) * sizeof(*all));
	for (size_t i = 0; i < n; i++) {
		const struct imap_thread_msg *m = &msgs[i];
		struct node *c = NULL, *prev = NULL, **slot;

		if (m->message_id != NULL) {
			slot = table_slot(&t, m->message_id);
			if (*slot == NULL)
				*slot = all[n_all++] = new_node(a, m);
			else if ((*slot)->msg == NULL)
				(*slot)->msg = m;
			c = (*slot)->msg == m ? *slot : NULL;
		}
		if (c == NULL)	/* no id, or one already taken: unique */
			c = all[n_all++] = new_node(a, m);
		for (size_t r = m->n_refs > THREAD_MAX_REFS ?
			       m->n_refs - THREAD_MAX_REFS : 0;
		     r < m->n_refs; r++) {
			struct node *rc;

			slot = table_slot(&t, m->refs[r]);
			if (*slot == NULL)
				*slot = all[n_all++] = new_node(a, NULL);
			rc = *slot;
			if (prev != NULL && rc->parent == NULL &&
			    !is_ancestor(rc, prev))
				add_child(prev, rc);
			prev = rc;
		}
		/* 1B: the last reference is the parent, whatever a
		 * truncated References of another message said before: the
		 * old link goes even when the new one would make a loop and
		 * is not made (a message that lists its own child as its
		 * parent), as it goes when there are no references. */
		unlink_node(c);
		if (prev != NULL && !is_ancestor(c, prev))
			add_child(prev, c);
	}
	for (size_t i = 0; i < n_all; i++) {
		if (all[i]->parent == NULL) {
			*tail = all[i];
			tail = &all[i]->next;
		}
	}
	*tail = NULL;
	return roots;
}

/* Step 3 on one sibling list whose subtrees are pruned already: dummies
 * without children go; dummies with children give them to their parent,
 * except at the root when they have several. */
static struct node *prune_list(struct node *list, struct node *parent)
{
	struct node *out = NULL, *last = NULL, *next;

#define PUT(k) \
	do { \
		(k)->prev = last; \
		(k)->next = NULL; \
		if (last != NULL) \
			last->next = (k); \
		else \
			out = (k); \
		last = (k); \
	} while (0)
	for (struct node *x = list; x != NULL; x = next) {
		next = x->next;
		if (x->msg == NULL &&
		    (x->child == NULL ||
		     parent != NULL || x->child->next == NULL)) {
			struct node *knext;

			for (struct node *k = x->child; k != NULL; k = knext) {
				knext = k->next;
				k->parent = parent;
				PUT(k);
			}
		} else {
			PUT(x);
		}
	}
#undef PUT
	if (parent != NULL)
		parent->last = last;
	return out;
}

/* Step 3 over the whole forest, deepest lists first. */
static struct node *prune(struct node *roots)
{
	struct node_stack order = { 0 };

	preorder(roots, &order);
	for (size_t i = order.n; i-- > 0;) {
		struct node *x = order.v[i];

		x->child = prune_list(x->child, x);
	}
	free(order.v);
	return prune_list(roots, NULL);
}

static const char *root_subject(const struct node *x)
{
	const struct imap_thread_msg *m = x->msg != NULL ? x->msg :
					  x->child->msg;

	return m != NULL && m->subject != NULL ? m->subject : "";
}

/* Step 5: roots with the same base subject are gathered in one thread. */
static struct node *group_subjects(struct arena *a, struct node *roots)
{
	struct node_table t;
	struct node *out = NULL, **tail = &out, *next;
	size_t n = 0;

	for (struct node *x = roots; x != NULL; x = x->next)
		n++;
	table_init(&t, a, n);
	for (struct node *x = roots; x != NULL; x = x->next) {
		const char *subject = root_subject(x);
		struct node **e;

		if (*subject == '\0')
			continue;
		e = table_slot(&t, subject);
		if (*e == NULL ||
		    ((*e)->msg != NULL &&
		     (x->msg == NULL || ((*e)->msg->reply && !x->msg->reply))))
			*e = x;
	}
	for (struct node *x = roots; x != NULL; x = next) {
		const char *subject = root_subject(x);
		struct node **slot, *e;

		next = x->next;
		slot = *subject != '\0' ? table_slot(&t, subject) : NULL;
		if (slot == NULL || (e = *slot) == x) {
			*tail = x;
			tail = &x->next;
			*tail = NULL;
			continue;
		}
		if (e->msg == NULL && x->msg == NULL) {
			struct node *k = x->child, *knext;

			for (; k != NULL; k = knext) {
				knext = k->next;
				add_child(e, k);
			}
		} else if (e->msg == NULL) {
			add_child(e, x);
		} else if (!e->msg->reply && x->msg != NULL && x->msg->reply) {
			add_child(e, x);
		} else {
			/* Both stand alone: e turns into the dummy above a
			 * copy of itself and x, in place (finding its spot
			 * in the output list would cost a walk of it per
			 * subject). Each node's children move at most once:
			 * e is a dummy from now on. */
			struct node *e2 = new_node(a, e->msg), *knext;

			for (struct node *k = e->child; k != NULL; k = knext) {
				knext = k->next;
				add_child(e2, k);
			}
			e->child = e->last = NULL;
			e->msg = NULL;
			add_child(e, e2);
			add_child(e, x);
		}
	}
	return out;
}

/* ---- ORDEREDSUBJECT ---- */

static int subject_cmp(const void *pa, const void *pb)
{
	const struct imap_thread_msg *a = *(const struct imap_thread_msg *const *)pa;
	const struct imap_thread_msg *b = *(const struct imap_thread_msg *const *)pb;
	int r = strcmp(a->subject != NULL ? a->subject : "",
		       b->subject != NULL ? b->subject : "");

	if (r != 0)
		return r;
	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Sorted by subject and date, split by subject: the first message of
 * each run is the root, the others its children. */
static struct node *ordered_subject(struct arena *a,
				    const struct imap_thread_msg *msgs,
				    size_t n)
{
	const struct imap_thread_msg **v = arena_alloc(a, n * sizeof(*v));
	struct node *roots = NULL, **tail = &roots, *root = NULL;

	for (size_t i = 0; i < n; i++)
		v[i] = &msgs[i];
	qsort(v, n, sizeof(*v), subject_cmp);
	for (size_t i = 0; i < n; i++) {
		struct node *x = new_node(a, v[i]);

		if (root != NULL && strcmp(root->msg->subject != NULL ?
					   root->msg->subject : "",
					   v[i]->subject != NULL ?
					   v[i]->subject : "") == 0) {
			add_child(root, x);
			continue;
		}
		root = x;
		*tail = x;
		tail = &x->next;
	}
	return roots;
}

/* ---- output ---- */

/* One thread below its root x, as RFC 5256's thread-list without the
 * outer parentheses: "1 2 (3)(4 5)". A chain of single children goes
 * inline; several children each get parentheses. Without recursion: open
 * holds, per open level of several children, the next one to render. */
static void render_tree(const struct node *x, struct strbuf *out)
{
	struct node_stack open = { 0 };
	bool at_open = true;

	for (;;) {
		/* Down from x. */
		for (;;) {
			if (x->msg != NULL) {
				if (!at_open)
					strbuf_putc(out, ' ');
				strbuf_printf(out, "%u", x->msg->value);
				at_open = false;
			}
			if (x->child == NULL)
				break;
			if (x->child->next != NULL) {
				if (!at_open)
					strbuf_putc(out, ' ');
				stack_push(&open, x->child->next);
				strbuf_putc(out, '(');
				at_open = true;
			}
			x = x->child;
		}
		/* Up to the next sibling to render. */
		for (;;) {
			struct node *k;

			if (open.n == 0) {
				free(open.v);
				return;
			}
			strbuf_putc(out, ')');
			k = open.v[open.n - 1];
			if (k != NULL) {
				open.v[open.n - 1] = k->next;
				strbuf_putc(out, '(');
				at_open = true;
				x = k;
				break;
			}
			open.n--;
		}
	}
}

void imap_thread_render(enum imap_thread_alg alg, struct arena *a,
			const struct imap_thread_msg *msgs, size_t n,
			struct strbuf *out)
{
	struct node *roots, *last;

	if (n == 0)
		return;
	if (alg == IMAP_THREAD_ORDEREDSUBJECT) {
		/* threads in the order of their first message's date */
		roots = sort_siblings(a, ordered_subject(a, msgs, n), &last);
	} else {
		roots = prune(link_references(a, msgs, n));
		sort_below(a, roots);
		roots = group_subjects(a, sort_siblings(a, roots, &last));
		sort_below(a, roots);
		/* Step 6 sorts the roots too: grouping made dummies whose
		 * first message is older than the roots before them. */
		roots = sort_siblings(a, roots, &last);
	}
	for (const struct node *x = roots; x != NULL; x = x->next) {
		strbuf_putc(out, '(');
		render_tree(x, out);
		strbuf_putc(out, ')');
	}
}
