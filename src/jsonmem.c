/* jansson's memory: the tree of one body in blocks that go with it. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "jsonmem.h"

/*
 * Decoding a 1.5 KB body makes jansson call malloc and free some 200
 * times each, a tenth of the request's instructions.  In scope, an
 * allocation is a few additions in the scope's newest block instead, and
 * the free of anything in the scope's blocks nothing.  Out of scope, and
 * for large allocations, these are malloc and free themselves, so that
 * what jansson returns then (json_dumps) is freed with free().
 */
#define JSONMEM_FIRST	(16 * 1024)	/* the first block's bytes */
#define JSONMEM_LAST	(1024 * 1024)	/* no block grows past this */
#define JSONMEM_LARGE	(4 * 1024)	/* larger ones are malloc's */

struct jsonmem_block {
	struct jsonmem_block	*next;
	size_t			 used, size;
	uint64_t		 data[];	/* jansson needs 8-byte alignment */
};

static _Thread_local struct jsonmem	*scope;

/* A block with room for need bytes at the head of m, or NULL. */
static struct jsonmem_block *
room(struct jsonmem *m, size_t need)
{
	struct jsonmem_block	*b = m->blocks;
	size_t			 size;

	if (b != NULL && b->size - b->used >= need)
		return b;
	size = b == NULL ? JSONMEM_FIRST : b->size >= JSONMEM_LAST / 2 ?
	    JSONMEM_LAST : 2 * b->size;
	if ((b = malloc(sizeof(*b) + size)) == NULL)
		return NULL;
	b->next = m->blocks;
	b->used = 0;
	b->size = size;
	m->blocks = b;
	return b;
}

static void *
jsonmem_malloc(size_t n)
{
	struct jsonmem_block	*b;
	size_t			 need = (n + 7) & ~(size_t)7;
	void			*p;

	if (scope == NULL || n > JSONMEM_LARGE)
		return malloc(n);
	if ((b = room(scope, need)) == NULL)
		return NULL;
	p = (char *)b->data + b->used;
	b->used += need;
	return p;
}

/* Whether p is in one of m's blocks. */
static int
in_blocks(const struct jsonmem *m, const void *p)
{
	const struct jsonmem_block	*b;
	uintptr_t			 a = (uintptr_t)p, from;

	for (b = m->blocks; b != NULL; b = b->next) {
		from = (uintptr_t)b->data;
		if (a >= from && a < from + b->used)
			return 1;
	}
	return 0;
}

static void
jsonmem_free(void *p)
{
	if (p != NULL && scope != NULL && in_blocks(scope, p))
		return;
	free(p);
}

/*
 * AddressSanitizer sees a block as one allocation, and a node used after
 * its free inside it as nothing wrong: a sanitizer build leaves jansson
 * to malloc and free, node by node, and the scopes hold no blocks.
 */
#if defined(__SANITIZE_ADDRESS__)
#define JSONMEM_ON	0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define JSONMEM_ON	0
#endif
#endif
#ifndef JSONMEM_ON
#define JSONMEM_ON	1
#endif

/*
 * Before main, so that no json_t of the process was allocated by other
 * functions than these.
 */
__attribute__((constructor)) static void
jsonmem_install(void)
{
	if (JSONMEM_ON)
		json_set_alloc_funcs(jsonmem_malloc, jsonmem_free);
}

void
jsonmem_begin(struct jsonmem *m)
{
	scope = m;
}

void
jsonmem_end(void)
{
	scope = NULL;
}

void
jsonmem_release(struct jsonmem *m)
{
	struct jsonmem_block *b, *next;

	for (b = m->blocks; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	m->blocks = NULL;
}
