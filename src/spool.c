/* Durable files for events that arrive while the database is away. */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "spool.h"
#include "util.h"

#define SPOOL_SUFFIX		".event"
#define SPOOL_FAILED		"failed"
#define SPOOL_NAME_MAX		128
#define SPOOL_FILE_MAX		(64L * 1024 * 1024)

/* Temporary files of this process, numbered. */
static atomic_ulong	spool_seq;

void
spool_init(struct spool *s, const char *dir, long max_files, long max_bytes)
{
	s->dir = dir;
	s->max_files = max_files;
	s->max_bytes = max_bytes;
}

/* dir/name into dst; -1 (ENAMETOOLONG) rather than a cut path. */
static int
path_join(char *dst, size_t size, const char *dir, const char *name)
{
	int n = snprintf(dst, size, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int
is_event_name(const char *name)
{
	size_t n = strlen(name), sn = sizeof(SPOOL_SUFFIX) - 1;

	return name[0] != '.' && n > sn && n < SPOOL_NAME_MAX &&
	    strcmp(name + n - sn, SPOOL_SUFFIX) == 0;
}

static int
fsync_dir(const char *dir)
{
	int fd, rc;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

long
spool_count(const struct spool *s, long *bytes)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	long		 n = 0;

	if (bytes != NULL)
		*bytes = 0;
	if ((d = opendir(s->dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!is_event_name(de->d_name))
			continue;
		n++;
		if (bytes != NULL && fstatat(dirfd(d), de->d_name, &st, 0) == 0)
			*bytes += (long)st.st_size;
	}
	closedir(d);
	return n;
}

int
spool_has_room(const struct spool *s)
{
	long files, bytes;

	if (access(s->dir, W_OK | X_OK) == -1 ||
	    (files = spool_count(s, &bytes)) == -1)
		return 0;
	return files < s->max_files && bytes < s->max_bytes;
}

int
spool_put(const struct spool *s, const char *key, const char *body,
    size_t len, struct error *err)
{
	struct timeval	tv;
	char		tmp[PATH_MAX], path[PATH_MAX];
	char		tname[SPOOL_NAME_MAX], name[SPOOL_NAME_MAX];
	long		files, bytes;
	int		fd = -1;

	if ((files = spool_count(s, &bytes)) == -1) {
		error_set(err, ERROR_BUSY, "", "spool \"%s\" cannot be read: "
		    "%s", s->dir, strerror(errno));
		return -1;
	}
	if (files >= s->max_files || bytes + (long)len > s->max_bytes) {
		error_set(err, ERROR_BUSY, "", "spool \"%s\" is full (%ld "
		    "files, %ld bytes)", s->dir, files, bytes);
		return -1;
	}

	/* Threads share the pid: the count tells theirs apart. */
	gettimeofday(&tv, NULL);
	snprintf(tname, sizeof(tname), ".%.64s.%ld.%lu.tmp", key,
	    (long)getpid(), atomic_fetch_add(&spool_seq, 1));
	snprintf(name, sizeof(name), "%010lld.%06ld.%.64s" SPOOL_SUFFIX,
	    (long long)tv.tv_sec, (long)tv.tv_usec, key);
	if (path_join(tmp, sizeof(tmp), s->dir, tname) == -1 ||
	    path_join(path, sizeof(path), s->dir, name) == -1) {
		error_set(err, ERROR_BUSY, "", "spool \"%.80s\": path too long",
		    s->dir);
		return -1;
	}

	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		error_set(err, ERROR_BUSY, "", "spool \"%s\": %s", s->dir,
		    strerror(errno));
		return -1;
	}
	if (write_all(fd, body, len) == -1 || fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1 || fsync_dir(s->dir) == -1)
		goto fail;
	return 0;
fail:
	error_set(err, ERROR_BUSY, "", "spool \"%s\": %s", s->dir,
	    strerror(errno));
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return -1;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the waiting files; caller frees each and the array. */
static char **
list_events(const char *dir, size_t *np)
{
	struct dirent	*de;
	DIR		*d;
	char		**v = NULL, **nv;
	size_t		 n = 0, cap = 0;

	*np = 0;
	if ((d = opendir(dir)) == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (!is_event_name(de->d_name))
			continue;
		if (n == cap) {
			cap = cap != 0 ? cap * 2 : 64;
			if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL)
				goto nomem;
			v = nv;
		}
		if ((v[n] = strdup(de->d_name)) == NULL)
			goto nomem;
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(v, n, sizeof(*v), by_name);
	*np = n;
	return v != NULL ? v : calloc(1, sizeof(*v));
nomem:
	closedir(d);
	while (n > 0)
		free(v[--n]);
	free(v);
	return NULL;
}

/* Keep a file that can never be stored, with the reason, out of the way. */
static void
set_aside(const struct spool *s, const char *name, const struct error *e)
{
	char	dir[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
	char	rname[SPOOL_NAME_MAX + 8], reason[PATH_MAX];
	FILE	*f;

	snprintf(rname, sizeof(rname), "%s.reason", name);
	if (path_join(dir, sizeof(dir), s->dir, SPOOL_FAILED) == -1 ||
	    path_join(from, sizeof(from), s->dir, name) == -1 ||
	    path_join(to, sizeof(to), dir, name) == -1 ||
	    path_join(reason, sizeof(reason), dir, rname) == -1) {
		log_err("spool: path too long in \"%s\"", s->dir);
		return;
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		log_err("spool: cannot create \"%s\": %s", dir,
		    strerror(errno));
		return;
	}
	if ((f = fopen(reason, "w")) != NULL) {
		fprintf(f, "%s %s\n", error_kind_name(e->kind), e->text);
		fflush(f);
		fsync(fileno(f));
		fclose(f);
	}
	if (rename(from, to) == -1) {
		log_err("spool: cannot move \"%s\" aside: %s", name,
		    strerror(errno));
		return;
	}
	fsync_dir(dir);
	fsync_dir(s->dir);
	log_warn("spool: %s set aside in %s/: %s", name, SPOOL_FAILED,
	    e->text);
}

/*
 * One file: lock it so that concurrent drainers skip it, check it was not
 * removed meanwhile, store, then remove.  1 done, 0 skipped, -1 stop.
 */
static int
drain_one(const struct spool *s, const char *name, spool_store_fn fn,
    void *arg, struct buf *body, struct error *err)
{
	struct stat	st;
	struct error	e;
	char		path[PATH_MAX], chunk[8192];
	ssize_t		n;
	int		fd, rc = 0;

	if (path_join(path, sizeof(path), s->dir, name) == -1 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1 || fstat(fd, &st) == -1 ||
	    st.st_nlink == 0)
		goto done;

	buf_reset(body);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(body, chunk, (size_t)n) == -1)
			break;
	error_init(&e);
	if (n != 0)
		error_set(&e, ERROR_TOO_LARGE, "", "cannot read the file "
		    "whole");
	else if (fn(arg, buf_str(body), body->len, &e) == 0) {
		if (unlink(path) == 0)
			fsync_dir(s->dir);
		rc = 1;
		goto done;
	}
	if (error_is_transient(&e)) {
		error_set(err, e.kind, "", "%s", e.text);
		rc = -1;
		goto done;
	}
	set_aside(s, name, &e);
	rc = 1;
done:
	close(fd);
	return rc;
}

int
spool_drain(const struct spool *s, spool_store_fn fn, void *arg, long max,
    long deadline_ms, long *done, struct error *err)
{
	struct buf	  body;
	char		**names;
	size_t		  n, i;
	long		  start = monotonic_ms();
	int		  r, rc = 0;

	*done = 0;
	if ((names = list_events(s->dir, &n)) == NULL) {
		error_set(err, ERROR_INTERNAL, "", "spool \"%s\" cannot be "
		    "read: %s", s->dir, strerror(errno));
		return -1;
	}
	buf_init(&body, SPOOL_FILE_MAX);
	for (i = 0; i < n; i++) {
		if ((max > 0 && *done >= max) ||
		    (deadline_ms > 0 && monotonic_ms() - start >= deadline_ms))
			break;
		if ((r = drain_one(s, names[i], fn, arg, &body, err)) == -1) {
			rc = -1;
			break;
		}
		*done += r;
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	buf_release(&body);
	return rc;
}
