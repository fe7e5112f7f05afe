/* cmd_table.c: command lookup by name. Tables are a dozen or two entries,
 * so a linear scan is as fast as anything else and keeps the tables plain. */
#include "proto/common/cmd_table.h"

const struct cmd_def *cmd_table_lookup(const struct cmd_def *table, size_t n,
				       struct str name)
{
	for (size_t i = 0; i < n; i++) {
		if (str_caseeq(str_c(table[i].name), name))
			return &table[i];
	}
	return NULL;
}
