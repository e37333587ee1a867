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
#define SPOOL_TMP_SUFFIX	".tmp"
#define SPOOL_FAILED		"failed"
#define SPOOL_REASON		".reason"
#define SPOOL_NAME_MAX		128
#define SPOOL_KEY_LEN		64
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
has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), sn = strlen(suffix);

	return n > sn && n < SPOOL_NAME_MAX &&
	    strcmp(name + n - sn, suffix) == 0;
}

static int
is_event_name(const char *name)
{
	return name[0] != '.' && has_suffix(name, SPOOL_SUFFIX);
}

static int
is_tmp_name(const char *name)
{
	return name[0] == '.' && has_suffix(name, SPOOL_TMP_SUFFIX);
}

/* The parts of an event file's name (is_event_name). */
struct spool_name {
	time_t	spooled;		/* when; 0 when the name does not say */
	char	key[SPOOL_KEY_LEN + 1];	/* "" when the name carries none */
	int	tries;			/* failed stores of the file's own */
	int	stem;			/* the length of the name before those */
};

/* "<seconds>.<microseconds>.<key>[.<tries>].event" */
static void
parse_name(const char *name, struct spool_name *pn)
{
	const char	*p = name;
	size_t		 n = strlen(name) - (sizeof(SPOOL_SUFFIX) - 1), i;
	int		 part;

	pn->spooled = (time_t)strtoll(name, NULL, 10);
	pn->key[0] = '\0';
	pn->tries = 0;
	if (n > 2 && name[n - 2] == '.' && name[n - 1] >= '1' &&
	    name[n - 1] <= '9') {
		pn->tries = name[n - 1] - '0';
		n -= 2;
	}
	pn->stem = (int)n;
	for (part = 0; part < 2; part++) {
		if ((i = strspn(p, "0123456789")) == 0 || p[i] != '.')
			return;
		p += i + 1;
	}
	if ((size_t)(name + n - p) == SPOOL_KEY_LEN &&
	    strspn(p, "0123456789abcdef") >= SPOOL_KEY_LEN) {
		memcpy(pn->key, p, SPOOL_KEY_LEN);
		pn->key[SPOOL_KEY_LEN] = '\0';
	}
}

/* The name of a file of stem pn with tries failed stores (0: none). */
static void
tries_name(char *dst, size_t size, const char *name,
    const struct spool_name *pn, int tries)
{
	if (tries == 0)
		snprintf(dst, size, "%.*s" SPOOL_SUFFIX, pn->stem, name);
	else
		snprintf(dst, size, "%.*s.%d" SPOOL_SUFFIX, pn->stem, name,
		    tries);
}

/*
 * Write data as name in the directory dfd, whole or not at all: a new
 * file tname is written and fsynced (with the times, if given), renamed
 * over name, and the directory fsynced.  0, or -1 with errno.
 */
static int
write_whole(int dfd, const char *tname, const char *name, const void *data,
    size_t len, const struct timespec times[2])
{
	int fd, saved;

	if ((fd = openat(dfd, tname, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1)
		return -1;
	if (write_all(fd, data, len) == -1 ||
	    (times != NULL && futimens(fd, times) == -1) || fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (renameat(dfd, tname, dfd, name) == -1 || fsync(dfd) == -1)
		goto fail;
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlinkat(dfd, tname, 0);
	errno = saved;
	return -1;
}

/* One entry of a directory in st, if it is a regular file. */
static int
stat_regular(int dfd, const char *name, struct stat *st)
{
	return fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st->st_mode);
}

int
spool_scan(const struct spool *s, struct spool_state *ss)
{
	struct spool_name pn;
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	time_t		 now = time(NULL), oldest = 0;

	memset(ss, 0, sizeof(*ss));
	ss->oldest = -1;
	if ((d = opendir(s->dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (is_event_name(de->d_name)) {
			if (!stat_regular(dirfd(d), de->d_name, &st))
				continue;
			/* The name says when; the time of a try is mtime's. */
			parse_name(de->d_name, &pn);
			if (pn.spooled == 0)
				pn.spooled = st.st_mtime;
			ss->files++;
			ss->bytes += (long)st.st_size;
			if (ss->files == 1 || pn.spooled < oldest)
				oldest = pn.spooled;
		} else if (is_tmp_name(de->d_name) &&
		    stat_regular(dirfd(d), de->d_name, &st)) {
			ss->tmp_files++;
			ss->tmp_bytes += (long)st.st_size;
		}
	}
	closedir(d);
	if (ss->files > 0)
		ss->oldest = now > oldest ? (long)(now - oldest) : 0;
	return 0;
}

int
spool_has_room(const struct spool *s)
{
	struct spool_state ss;

	if (access(s->dir, W_OK | X_OK) == -1 || spool_scan(s, &ss) == -1)
		return 0;
	return ss.files + ss.tmp_files < s->max_files &&
	    ss.bytes + ss.tmp_bytes < s->max_bytes;
}

long
spool_failed(const struct spool *s)
{
	struct dirent	*de;
	struct stat	 st;
	char		 path[PATH_MAX];
	DIR		*d;
	long		 n = 0;

	if (path_join(path, sizeof(path), s->dir, SPOOL_FAILED) == -1)
		return -1;
	if ((d = opendir(path)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL)
		if (is_event_name(de->d_name) &&
		    stat_regular(dirfd(d), de->d_name, &st))
			n++;
	closedir(d);
	return n;
}

/* The room check of spool_put: files being written count too. */
static int
check_room(const struct spool *s, size_t len, struct error *err)
{
	struct spool_state	ss;
	long			files, bytes;

	if (spool_scan(s, &ss) == -1) {
		error_set(err, ERROR_BUSY, "", "spool \"%s\" cannot be read: "
		    "%s", s->dir, strerror(errno));
		return -1;
	}
	files = ss.files + ss.tmp_files;
	bytes = ss.bytes + ss.tmp_bytes;
	if (files >= s->max_files || bytes + (long)len > s->max_bytes) {
		error_set(err, ERROR_BUSY, "", "spool \"%s\" is full (%ld "
		    "files, %ld bytes)", s->dir, files, bytes);
		return -1;
	}
	return 0;
}

int
spool_put(const struct spool *s, const char *key, const char *body,
    size_t len, struct error *err)
{
	struct timeval	tv;
	char		tname[SPOOL_NAME_MAX], name[SPOOL_NAME_MAX];
	int		dfd, rc;

	if (check_room(s, len, err) == -1)
		return -1;

	/* Threads share the pid: the count tells theirs apart. */
	gettimeofday(&tv, NULL);
	snprintf(tname, sizeof(tname), ".%.64s.%ld.%lu" SPOOL_TMP_SUFFIX, key,
	    (long)getpid(), atomic_fetch_add(&spool_seq, 1));
	snprintf(name, sizeof(name), "%010lld.%06ld.%.64s" SPOOL_SUFFIX,
	    (long long)tv.tv_sec, (long)tv.tv_usec, key);
	if ((dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		rc = -1;
	else {
		rc = write_whole(dfd, tname, name, body, len, NULL);
		close(dfd);
	}
	if (rc == -1)
		error_set(err, ERROR_BUSY, "", "spool \"%s\": %s", s->dir,
		    strerror(errno));
	return rc;
}

/* A spool directory opened for a drain or a retry. */
struct drain {
	const struct spool	*s;
	int			 dfd;		/* the spool directory */
	int			 ffd;		/* failed/, once opened; or -1 */
	uid_t			 owner;		/* of the spool directory */
	spool_store_fn		 fn;
	void			*arg;
	int			 patient;	/* keep to SPOOL_TRY_AFTER */
	struct buf		 body;
};

static int
drain_open(struct drain *d, const struct spool *s, struct error *err)
{
	struct stat st;

	memset(d, 0, sizeof(*d));
	d->s = s;
	d->ffd = -1;
	buf_init(&d->body, SPOOL_FILE_MAX);
	if ((d->dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fstat(d->dfd, &st) == -1) {
		error_set(err, ERROR_INTERNAL, "", "spool \"%s\" cannot be "
		    "read: %s", s->dir, strerror(errno));
		return -1;
	}
	d->owner = st.st_uid;
	return 0;
}

static void
drain_close(struct drain *d)
{
	if (d->ffd != -1)
		close(d->ffd);
	if (d->dfd != -1)
		close(d->dfd);
	buf_release(&d->body);
}

/* The warning for an entry that is not ours to read. */
static void
warn_skipped(const struct drain *d, const char *name, const char *why)
{
	char sname[SPOOL_NAME_MAX + 8];

	log_safe(sname, sizeof(sname), name);
	log_warn("spool: \"%s\" in \"%s\" skipped: %s", sname, d->s->dir, why);
}

/*
 * Open name in the directory dfd for reading, if it is a regular file of
 * the spool's owner: never through a link, never waiting on a FIFO (a
 * FIFO opened without a writer would block without O_NONBLOCK).  -1 when
 * it is not (a warning said why) or has gone (silently: another drainer).
 */
static int
open_own(const struct drain *d, int dfd, const char *name)
{
	struct stat	st;
	int		fd;

	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1) {
		if (errno == ELOOP)
			warn_skipped(d, name, "a symbolic link");
		else if (errno != ENOENT)
			warn_skipped(d, name, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		warn_skipped(d, name, "not a regular file");
		close(fd);
		return -1;
	}
	if (st.st_uid != d->owner) {
		warn_skipped(d, name, "not owned by the spool's owner");
		close(fd);
		return -1;
	}
	return fd;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names the directory fd holds that keep says to, sorted; or NULL. */
static char **
list_names(int fd, int (*keep)(const char *), size_t *np)
{
	struct dirent	*de;
	DIR		*d;
	char		**v = NULL, **nv;
	size_t		 n = 0, cap = 0;
	int		 dup_fd;

	*np = 0;
	if ((dup_fd = dup(fd)) == -1)
		return NULL;
	if ((d = fdopendir(dup_fd)) == NULL) {
		close(dup_fd);
		return NULL;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (!keep(de->d_name))
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

static void
free_names(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

/*
 * A temporary file older than the grace period was left by a writer that
 * died before its rename: nobody answered 200 for it.
 */
static void
sweep_tmp(struct drain *d)
{
	struct stat	  st;
	char		**names, sname[SPOOL_NAME_MAX + 8];
	size_t		  n, i;
	time_t		  now = time(NULL);

	if ((names = list_names(d->dfd, is_tmp_name, &n)) == NULL)
		return;
	for (i = 0; i < n; i++) {
		if (!stat_regular(d->dfd, names[i], &st) ||
		    st.st_uid != d->owner ||
		    now - st.st_mtime < SPOOL_TMP_GRACE)
			continue;
		if (unlinkat(d->dfd, names[i], 0) == 0) {
			log_safe(sname, sizeof(sname), names[i]);
			log_warn("spool: removed \"%s\", left by a write that "
			    "did not finish %lld s ago", sname,
			    (long long)(now - st.st_mtime));
		}
	}
	free_names(names, n);
}

/* failed/, created if create, and only if it is a directory of ours. */
static int
open_failed(struct drain *d, int create)
{
	struct stat	st;
	int		saved;

	if (d->ffd != -1)
		return 0;
	if (create && mkdirat(d->dfd, SPOOL_FAILED, 0700) == -1 &&
	    errno != EEXIST)
		goto fail;
	if ((d->ffd = openat(d->dfd, SPOOL_FAILED, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		goto fail;
	if (fstat(d->ffd, &st) == -1 || st.st_uid != d->owner) {
		close(d->ffd);
		d->ffd = -1;
		errno = EPERM;
		goto fail;
	}
	return 0;
fail:
	saved = errno;
	if (saved != ENOENT || create)
		log_err("spool: \"%s/%s\" cannot be used: %s", d->s->dir,
		    SPOOL_FAILED, saved == ELOOP || saved == ENOTDIR ?
		    "not a directory" : strerror(saved));
	errno = saved;
	return -1;
}

/*
 * The ".reason" beside a file set aside: created anew, never through a
 * link (one left by an earlier set-aside of that name is replaced;
 * unlinkat removes a link, not what it points to).
 */
static int
write_reason(int ffd, const char *rname, const struct error *e, int tries)
{
	char	text[ERROR_TEXT_MAX + 64];
	int	fd = -1, n, i, rc = -1;

	for (i = 0; i < 2 && fd == -1; i++)
		if ((fd = openat(ffd, rname, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1 &&
		    (errno != EEXIST || unlinkat(ffd, rname, 0) == -1))
			break;
	if (fd == -1)
		return -1;
	n = snprintf(text, sizeof(text), tries > 0 ? "%s %s (%d tries)\n" :
	    "%s %s\n", error_kind_name(e->kind), e->text, tries);
	if (n > 0 && write_all(fd, text, (size_t)n < sizeof(text) ?
	    (size_t)n : sizeof(text) - 1) == 0 && fsync(fd) == 0)
		rc = 0;
	close(fd);
	return rc;
}

/*
 * Keep a file that can never be stored, with the reason, out of the way,
 * under the name it was spooled with.  0, or -1 when it stays in place.
 */
static int
set_aside(struct drain *d, const char *name, const struct spool_name *pn,
    const struct error *e, int tries)
{
	char base[SPOOL_NAME_MAX], rname[SPOOL_NAME_MAX + 8];

	if (open_failed(d, 1) == -1)
		return -1;
	tries_name(base, sizeof(base), name, pn, 0);
	snprintf(rname, sizeof(rname), "%s" SPOOL_REASON, base);
	if (write_reason(d->ffd, rname, e, tries) == -1)
		log_err("spool: cannot write \"%s/%s\": %s", SPOOL_FAILED,
		    rname, strerror(errno));
	if (renameat(d->dfd, name, d->ffd, base) == -1) {
		log_err("spool: cannot move \"%s\" aside: %s", name,
		    strerror(errno));
		unlinkat(d->ffd, rname, 0);
		return -1;
	}
	fsync(d->ffd);
	fsync(d->dfd);
	log_warn("spool: %s set aside in %s/: %s", base, SPOOL_FAILED,
	    e->text);
	return 0;
}

/* What became of one file. */
enum drained {
	DRAINED_SKIPPED,	/* not ours, or another drainer has it */
	DRAINED_DONE,		/* stored, or set aside */
	DRAINED_TRIED,		/* its own store failed; counted */
	DRAINED_STOP		/* the database cannot take events now */
};

/*
 * A store that failed for a cause of the file's own: one more try
 * counted in its name (renamed under our lock: the name is the count's
 * durable record) and its time in the file's mtime, or after SPOOL_TRIES,
 * the file (fd, locked) set aside.
 */
static enum drained
count_try(struct drain *d, int fd, const char *name,
    const struct spool_name *pn, const struct error *e)
{
	char	next[SPOOL_NAME_MAX];
	int	tries = pn->tries + 1;

	if (tries >= SPOOL_TRIES)
		return set_aside(d, name, pn, e, tries) == 0 ?
		    DRAINED_DONE : DRAINED_SKIPPED;
	(void)futimens(fd, NULL);
	tries_name(next, sizeof(next), name, pn, tries);
	if (renameat(d->dfd, name, d->dfd, next) == -1)
		log_err("spool: cannot rename \"%s\": %s", name,
		    strerror(errno));
	else
		fsync(d->dfd);
	log_warn("spool: %s failed (try %d of %d): %s", next, tries,
	    SPOOL_TRIES, e->text);
	return DRAINED_TRIED;
}

/* The whole file into body; -1 with e set. */
static int
read_body(int fd, struct buf *body, struct error *e)
{
	char	chunk[8192];
	ssize_t	n;

	buf_reset(body);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(body, chunk, (size_t)n) == -1) {
			error_set(e, ERROR_TOO_LARGE, "", "over the limit of "
			    "%ld bytes", SPOOL_FILE_MAX);
			return -1;
		}
	if (n == -1) {
		error_set(e, ERROR_INTERNAL, "", "cannot read the file: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* The name still names the file fd has locked: no other drainer moved it. */
static int
still_named(int dfd, const char *name, int fd)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat_regular(dfd, name, &b) &&
	    a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

/* A file (fd) tried before may be tried again: SPOOL_TRY_AFTER has passed. */
static int
try_due(int fd, const struct spool_name *pn)
{
	struct stat	st;
	time_t		wait;

	if (pn->tries == 0 || fstat(fd, &st) == -1)
		return 1;
	wait = (time_t)SPOOL_TRY_AFTER << (pn->tries - 1);
	return time(NULL) - st.st_mtime >= wait;
}

/* Failures that trying again cannot mend: set aside at once. */
static int
is_permanent(const struct error *e)
{
	return !error_is_transient(e) && e->kind != ERROR_INTERNAL;
}

/*
 * One file: lock it so that concurrent drainers skip it, check it was not
 * moved meanwhile, store, then remove.  A failure of its own that leaves
 * it for another try goes to tried (the first only), one that stops the
 * drain to err.
 */
static enum drained
drain_one(struct drain *d, const char *name, struct error *tried,
    struct error *err)
{
	struct spool_name	pn;
	struct error		e;
	enum drained		rc = DRAINED_SKIPPED;
	int			fd, r = -1;

	if ((fd = open_own(d, d->dfd, name)) == -1)
		return DRAINED_SKIPPED;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1 || !still_named(d->dfd, name, fd))
		goto done;

	parse_name(name, &pn);
	if (d->patient && !try_due(fd, &pn))
		goto done;
	error_init(&e);
	if (read_body(fd, &d->body, &e) == 0)
		r = d->fn(d->arg, pn.key[0] != '\0' ? pn.key : NULL,
		    buf_str(&d->body), d->body.len, &e);
	if (r == 0) {
		if (unlinkat(d->dfd, name, 0) == 0)
			fsync(d->dfd);
		rc = DRAINED_DONE;
	} else if (is_permanent(&e))
		rc = set_aside(d, name, &pn, &e, 0) == 0 ? DRAINED_DONE :
		    DRAINED_SKIPPED;
	else if (r == -2) {
		if ((rc = count_try(d, fd, name, &pn, &e)) == DRAINED_TRIED)
			error_set(tried, e.kind, "", "%s", e.text);
	}
	else {
		error_set(err, e.kind, "", "%s", e.text);
		rc = DRAINED_STOP;
	}
done:
	close(fd);
	return rc;
}

int
spool_drain(const struct spool *s, spool_store_fn fn, void *arg,
    int patient, long max, long deadline_ms, long *done, struct error *err)
{
	struct drain	  d;
	struct error	  tried;	/* the first of the files' own failures */
	char		**names = NULL;
	size_t		  n = 0, i;
	long		  start = monotonic_ms();
	enum drained	  r;
	int		  rc = -1;

	*done = 0;
	error_init(&tried);
	if (drain_open(&d, s, err) == -1)
		goto out;
	d.fn = fn;
	d.arg = arg;
	d.patient = patient;
	sweep_tmp(&d);
	if ((names = list_names(d.dfd, is_event_name, &n)) == NULL) {
		error_set(err, ERROR_INTERNAL, "", "spool \"%s\" cannot be "
		    "read: %s", s->dir, strerror(errno));
		goto out;
	}
	rc = 0;
	for (i = 0; i < n; i++) {
		if ((max > 0 && *done >= max) ||
		    (deadline_ms > 0 && monotonic_ms() - start >= deadline_ms))
			break;
		if ((r = drain_one(&d, names[i], &tried, err)) ==
		    DRAINED_STOP) {
			rc = -1;
			break;
		}
		*done += r == DRAINED_DONE;
	}
	/* A file that waits for another try is not done with: say so. */
	if (rc == 0 && error_isset(&tried)) {
		error_set(err, tried.kind, "", "a file waits for another try: "
		    "%s", tried.text);
		rc = -1;
	}
out:
	free_names(names, n);
	drain_close(&d);
	return rc;
}

/* One file of failed/ back into the spool, its tries and reason gone. */
static int
put_back(struct drain *d, const char *name)
{
	struct spool_name	pn;
	struct stat		st;
	char			base[SPOOL_NAME_MAX], rname[SPOOL_NAME_MAX + 8];

	if (!stat_regular(d->ffd, name, &st) || st.st_uid != d->owner) {
		warn_skipped(d, name, "in failed/, not a regular file of the "
		    "spool's owner");
		return -1;
	}
	parse_name(name, &pn);
	tries_name(base, sizeof(base), name, &pn, 0);
	snprintf(rname, sizeof(rname), "%s" SPOOL_REASON, name);
	if (renameat(d->ffd, name, d->dfd, base) == -1) {
		log_err("spool: cannot move \"%s/%s\" back: %s", SPOOL_FAILED,
		    name, strerror(errno));
		return -1;
	}
	unlinkat(d->ffd, rname, 0);
	return 0;
}

/*
 * Open the spool and list failed/ into *names, sorted: 1, or 0 when
 * nothing was ever set aside, or -1 with err set.
 */
static int
open_aside(struct drain *d, const struct spool *s, char ***names, size_t *n,
    struct error *err)
{
	if (drain_open(d, s, err) == -1)
		return -1;
	if (open_failed(d, 0) == -1) {
		if (errno == ENOENT)
			return 0;
		error_set(err, ERROR_INTERNAL, "", "spool \"%s/%s\" cannot be "
		    "used: %s", s->dir, SPOOL_FAILED, strerror(errno));
		return -1;
	}
	if ((*names = list_names(d->ffd, is_event_name, n)) == NULL) {
		error_set(err, ERROR_INTERNAL, "", "spool \"%s/%s\" cannot be "
		    "read: %s", s->dir, SPOOL_FAILED, strerror(errno));
		return -1;
	}
	return 1;
}

int
spool_retry_failed(const struct spool *s, long *moved, struct error *err)
{
	struct drain	  d;
	char		**names = NULL;
	size_t		  n = 0, i;
	int		  r, rc = -1;

	*moved = 0;
	if ((r = open_aside(&d, s, &names, &n, err)) != 1) {
		rc = r;
		goto out;
	}
	for (i = 0; i < n; i++)
		*moved += put_back(&d, names[i]) == 0;
	if (*moved > 0) {
		fsync(d.dfd);
		fsync(d.ffd);
	}
	rc = 0;
out:
	free_names(names, n);
	drain_close(&d);
	return rc;
}

/* When the file name (in the directory dfd) was spooled; -1 if unknown. */
static time_t
spooled_at(int dfd, const char *name)
{
	struct spool_name	pn;
	struct stat		st;

	parse_name(name, &pn);
	if (pn.spooled != 0)
		return pn.spooled;
	return stat_regular(dfd, name, &st) ? st.st_mtime : -1;
}

/* One file of failed/ and its ".reason" gone; 0, or -1 with errno. */
static int
remove_failed(struct drain *d, const char *name)
{
	struct stat	st;
	char		rname[SPOOL_NAME_MAX + 8];

	if (!stat_regular(d->ffd, name, &st) || st.st_uid != d->owner) {
		warn_skipped(d, name, "in failed/, not a regular file of the "
		    "spool's owner");
		return -1;
	}
	if (unlinkat(d->ffd, name, 0) == -1) {
		log_err("spool: cannot remove \"%s/%s\": %s", SPOOL_FAILED,
		    name, strerror(errno));
		return -1;
	}
	snprintf(rname, sizeof(rname), "%s" SPOOL_REASON, name);
	unlinkat(d->ffd, rname, 0);
	return 0;
}

int
spool_prune_failed(const struct spool *s, time_t before, int dry_run,
    long *removed, struct error *err)
{
	struct drain	  d;
	char		**names = NULL;
	size_t		  n = 0, i;
	time_t		  t;
	int		  r, rc = -1;

	*removed = 0;
	if ((r = open_aside(&d, s, &names, &n, err)) != 1) {
		rc = r;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((t = spooled_at(d.ffd, names[i])) == -1 || t >= before)
			continue;
		*removed += dry_run || remove_failed(&d, names[i]) == 0;
	}
	if (*removed > 0 && !dry_run)
		fsync(d.ffd);
	rc = 0;
out:
	free_names(names, n);
	drain_close(&d);
	return rc;
}

/*
 * Write body as name in the directory dfd in place of the file fd, with
 * its times.  0, or -1 with errno.
 */
static int
replace_file(int dfd, const char *name, int fd, const struct buf *body)
{
	struct timespec	times[2];
	struct stat	st;
	char		tname[SPOOL_NAME_MAX];

	if (fstat(fd, &st) == -1)
		return -1;
	times[0] = st.st_atim;
	times[1] = st.st_mtim;
	snprintf(tname, sizeof(tname), ".edit.%ld.%lu" SPOOL_TMP_SUFFIX,
	    (long)getpid(), atomic_fetch_add(&spool_seq, 1));
	return write_whole(dfd, tname, name, buf_str(body), body->len, times);
}

/* What spool_edit does to the files of one directory. */
struct edit {
	spool_edit_fn	 fn;
	void		*arg;
	int		 dry_run;
	long		 changed;
	long		 moved;		/* renamed or gone under our hands */
	struct buf	 out;
};

/* One file: locked (waiting for a drain that has it), read, edited. */
static int
edit_one(struct drain *d, int dfd, const char *name, struct edit *ed,
    struct error *err)
{
	struct error	e;
	int		fd, r = -1;

	if ((fd = open_own(d, dfd, name)) == -1) {
		ed->moved += errno == ENOENT;
		return 0;
	}
	if (flock(fd, LOCK_EX) == -1 || !still_named(dfd, name, fd)) {
		ed->moved++;
		close(fd);
		return 0;
	}
	error_init(&e);
	buf_reset(&ed->out);
	if (read_body(fd, &d->body, &e) == 0)
		r = ed->fn(ed->arg, buf_str(&d->body), d->body.len, &ed->out,
		    &e);
	if (r == 1 && !ed->dry_run &&
	    replace_file(dfd, name, fd, &ed->out) == -1) {
		error_set(&e, ERROR_INTERNAL, "", "cannot rewrite: %s",
		    strerror(errno));
		r = -1;
	}
	close(fd);
	if (r == -1) {
		error_set(err, e.kind, "", "spool file \"%s\": %s", name,
		    e.text);
		return -1;
	}
	ed->changed += r;
	return 0;
}

/* Every event file of the directory dfd through edit_one. */
static int
edit_dir(struct drain *d, int dfd, struct edit *ed, struct error *err)
{
	char	**names;
	size_t	  n, i;
	int	  rc = 0;

	if ((names = list_names(dfd, is_event_name, &n)) == NULL) {
		error_set(err, ERROR_INTERNAL, "", "spool \"%s\" cannot be "
		    "read: %s", d->s->dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++)
		rc = edit_one(d, dfd, names[i], ed, err);
	free_names(names, n);
	return rc;
}

int
spool_edit(const struct spool *s, spool_edit_fn fn, void *arg, int dry_run,
    long *changed, struct error *err)
{
	struct drain	d;
	struct edit	ed;
	int		pass, rc = -1;

	*changed = 0;
	memset(&ed, 0, sizeof(ed));
	ed.fn = fn;
	ed.arg = arg;
	ed.dry_run = dry_run;
	buf_init(&ed.out, SPOOL_FILE_MAX);
	if (drain_open(&d, s, err) == -1)
		goto out;
	/*
	 * A drain that counts a try renames its file, and one that sets a
	 * file aside moves it to failed/: look again while files moved (a
	 * dry run, which changes nothing, would count them twice).
	 */
	for (pass = 0; pass == 0 || (ed.moved > 0 && !dry_run && pass < 3);
	    pass++) {
		ed.moved = 0;
		if (open_failed(&d, 0) == -1 && errno != ENOENT) {
			error_set(err, ERROR_INTERNAL, "", "spool \"%s/%s\" "
			    "cannot be used: %s", s->dir, SPOOL_FAILED,
			    strerror(errno));
			goto out;
		}
		if (edit_dir(&d, d.dfd, &ed, err) == -1 ||
		    (d.ffd != -1 && edit_dir(&d, d.ffd, &ed, err) == -1))
			goto out;
	}
	*changed = ed.changed;
	rc = 0;
out:
	drain_close(&d);
	buf_release(&ed.out);
	return rc;
}
