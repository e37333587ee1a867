/* jsonmem: jansson's allocations of a scope in its blocks, others malloc's. */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "jsonmem.h"

/*
 * Whether the scopes take jansson's allocations: not in a sanitizer
 * build, where jansson keeps malloc and free.
 */
static int
blocks_in_use(void)
{
	json_malloc_t	m;
	json_free_t	f;

	json_get_alloc_funcs(&m, &f);
	return m != malloc;
}

static json_t *
load(const char *text)
{
	json_error_t	 e;
	json_t		*j;

	j = json_loads(text, 0, &e);
	if (j == NULL)
		fail_msg("%s: %s", text, e.text);
	return j;
}

/* A tree decoded in scope is read after it, and released with its scope. */
static void
test_tree_in_scope(void **state)
{
	struct jsonmem	 m = { NULL };
	json_t		*root;
	char		*text;

	(void)state;
	jsonmem_begin(&m);
	root = load("{\"booking\":{\"id\":\"b-1\",\"attendees\":"
	    "[{\"email\":\"a@example.org\"},{\"email\":\"b@example.org\"}]}}");
	jsonmem_end();
	if (blocks_in_use())
		assert_non_null(m.blocks);
	else
		assert_null(m.blocks);

	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(json_object_get(root, "booking"), "attendees"), 1),
	    "email")), "b@example.org");
	/* Out of scope, what jansson returns is malloc's. */
	text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(text, "{\"booking\":{\"attendees\":"
	    "[{\"email\":\"a@example.org\"},{\"email\":\"b@example.org\"}],"
	    "\"id\":\"b-1\"}}");
	free(text);

	jsonmem_begin(&m);
	json_decref(root);
	jsonmem_end();
	jsonmem_release(&m);
	assert_null(m.blocks);
	jsonmem_release(&m);		/* twice: nothing left to hand back */
}

/*
 * A tree larger than the first block, with strings too large for a block,
 * reads back whole: the blocks grow, and large allocations are malloc's.
 */
static void
test_blocks_grow(void **state)
{
	struct jsonmem	 m = { NULL };
	json_t		*root, *v;
	char		*big;
	size_t		 i, n = 20000, sum = 0;

	(void)state;
	assert_non_null(big = malloc(64 * 1024 + 1));
	memset(big, 'x', 64 * 1024);
	big[64 * 1024] = '\0';

	jsonmem_begin(&m);
	root = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(root, json_pack("{s:i,s:s}", "n", (int)i,
		    "s", i % 1000 == 0 ? big : "small"));
	jsonmem_end();

	json_array_foreach(root, i, v) {
		sum += (size_t)json_integer_value(json_object_get(v, "n"));
		assert_int_equal(strlen(json_string_value(json_object_get(v,
		    "s"))), i % 1000 == 0 ? 64 * 1024 : 5);
	}
	assert_int_equal(sum, n * (n - 1) / 2);

	jsonmem_begin(&m);
	json_decref(root);
	jsonmem_end();
	jsonmem_release(&m);
	free(big);
}

/*
 * A node made out of scope and freed in it is free()'s: a value the
 * caller built joins a decoded tree.
 */
static void
test_outside_node_freed_in_scope(void **state)
{
	struct jsonmem	 m = { NULL };
	json_t		*root, *outside;

	(void)state;
	outside = json_string("made before the scope");
	jsonmem_begin(&m);
	root = load("{\"a\":1}");
	assert_int_equal(json_object_set_new(root, "b", outside), 0);
	assert_string_equal(json_string_value(json_object_get(root, "b")),
	    "made before the scope");
	json_decref(root);
	jsonmem_end();
	jsonmem_release(&m);
}

static void *
dump_elsewhere(void *arg)
{
	json_t	*j;
	char	*text;

	(void)arg;
	j = json_pack("{s:s}", "thread", "other");
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return text;
}

/* A scope is its thread's: another thread's allocations meanwhile are
 * malloc's, freed with free() while the scope still holds its blocks. */
static void
test_scope_is_per_thread(void **state)
{
	struct jsonmem	 m = { NULL };
	json_t		*root;
	pthread_t	 t;
	void		*text;

	(void)state;
	jsonmem_begin(&m);
	root = load("[1,2,3]");
	assert_int_equal(pthread_create(&t, NULL, dump_elsewhere, NULL), 0);
	assert_int_equal(pthread_join(t, &text), 0);
	assert_string_equal(text, "{\"thread\":\"other\"}");
	free(text);
	json_decref(root);
	jsonmem_end();
	jsonmem_release(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_in_scope),
		cmocka_unit_test(test_blocks_grow),
		cmocka_unit_test(test_outside_node_freed_in_scope),
		cmocka_unit_test(test_scope_is_per_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
