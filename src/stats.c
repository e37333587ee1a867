/* The responders' counters, shared through a file in the state directory. */
#include "config.h"

#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "stats.h"

_Static_assert(sizeof(struct stats_slot) % 64 == 0,
    "a slot is not a whole number of cache lines");

static const int statuses[STATS_STATUSES - 1] = {
	200, 400, 401, 405, 411, 413, 415, 422, 500, 503
};
/* 5 ms to 10 s; the last bucket is +Inf. */
static const long duration_le[STATS_DURATION_BUCKETS - 1] = {
	5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
	2500000, 5000000, 10000000
};

/* What stats_open mapped, for this process and the children it forks. */
static struct stats_header	*stats_map;
static struct stats_slot	*stats_mine;

#define STATS_LEN \
	(sizeof(struct stats_header) + STATS_SLOTS * sizeof(struct stats_slot))

int
stats_status_code(size_t i)
{
	return i < STATS_STATUSES - 1 ? statuses[i] : 0;
}

size_t
stats_status_index(int status)
{
	size_t i;

	for (i = 0; i < STATS_STATUSES - 1; i++)
		if (statuses[i] == status)
			return i;
	return STATS_STATUSES - 1;
}

long
stats_duration_le(size_t i)
{
	return i < STATS_DURATION_BUCKETS - 1 ? duration_le[i] : -1;
}

long
stats_batch_le(size_t i)
{
	return i < STATS_BATCH_BUCKETS - 1 ? 1L << i : -1;
}

static int
header_ok(const struct stats_header *h)
{
	return h->magic == STATS_MAGIC && h->version == STATS_VERSION &&
	    h->slots == STATS_SLOTS && h->slot_size == sizeof(struct stats_slot);
}

static struct stats_slot *
slots_of(const struct stats_header *h)
{
	return (struct stats_slot *)(void *)((char *)(uintptr_t)h +
	    sizeof(*h));
}

/* An empty file, or one just made: the header and zeroed slots. */
static int
init_file(int fd)
{
	struct stats_header h;

	memset(&h, 0, sizeof(h));
	h.magic = STATS_MAGIC;
	h.version = STATS_VERSION;
	h.slots = STATS_SLOTS;
	h.slot_size = sizeof(struct stats_slot);
	h.created = (int64_t)time(NULL);
	/* Readable by whoever monitors the service, whatever the umask. */
	if (ftruncate(fd, (off_t)STATS_LEN) == -1 || fchmod(fd, 0644) == -1 ||
	    pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return -1;
	return 0;
}

/*
 * A file of another layout (another version) is replaced by a new one:
 * renamed over it, so that processes that still map the old one go on
 * counting there unharmed.
 */
static int
replace_file(const char *path)
{
	char	tmp[PATH_MAX];
	int	fd, rc = -1;

	if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path,
	    (long)getpid()) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0644)) == -1)
		return -1;
	if (init_file(fd) == 0 && rename(tmp, path) == 0)
		rc = 0;
	else
		(void)unlink(tmp);
	close(fd);
	return rc;
}

/*
 * One try at opening path under its lock: 0 mapped, 1 to try again (the
 * file was replaced meanwhile, or had another layout and now has not),
 * -1 with errno.
 */
static int
open_once(const char *path)
{
	struct stat	 st, now;
	void		*map;
	int		 fd, rc = -1;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0644)) == -1)
		return -1;
	if (flock(fd, LOCK_EX) == -1 || fstat(fd, &st) == -1)
		goto done;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto done;
	}
	if (stat(path, &now) == -1 || now.st_ino != st.st_ino ||
	    now.st_dev != st.st_dev) {
		rc = 1;
		goto done;
	}
	if (st.st_size == 0) {
		if (init_file(fd) == -1)
			goto done;
		st.st_size = (off_t)STATS_LEN;
	}
	if (st.st_size == (off_t)STATS_LEN) {
		map = mmap(NULL, STATS_LEN, PROT_READ | PROT_WRITE, MAP_SHARED,
		    fd, 0);
		if (map == MAP_FAILED)
			goto done;
		if (header_ok(map)) {
			stats_map = map;
			rc = 0;
			goto done;
		}
		munmap(map, STATS_LEN);
	}
	rc = replace_file(path) == 0 ? 1 : -1;
done:
	/* The mapping holds the file open, and with it a lock not undone. */
	(void)flock(fd, LOCK_UN);
	close(fd);
	return rc;
}

/* DIR/counters into path; 0, or -1 with err set and errno. */
static int
counters_path(char path[PATH_MAX], const char *dir, struct error *err)
{
	if (snprintf(path, PATH_MAX, "%s/" STATS_FILE, dir) < PATH_MAX)
		return 0;
	error_set(err, ERROR_INTERNAL, "", "counters: \"%.80s\": path too "
	    "long", dir);
	errno = ENAMETOOLONG;
	return -1;
}

int
stats_open(const char *dir, struct error *err)
{
	char	path[PATH_MAX];
	int	tries, r = 1, saved;

	stats_close();
	if (counters_path(path, dir, err) == -1)
		return -1;
	for (tries = 0; tries < 3 && r == 1; tries++)
		r = open_once(path);
	if (r == 0)
		return 0;
	saved = errno;
	error_set(err, ERROR_INTERNAL, "", "counters: \"%.160s\": %s", path,
	    r == 1 ? "replaced again and again" : strerror(saved));
	errno = saved;
	return -1;
}

void
stats_start(const char *dir, int quiet)
{
	struct error err;

	error_init(&err);
	if (stats_open(dir, &err) == 0 || quiet)
		return;
	log_warn("%s; serving without counting (MEETERGO_WEBHOOK_STATE_DIR)",
	    err.text);
}

/* 1 when the process is gone; a zombie, or another user's, is not. */
static int
gone(int32_t pid)
{
	return pid > 0 && kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

int
stats_claim(void)
{
	struct stats_slot	*slots;
	int32_t			 self = (int32_t)getpid(), pid;
	size_t			 i;

	stats_mine = NULL;
	if (stats_map == NULL)
		return -1;
	slots = slots_of(stats_map);
	for (i = 0; i < STATS_SLOTS; i++) {
		pid = __atomic_load_n(&slots[i].pid, __ATOMIC_ACQUIRE);
		if (pid != 0 && pid != self && !gone(pid))
			continue;
		/* Lost to another process: look further. */
		if (__atomic_compare_exchange_n(&slots[i].pid, &pid, self, 0,
		    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			stats_mine = &slots[i];
			return 0;
		}
	}
	log_warn("counters: all %d slots belong to running processes; this "
	    "one serves without counting", STATS_SLOTS);
	return -1;
}

void
stats_close(void)
{
	if (stats_map != NULL)
		munmap(stats_map, STATS_LEN);
	stats_map = NULL;
	stats_mine = NULL;
}

static void
add(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

void
stats_request(int status, long duration_us)
{
	size_t i;

	if (stats_mine == NULL)
		return;
	if (duration_us < 0)
		duration_us = 0;
	for (i = 0; i < STATS_DURATION_BUCKETS - 1 &&
	    duration_us > duration_le[i]; i++)
		;
	add(&stats_mine->requests[stats_status_index(status)], 1);
	add(&stats_mine->durations[i], 1);
	add(&stats_mine->duration_us, (uint64_t)duration_us);
}

void
stats_event(size_t outcome)
{
	if (stats_mine != NULL && outcome < STATS_OUTCOMES)
		add(&stats_mine->events[outcome], 1);
}

void
stats_event_type(enum event_type type)
{
	if (stats_mine != NULL && (size_t)type < STATS_TYPES)
		add(&stats_mine->types[type], 1);
}

void
stats_batch(size_t events)
{
	size_t i;

	if (stats_mine == NULL)
		return;
	for (i = 0; i < STATS_BATCH_BUCKETS - 1 &&
	    events > (size_t)stats_batch_le(i); i++)
		;
	add(&stats_mine->batches[i], 1);
	add(&stats_mine->batch_events, events);
}

void
stats_reconnect(void)
{
	if (stats_mine != NULL)
		add(&stats_mine->reconnects, 1);
}

static void
view_of(struct stats_view *v, const struct stats_header *h)
{
	v->header = h;
	v->slots = slots_of(h);
	v->nslots = STATS_SLOTS;
}

int
stats_view_open(struct stats_view *v, const char *dir, struct error *err)
{
	char		 path[PATH_MAX];
	struct stat	 st;
	void		*map = MAP_FAILED;
	int		 fd;

	memset(v, 0, sizeof(*v));
	if (counters_path(path, dir, err) == -1)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		error_set(err, ERROR_INTERNAL, "", "\"%.160s\": %s%s", path,
		    strerror(errno), errno == ENOENT ? " (no responder has "
		    "counted in MEETERGO_WEBHOOK_STATE_DIR)" : "");
		return -1;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size == (off_t)STATS_LEN)
		map = mmap(NULL, STATS_LEN, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED || !header_ok(map)) {
		if (map != MAP_FAILED)
			munmap(map, STATS_LEN);
		error_set(err, ERROR_INTERNAL, "", "\"%.160s\" is not a "
		    "counters file of this version", path);
		return -1;
	}
	view_of(v, map);
	v->map = map;
	v->len = STATS_LEN;
	return 0;
}

int
stats_view_mine(struct stats_view *v)
{
	memset(v, 0, sizeof(*v));
	if (stats_map == NULL)
		return -1;
	view_of(v, stats_map);
	return 0;
}

void
stats_view_close(struct stats_view *v)
{
	if (v->map != NULL)
		munmap(v->map, v->len);
	memset(v, 0, sizeof(*v));
}

long
stats_view_running(const struct stats_view *v)
{
	int32_t	pid;
	size_t	i;
	long	n = 0;

	for (i = 0; i < v->nslots; i++) {
		pid = __atomic_load_n(&v->slots[i].pid, __ATOMIC_RELAXED);
		if (pid > 0 && !gone(pid))
			n++;
	}
	return n;
}
