/* test_hyp_gnt.c: hyp's grant sharing and mapping against a faked
 * libxengnttab. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_hyp_mock.h"

static struct hyp_gntshr *shr_open_ok(void)
{
	struct hyp_gntshr *gs = NULL;

	MOCK_OK(xengntshr_open);
	assert_int_equal(hyp_gntshr_open(&gs), 0);
	assert_non_null(gs);
	return gs;
}

static struct hyp_gnttab *tab_open_ok(void)
{
	struct hyp_gnttab *gt = NULL;

	MOCK_OK(xengnttab_open);
	assert_int_equal(hyp_gnttab_open(&gt), 0);
	assert_non_null(gt);
	return gt;
}

/* Xen 4.17's libxengnttab opens gntalloc without O_CLOEXEC: hyp sets it,
 * so that a program a child execs does not inherit the device. */
static void test_gntshr_fd_closes_on_exec(void **state)
{
	struct hyp_gntshr *gs;

	(void)state;
	mock.gntshr_fd = eventfd(0, 0);
	assert_true(mock.gntshr_fd >= 0);
	assert_int_equal(fcntl(mock.gntshr_fd, F_GETFD) & FD_CLOEXEC, 0);
	gs = shr_open_ok();
	assert_int_equal(fcntl(mock.gntshr_fd, F_GETFD) & FD_CLOEXEC,
			 FD_CLOEXEC);
	/* The fakes refuse unshare(): the old way, which says why. */
	assert_string_equal(hyp_gntshr_open_fallback(gs),
			    "unshare(CLONE_FILES): Operation not permitted");
	hyp_gntshr_close(gs);
	close(mock.gntshr_fd);
	/* No descriptor to be had: the open still succeeds. */
	mock.gntshr_fd = -1;
	hyp_gntshr_close(shr_open_ok());
}

/* A thread that forks while another opens gntalloc: the child must not
 * get the descriptor before hyp made it close-on-exec, which hyp does
 * after the library's open returns.  The fake open lets the forker go and
 * takes 200 ms; the forker's child reports the flag it inherited. */
static int opening;    /* the fake open has begun */

static void open_slowly(void)
{
	__atomic_store_n(&opening, 1, __ATOMIC_RELEASE);
	usleep(200 * 1000);
}

static void *fork_during_open(void *arg)
{
	int *status = arg;
	pid_t pid;

	while (!__atomic_load_n(&opening, __ATOMIC_ACQUIRE))
		usleep(1000);
	pid = fork();
	if (pid == 0)
		_exit(fcntl(mock.gntshr_fd, F_GETFD) & FD_CLOEXEC ? 0 : 1);
	if (pid < 0 || waitpid(pid, status, 0) != pid)
		*status = -1;
	return NULL;
}

static void test_fork_waits_for_cloexec(void **state)
{
	pthread_t forker;
	int status = -1;

	(void)state;
	mock.gntshr_fd = eventfd(0, 0);
	assert_true(mock.gntshr_fd >= 0);
	mock.in_gntshr_open = open_slowly;
	opening = 0;
	assert_int_equal(pthread_create(&forker, NULL, fork_during_open,
					&status), 0);
	hyp_gntshr_close(shr_open_ok());
	assert_int_equal(pthread_join(forker, NULL), 0);
	/* 1: the child had the descriptor without the flag. */
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(mock.gntshr_fd);
}

/* The open unseen by other threads: the library's open runs in a thread
 * of hyp's with an unshared table, and the process's table gets the
 * descriptor, at the number the library's handle names, with the flag.
 * The fake open opens /dev/null read-write; the placeholder that held the
 * number was read-only. */
static void test_gntshr_unseen_open(void **state)
{
	struct hyp_gntshr *gs = NULL;
	int fd;

	(void)state;
	mock.gntshr_unseen = true;
	assert_int_equal(hyp_gntshr_open(&gs), 0);
	fd = hyp_gntshr_fd(gs);
	assert_true(fd >= 0);
	assert_int_equal(fd, mock.gntshr_fd);
	assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
	assert_null(hyp_gntshr_open_fallback(gs));
	hyp_gntshr_close(gs);
	assert_int_equal(mock.gntshr_close, 1);
	close(fd);   /* the fake's close leaves it */
}

/* A library whose descriptor is not the lowest free number (the first
 * fake open moves it up to 100, free in this test): the unseen open cannot put it at
 * the placeholder's number, so it falls back, and says so. */
static int moves;

static void move_descriptor_up(void)
{
	if (moves++ == 0) {
		int up = fcntl(mock.gntshr_fd, F_DUPFD, 100);

		close(mock.gntshr_fd);
		mock.gntshr_fd = up;
	}
}

static void test_gntshr_unseen_not_at_placeholder(void **state)
{
	struct hyp_gntshr *gs = NULL;
	char want[96];
	int fd, free_fd;

	(void)state;
	/* The number the placeholder will get: the lowest free one. */
	free_fd = open("/dev/null", O_RDONLY);
	assert_true(free_fd >= 0 && free_fd < 100);
	close(free_fd);
	mock.gntshr_unseen = true;
	mock.in_gntshr_open = move_descriptor_up;
	moves = 0;
	assert_int_equal(hyp_gntshr_open(&gs), 0);
	assert_int_equal(moves, 2);
	fd = hyp_gntshr_fd(gs);
	assert_int_equal(fd, mock.gntshr_fd);
	assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	snprintf(want, sizeof(want), "the library's descriptor was 100, not "
		 "the free %d", free_fd);
	assert_non_null(hyp_gntshr_open_fallback(gs));
	assert_string_equal(hyp_gntshr_open_fallback(gs), want);
	hyp_gntshr_close(gs);
	close(fd);   /* the fake's close leaves it */
}

/* A program another thread starts with posix_spawn() (no fork handlers:
 * system() and popen() do the same) while the library's open runs: it
 * must not inherit the device.  The fake open lets the spawner go and
 * takes 200 ms; the program is this test run again, asked whether the
 * descriptor the fake opened is open in it.  With the open in the
 * process's table (the fallback), it is. */
static int spawn_status = -1;
static sem_t open_begun;

static void signal_open_begun(void)
{
	sem_post(&open_begun);
	usleep(200 * 1000);
}

static void *spawn_during_open(void *arg)
{
	char nr[16];
	char *argv[] = { "test_hyp_gnt", "--fd-closed", nr, NULL };
	pid_t pid;
	int status;

	(void)arg;
	while (sem_wait(&open_begun) < 0)
		;
	snprintf(nr, sizeof(nr), "%d", mock.gntshr_fd);
	if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv,
			environ) == 0 &&
	    waitpid(pid, &status, 0) == pid && WIFEXITED(status))
		spawn_status = WEXITSTATUS(status);
	return NULL;
}

static void test_spawn_during_open(void **state)
{
	struct hyp_gntshr *gs = NULL;
	pthread_t spawner;

	(void)state;
	mock.gntshr_unseen = true;
	mock.in_gntshr_open = signal_open_begun;
	spawn_status = -1;
	assert_int_equal(sem_init(&open_begun, 0, 0), 0);
	assert_int_equal(pthread_create(&spawner, NULL, spawn_during_open,
					NULL), 0);
	assert_int_equal(hyp_gntshr_open(&gs), 0);
	assert_int_equal(pthread_join(spawner, NULL), 0);
	sem_destroy(&open_begun);
	/* 1: the program had the descriptor. */
	assert_int_equal(spawn_status, 0);
	close(hyp_gntshr_fd(gs));
	hyp_gntshr_close(gs);
}

static void test_open_failures(void **state)
{
	struct hyp_gntshr *gs = NULL;
	struct hyp_gnttab *gt = NULL;

	MOCK_FAIL(xengntshr_open, ENOENT);
	assert_int_equal(hyp_gntshr_open(&gs), -ENOENT);
	assert_null(gs);
	MOCK_FAIL(xengntshr_open, MOCK_NO_ERRNO);
	assert_int_equal(hyp_gntshr_open(&gs), -EIO);
	MOCK_FAIL(xengnttab_open, EACCES);
	assert_int_equal(hyp_gnttab_open(&gt), -EACCES);
	assert_null(gt);
	assert_int_equal(hyp_gntshr_open(NULL), -EINVAL);
	assert_int_equal(hyp_gnttab_open(NULL), -EINVAL);
	assert_int_equal(mock.gntshr_close + mock.gnttab_close, 0);
}

static void test_close(void **state)
{
	hyp_gntshr_close(shr_open_ok());
	hyp_gnttab_close(tab_open_ok());
	hyp_gntshr_close(NULL);
	hyp_gnttab_close(NULL);
	assert_int_equal(mock.gntshr_close, 1);
	assert_int_equal(mock.gnttab_close, 1);
}

static void test_share_pages_ro_rw(void **state)
{
	struct hyp_gntshr *gs = shr_open_ok();
	grant_ref_t refs[4] = { 0 };
	void *addr = NULL;

	MOCK_OK(xengntshr_share_pages);
	assert_int_equal(hyp_gntshr_share(gs, 5, 4, false, NULL, refs, &addr), 0);
	assert_ptr_equal(addr, mock_pages);
	assert_int_equal(mock.domid, 5);
	assert_int_equal(mock.count, 4);
	assert_int_equal(mock.writable, 0);
	assert_int_equal(refs[0], 100);
	assert_int_equal(refs[3], 103);

	MOCK_OK(xengntshr_share_pages);
	assert_int_equal(hyp_gntshr_share(gs, 6, 2, true, NULL, refs, &addr), 0);
	assert_int_not_equal(mock.writable, 0);

	MOCK_OK(xengntshr_unshare);
	assert_int_equal(hyp_gntshr_unshare(gs, addr, 2), 0);
	assert_ptr_equal(mock.unmap_addr, addr);
	assert_int_equal(mock.unmap_count, 2);
	hyp_gntshr_close(gs);
}

static void test_share_failure_leaves_outputs(void **state)
{
	struct hyp_gntshr *gs = shr_open_ok();
	grant_ref_t refs[2] = { 0 };
	void *addr = (void *)0x1;

	MOCK_FAIL(xengntshr_share_pages, ENOMEM);
	assert_int_equal(hyp_gntshr_share(gs, 5, 2, true, NULL, refs, &addr),
			 -ENOMEM);
	assert_ptr_equal(addr, (void *)0x1);
	MOCK_FAIL(xengntshr_share_page_notify, ENOSPC);
	assert_int_equal(hyp_gntshr_share(gs, 5, 1, true,
					  &(struct hyp_unmap_notify){ 0, 3 },
					  refs, &addr), -ENOSPC);
	assert_ptr_equal(addr, (void *)0x1);
	MOCK_FAIL(xengntshr_unshare, EINVAL);
	assert_int_equal(hyp_gntshr_unshare(gs, mock_pages, 1), -EINVAL);
	hyp_gntshr_close(gs);
}

static void test_share_notify(void **state)
{
	struct hyp_gntshr *gs = shr_open_ok();
	struct hyp_unmap_notify n = { .offset = 10, .port = 7 };
	grant_ref_t ref = 0;
	void *addr = NULL;

	MOCK_OK(xengntshr_share_page_notify);
	assert_int_equal(hyp_gntshr_share(gs, 9, 1, true, &n, &ref, &addr), 0);
	assert_int_equal(ref, 200);
	assert_int_equal(mock.domid, 9);
	assert_int_equal(mock.notify_offset, 10);
	assert_int_equal(mock.notify_port, 7);
	assert_int_not_equal(mock.writable, 0);

	/* "none" on either side reaches the library as -1 */
	n.port = HYP_NOTIFY_NONE;
	MOCK_OK(xengntshr_share_page_notify);
	assert_int_equal(hyp_gntshr_share(gs, 9, 1, false, &n, &ref, &addr), 0);
	assert_int_equal(mock.notify_port, (evtchn_port_t)-1);
	assert_int_equal(mock.writable, 0);
	hyp_gntshr_close(gs);
}

static void test_share_bad_args(void **state)
{
	struct hyp_gntshr *gs = shr_open_ok();
	struct hyp_unmap_notify n = { .offset = 0, .port = 1 };
	grant_ref_t refs[2];
	void *addr;

	/* nothing queued: any library call here would fail the test */
	assert_int_equal(hyp_gntshr_share(gs, 1, 0, true, NULL, refs, &addr),
			 -EINVAL);
	assert_int_equal(hyp_gntshr_share(gs, 1, 2, true, &n, refs, &addr),
			 -EINVAL);   /* notify needs a single page */
	n.offset = HYP_PAGE_SIZE;
	assert_int_equal(hyp_gntshr_share(gs, 1, 1, true, &n, refs, &addr),
			 -EINVAL);
	assert_int_equal(hyp_gntshr_share(gs, 1, 1, true, NULL, NULL, &addr),
			 -EINVAL);
	assert_int_equal(hyp_gntshr_share(gs, 1, 1, true, NULL, refs, NULL),
			 -EINVAL);
	assert_int_equal(hyp_gntshr_share(NULL, 1, 1, true, NULL, refs, &addr),
			 -EINVAL);
	assert_int_equal(hyp_gntshr_unshare(gs, NULL, 1), -EINVAL);
	assert_int_equal(hyp_gntshr_unshare(gs, mock_pages, 0), -EINVAL);
	hyp_gntshr_close(gs);
}

static void test_map_refs(void **state)
{
	struct hyp_gnttab *gt = tab_open_ok();
	const grant_ref_t refs[3] = { 8, 9, 10 };
	void *addr = NULL;

	MOCK_OK(xengnttab_map_domain_grant_refs);
	assert_int_equal(hyp_gnttab_map(gt, 4, 3, refs, false, NULL, &addr), 0);
	assert_ptr_equal(addr, mock_pages);
	assert_int_equal(mock.domid, 4);
	assert_int_equal(mock.count, 3);
	assert_int_equal(mock.refs[2], 10);
	assert_int_equal(mock.prot, PROT_READ);

	MOCK_OK(xengnttab_map_domain_grant_refs);
	assert_int_equal(hyp_gnttab_map(gt, 4, 1, refs, true, NULL, &addr), 0);
	assert_int_equal(mock.prot, PROT_READ | PROT_WRITE);

	MOCK_OK(xengnttab_unmap);
	assert_int_equal(hyp_gnttab_unmap(gt, addr, 1), 0);
	assert_ptr_equal(mock.unmap_addr, addr);
	assert_int_equal(mock.unmap_count, 1);
	hyp_gnttab_close(gt);
}

static void test_map_failures(void **state)
{
	struct hyp_gnttab *gt = tab_open_ok();
	const grant_ref_t refs[2] = { 8, 9 };
	struct hyp_unmap_notify n = { .offset = 0, .port = 2 };
	void *addr = (void *)0x1;

	MOCK_FAIL(xengnttab_map_domain_grant_refs, EINVAL);
	assert_int_equal(hyp_gnttab_map(gt, 4, 2, refs, true, NULL, &addr),
			 -EINVAL);
	MOCK_FAIL(xengnttab_map_domain_grant_refs, MOCK_NO_ERRNO);
	assert_int_equal(hyp_gnttab_map(gt, 4, 2, refs, true, NULL, &addr), -EIO);
	MOCK_FAIL(xengnttab_map_grant_ref_notify, ENOMEM);
	assert_int_equal(hyp_gnttab_map(gt, 4, 1, refs, true, &n, &addr),
			 -ENOMEM);
	assert_ptr_equal(addr, (void *)0x1);
	MOCK_FAIL(xengnttab_unmap, EINVAL);
	assert_int_equal(hyp_gnttab_unmap(gt, mock_pages, 1), -EINVAL);

	/* argument checks, before any library call */
	assert_int_equal(hyp_gnttab_map(gt, 4, 0, refs, true, NULL, &addr),
			 -EINVAL);
	assert_int_equal(hyp_gnttab_map(gt, 4, 2, refs, true, &n, &addr),
			 -EINVAL);
	n.offset = 5000;
	assert_int_equal(hyp_gnttab_map(gt, 4, 1, refs, true, &n, &addr),
			 -EINVAL);
	assert_int_equal(hyp_gnttab_map(gt, 4, 1, NULL, true, NULL, &addr),
			 -EINVAL);
	assert_int_equal(hyp_gnttab_unmap(NULL, mock_pages, 1), -EINVAL);
	hyp_gnttab_close(gt);
}

static void test_map_notify(void **state)
{
	struct hyp_gnttab *gt = tab_open_ok();
	const grant_ref_t ref = 77;
	struct hyp_unmap_notify n = { .offset = HYP_NOTIFY_NONE, .port = 12 };
	void *addr = NULL;

	MOCK_OK(xengnttab_map_grant_ref_notify);
	assert_int_equal(hyp_gnttab_map(gt, 2, 1, &ref, true, &n, &addr), 0);
	assert_int_equal(mock.refs[0], 77);
	assert_int_equal(mock.domid, 2);
	assert_int_equal(mock.notify_offset, (uint32_t)-1);
	assert_int_equal(mock.notify_port, 12);
	assert_int_equal(mock.prot, PROT_READ | PROT_WRITE);
	hyp_gnttab_close(gt);
}

int main(int argc, char **argv)
{
	/* The program test_spawn_during_open starts: 0 if fd is closed. */
	if (argc == 3 && !strcmp(argv[1], "--fd-closed"))
		return fcntl(atoi(argv[2]), F_GETFD) < 0 ? 0 : 1;

	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_open_failures, mock_reset),
		cmocka_unit_test_setup(test_gntshr_fd_closes_on_exec,
				       mock_reset),
		cmocka_unit_test_setup(test_fork_waits_for_cloexec, mock_reset),
		cmocka_unit_test_setup(test_gntshr_unseen_open, mock_reset),
		cmocka_unit_test_setup(test_gntshr_unseen_not_at_placeholder,
				       mock_reset),
		cmocka_unit_test_setup(test_spawn_during_open, mock_reset),
		cmocka_unit_test_setup(test_close, mock_reset),
		cmocka_unit_test_setup(test_share_pages_ro_rw, mock_reset),
		cmocka_unit_test_setup(test_share_failure_leaves_outputs, mock_reset),
		cmocka_unit_test_setup(test_share_notify, mock_reset),
		cmocka_unit_test_setup(test_share_bad_args, mock_reset),
		cmocka_unit_test_setup(test_map_refs, mock_reset),
		cmocka_unit_test_setup(test_map_failures, mock_reset),
		cmocka_unit_test_setup(test_map_notify, mock_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
