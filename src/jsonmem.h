/* jansson's memory: the tree of one body in blocks that go with it. */
#ifndef MW_JSONMEM_H
#define MW_JSONMEM_H

struct jsonmem_block;

/*
 * The blocks holding what jansson allocated for one body while it was in
 * scope.  Freeing a node of it costs nothing while the scope is that of
 * the same jsonmem; the blocks are handed back together by
 * jsonmem_release.  A tree decoded in scope is therefore released as
 *
 *	jsonmem_begin(&m); json_decref(root); jsonmem_end();
 *	jsonmem_release(&m);
 *
 * Out of scope jansson uses malloc and free as usual: what it returns
 * then (json_dumps) is freed with free().  So it does in scope too in a
 * build with AddressSanitizer, which then sees every node on its own.
 */
struct jsonmem {
	struct jsonmem_block	*blocks;	/* owned; the newest first */
};

/*
 * Until jsonmem_end, jansson's allocations in this thread go into m (but
 * for large ones, which stay malloc's).  Scopes do not nest.
 */
void	jsonmem_begin(struct jsonmem *m);
void	jsonmem_end(void);
/* Hand back m's blocks: nothing allocated in them may be used after. */
void	jsonmem_release(struct jsonmem *m);

#endif
