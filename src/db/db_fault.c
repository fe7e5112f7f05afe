/* db_fault.c: the test double of the database layer: a connection that
 * runs on its real driver but fails the statement or the commit a unit
 * test names, so the store's rollback on an error half-way through a
 * request can be shown for every statement of it. */
#include "db/db_int.h"

#include <stdatomic.h>

struct db_fault {
	/* armed from the test's thread, read on the writer's: atomics */
	atomic_uint fail_statement, fail_commit;
	atomic_uint statements, commits;
};

struct db_fault *db_fault_new(void)
{
	return xcalloc(1, sizeof(struct db_fault));
}

void db_fault_free(struct db_fault **f)
{
	free(*f);
	*f = NULL;
}

void db_fault_fail_statement(struct db_fault *f, unsigned n)
{
	atomic_store(&f->statements, 0);
	atomic_store(&f->fail_statement, n);
}

void db_fault_fail_commit(struct db_fault *f, unsigned n)
{
	atomic_store(&f->commits, 0);
	atomic_store(&f->fail_commit, n);
}

unsigned db_fault_statements(struct db_fault *f)
{
	return atomic_load(&f->statements);
}

bool db_fault_statement(struct db *db)
{
	struct db_fault *f = db->fault;
	unsigned n = atomic_fetch_add(&f->statements, 1) + 1;

	if (n != atomic_load(&f->fail_statement))
		return false;
	atomic_store(&f->fail_statement, 0);
	db_fail(db, false, "step", "injected failure");
	return true;
}

bool db_fault_commit(struct db *db)
{
	struct db_fault *f = db->fault;
	unsigned n = atomic_fetch_add(&f->commits, 1) + 1;

	if (n != atomic_load(&f->fail_commit))
		return false;
	atomic_store(&f->fail_commit, 0);
	db_fail(db, false, "commit", "injected failure");
	return true;
}
