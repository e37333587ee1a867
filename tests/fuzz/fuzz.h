/* What the libFuzzer targets share: promises checked, answers written. */
#ifndef MW_FUZZ_H
#define MW_FUZZ_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "io.h"
#include "response.h"

/*
 * A broken promise of a header is a crash, so that libFuzzer keeps the
 * input: the sanitizers only see memory errors and undefined behaviour.
 */
#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: broken promise: %s\n",		\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/*
 * Every refusal can be answered: the handler sends err as the JSON body
 * {"error": text}.  When it cannot, say which error, bytes escaped.
 */
static inline void
fuzz_check_answer(const struct error *err)
{
	const unsigned char	*c;
	struct buf		 out;
	struct io		 io;
	int			 rc;

	buf_init(&out, 64 * 1024);
	io_init_mem(&io, NULL, NULL, 0, &out);
	if ((rc = response_error(&io, err, 0)) != 0) {
		fprintf(stderr, "no answer for the error %s \"",
		    error_kind_name(err->kind));
		for (c = (const unsigned char *)err->text; *c != '\0'; c++)
			if (*c >= 0x20 && *c < 0x7f)
				fputc(*c, stderr);
			else
				fprintf(stderr, "\\x%02x", *c);
		fprintf(stderr, "\"\n");
	}
	CHECK(rc == 0);
	CHECK(out.len > 0 && strncmp(out.data, "Status: ", 8) == 0);
	buf_release(&out);
}

#endif
