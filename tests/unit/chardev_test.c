/*
 * Character backends: null, file:, unix: with real client sockets, stdio over pipes and a pty
 * (raw mode, restore on close, on exit and on a fatal signal), bad specs, flow control through
 * fake_evloop_fire_fd and the resume timer, and bounded output to a reader that stopped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "fake_evloop.h"
#include "hostvisor/chardev.h"

struct sink {
	uint8_t buf[8192];
	size_t len;
	size_t room; /* how much more the receiver takes */
	int calls;
	int quits;
};

static size_t sink_receive(void *opaque, const uint8_t *data, size_t n)
{
	struct sink *s = opaque;
	size_t take = n < s->room ? n : s->room;

	s->calls++;
	if (take > sizeof(s->buf) - s->len)
		take = sizeof(s->buf) - s->len;
	memcpy(s->buf + s->len, data, take);
	s->len += take;
	s->room -= take;
	return take;
}

static void sink_quit(void *opaque)
{
	struct sink *s = opaque;

	s->quits++;
}

struct fixture {
	struct evloop *loop;
	char dir[64];
	char path[PATH_MAX];
	struct sink sink;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->loop = evloop_create();
	strcpy(f->dir, "/tmp/chardev_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->sink.room = SIZE_MAX;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rmdir(f->dir), 0); /* each test leaves the directory empty */
	evloop_destroy(f->loop);
	free(f);
	return 0;
}

static const char *tmp_path(struct fixture *f, const char *name)
{
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);
	return f->path;
}

/* Reports every fd the chardev may watch as readable; callbacks must cope when nothing is there. */
static void fire_all(struct evloop *loop)
{
	for (int fd = 3; fd < 1024; fd++)
		fake_evloop_fire_fd(loop, fd, EPOLLIN);
}

static void io_thread_runs(struct evloop *loop)
{
	fake_evloop_advance(loop, 0);
}

static int connect_client(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(addr.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	return fd;
}

static ssize_t recv_now(int fd, void *buf, size_t len)
{
	return recv(fd, buf, len, MSG_DONTWAIT);
}

static bool path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- specs ---- */

static void test_null(void **state)
{
	struct fixture *f = *state;
	char err[128];
	struct chardev *chr = chardev_open(f->loop, "null", err, sizeof(err));

	assert_non_null(chr);
	assert_int_equal(chardev_write(chr, "abc", 3), 3);
	assert_int_equal(chardev_dropped_bytes(chr), 0);
	chardev_set_receiver(chr, sink_receive, &f->sink);
	chardev_input_ready(chr);
	assert_int_equal(fake_evloop_pending(f->loop), 0);
	fire_all(f->loop);
	assert_int_equal(f->sink.calls, 0);
	chardev_close(chr);
}

static void test_bad_specs(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = { "foo",     "",	 "file:", "unix:",
					   "stdio:", "FILE:/x", "nul" };
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_null(chardev_open(f->loop, bad[i], err, sizeof(err)));
		assert_true(strlen(err) > 10);
		assert_null(strchr(err, '\n'));
	}
	assert_null(chardev_open(f->loop, NULL, err, sizeof(err)));
	assert_null(chardev_open(f->loop, "foo", NULL, 0));
	assert_null(chardev_open(f->loop, "foo", err, 1));
	assert_int_equal(err[0], 0);
	assert_int_equal(fake_evloop_pending(f->loop), 0);
	assert_int_equal(chardev_write(NULL, "a", 1), -EINVAL);
	chardev_close(NULL);
}

/* ---- file: ---- */

static void test_file_output(void **state)
{
	struct fixture *f = *state;
	char spec[PATH_MAX + 8], err[256], got[64];
	const char *path = tmp_path(f, "out.txt");
	struct chardev *chr;
	struct stat st;
	mode_t old_umask = umask(022);
	int fd;

	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "old contents", 12), 12);
	close(fd);
	snprintf(spec, sizeof(spec), "file:%s", path);
	chr = chardev_open(f->loop, spec, err, sizeof(err));
	assert_non_null(chr);
	chardev_set_receiver(chr, sink_receive, &f->sink);
	assert_int_equal(chardev_write(chr, "hello\r\n", 7), 7);
	chardev_close(chr);
	fd = open(path, O_RDONLY);
	assert_int_equal(read(fd, got, sizeof(got)), 7);
	assert_memory_equal(got, "hello\r\n", 7);
	close(fd);
	assert_int_equal(f->sink.calls, 0);
	/* A new file gets 0644. */
	unlink(path);
	chr = chardev_open(f->loop, spec, err, sizeof(err));
	assert_non_null(chr);
	chardev_close(chr);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	unlink(path);
	umask(old_umask);
}

static void test_file_unwritable(void **state)
{
	struct fixture *f = *state;
	char spec[PATH_MAX + 8], err[256];

	snprintf(spec, sizeof(spec), "file:%s", tmp_path(f, "no/such/dir"));
	assert_null(chardev_open(f->loop, spec, err, sizeof(err)));
	assert_non_null(strstr(err, "no/such/dir"));
	assert_non_null(strstr(err, strerror(ENOENT)));
	snprintf(spec, sizeof(spec), "file:%s", f->dir);
	assert_null(chardev_open(f->loop, spec, err, sizeof(err)));
	assert_non_null(strstr(err, strerror(EISDIR)));
	assert_int_equal(fake_evloop_pending(f->loop), 0);
}

/* ---- unix: ---- */

static void test_unix_refuses_non_socket(void **state)
{
	struct fixture *f = *state;
	char spec[PATH_MAX + 8], err[256], got[8];
	const char *path = tmp_path(f, "regular");
	int fd = open(path, O_WRONLY | O_CREAT, 0600);

	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);
	snprintf(spec, sizeof(spec), "unix:%s", path);
	assert_null(chardev_open(f->loop, spec, err, sizeof(err)));
	assert_non_null(strstr(err, "not a socket"));
	fd = open(path, O_RDONLY);
	assert_int_equal(read(fd, got, sizeof(got)), 4);
	close(fd);
	unlink(path);
}

static void test_unix_bad_paths_leave_nothing(void **state)
{
	struct fixture *f = *state;
	char spec[PATH_MAX + 8], too_long[160], err[256];

	snprintf(spec, sizeof(spec), "unix:%s", tmp_path(f, "missing/sock"));
	assert_null(chardev_open(f->loop, spec, err, sizeof(err)));
	assert_non_null(strstr(err, "bind"));
	memset(too_long, 'a', sizeof(too_long) - 1);
	memcpy(too_long, "unix:/tmp/", 10);
	too_long[sizeof(too_long) - 1] = 0;
	assert_null(chardev_open(f->loop, too_long, err, sizeof(err)));
	assert_non_null(strstr(err, "longer"));
	assert_int_equal(fake_evloop_pending(f->loop), 0);
}

static void test_unix_replaces_stale_socket(void **state)
{
	struct fixture *f = *state;
	char spec[PATH_MAX + 8], err[256];
	const char *path = tmp_path(f, "stale.sock");
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct chardev *chr;

	strcpy(addr.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	close(fd);
	snprintf(spec, sizeof(spec), "unix:%s", path);
	chr = chardev_open(f->loop, spec, err, sizeof(err));
	assert_non_null(chr);
	chardev_close(chr);
	assert_false(path_exists(path));
}

static void test_unix_clients(void **state)
{
	struct fixture *f = *state;
	char spec[PATH_MAX + 8], err[256], got[16];
	const char *path = tmp_path(f, "com1.sock");
	struct chardev *chr;
	int c1, c2, c3;

	snprintf(spec, sizeof(spec), "unix:%s", path);
	chr = chardev_open(f->loop, spec, err, sizeof(err));
	assert_non_null(chr);
	chardev_set_receiver(chr, sink_receive, &f->sink);
	/* No client: output is dropped and counted. */
	assert_int_equal(chardev_write(chr, "lost", 4), 0);
	assert_int_equal(chardev_dropped_bytes(chr), 4);

	c1 = connect_client(path);
	fire_all(f->loop);
	assert_int_equal(chardev_write(chr, "abc", 3), 3);
	assert_int_equal(recv_now(c1, got, sizeof(got)), 3);
	assert_memory_equal(got, "abc", 3);
	assert_int_equal(send(c1, "xyz", 3, 0), 3);
	fire_all(f->loop);
	assert_int_equal(f->sink.len, 3);
	assert_memory_equal(f->sink.buf, "xyz", 3);

	/* One client at a time: a second one is closed at once; the first goes on. */
	c2 = connect_client(path);
	fire_all(f->loop);
	assert_int_equal(recv(c2, got, sizeof(got), 0), 0);
	close(c2);
	assert_int_equal(chardev_write(chr, "d", 1), 1);
	assert_int_equal(recv_now(c1, got, sizeof(got)), 1);

	/* The first leaves: output is dropped again, and the next client is served. */
	close(c1);
	fire_all(f->loop);
	assert_int_equal(chardev_write(chr, "gone", 4), 0);
	assert_int_equal(chardev_dropped_bytes(chr), 8);
	c3 = connect_client(path);
	fire_all(f->loop);
	assert_int_equal(chardev_write(chr, "hi", 2), 2);
	assert_int_equal(recv_now(c3, got, sizeof(got)), 2);
	assert_int_equal(send(c3, "!", 1, 0), 1);
	fire_all(f->loop);
	assert_int_equal(f->sink.len, 4);

	chardev_close(chr);
	assert_false(path_exists(path));
	/* The client sees the end. */
	assert_int_equal(recv(c3, got, sizeof(got), 0), 0);
	close(c3);
}

static void test_unix_flow_control(void **state)
{
	struct fixture *f = *state;
	char spec[PATH_MAX + 8], err[256];
	const char *path = tmp_path(f, "flow.sock");
	struct chardev *chr;
	int c;

	snprintf(spec, sizeof(spec), "unix:%s", path);
	chr = chardev_open(f->loop, spec, err, sizeof(err));
	assert_non_null(chr);
	chardev_set_receiver(chr, sink_receive, &f->sink);
	c = connect_client(path);
	fire_all(f->loop);
	f->sink.room = 4;
	assert_int_equal(send(c, "0123456789", 10, 0), 10);
	fire_all(f->loop);
	assert_int_equal(f->sink.len, 4);
	/* More data arrives, but the fd is not watched while input is held back. */
	assert_int_equal(send(c, "++", 2, 0), 2);
	int calls = f->sink.calls;
	fire_all(f->loop);
	assert_int_equal(f->sink.calls, calls);
	/* Room appears: input_ready schedules the I/O thread, which delivers the held bytes. */
	f->sink.room = 4;
	chardev_input_ready(chr);
	assert_int_equal(fake_evloop_pending(f->loop), 1);
	io_thread_runs(f->loop);
	assert_int_equal(f->sink.len, 8);
	f->sink.room = SIZE_MAX;
	chardev_input_ready(chr);
	io_thread_runs(f->loop);
	assert_int_equal(f->sink.len, 10);
	/* Everything delivered: the fd is watched again. */
	fire_all(f->loop);
	assert_int_equal(f->sink.len, 12);
	assert_memory_equal(f->sink.buf, "0123456789++", 12);
	/* Nothing held back: input_ready costs nothing. */
	chardev_input_ready(chr);
	assert_int_equal(fake_evloop_pending(f->loop), 0);
	close(c);
	fire_all(f->loop);
	chardev_close(chr);
}

/* ---- chardev_open_fd ---- */

static void test_fd_receiver_set_later_and_eof(void **state)
{
	struct fixture *f = *state;
	struct chardev *chr;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	chr = chardev_open_fd(f->loop, sv[0], sv[0]);
	assert_non_null(chr);
	assert_int_equal(write(sv[1], "early", 5), 5);
	fake_evloop_fire_fd(f->loop, sv[0], EPOLLIN);
	/* Spurious readiness on a non-blocking fd does not block. */
	fake_evloop_fire_fd(f->loop, sv[0], EPOLLIN);
	chardev_set_receiver(chr, sink_receive, &f->sink);
	io_thread_runs(f->loop);
	assert_int_equal(f->sink.len, 5);
	fake_evloop_fire_fd(f->loop, sv[0], EPOLLIN);
	assert_int_equal(f->sink.len, 5);
	/* End of input: the fd is dropped from the loop and never read again. */
	shutdown(sv[1], SHUT_WR);
	fake_evloop_fire_fd(f->loop, sv[0], EPOLLIN | EPOLLHUP);
	int calls = f->sink.calls;
	fire_all(f->loop);
	assert_int_equal(f->sink.calls, calls);
	/* Output still works. */
	assert_int_equal(chardev_write(chr, "o", 1), 1);
	chardev_close(chr);
	close(sv[1]);
}

static void test_output_to_stalled_pipe_is_bounded(void **state)
{
	struct fixture *f = *state;
	static uint8_t chunk[4096];
	uint64_t written = 0, total = 0, start;
	struct chardev *chr;
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	chr = chardev_open_fd(f->loop, -1, p[1]);
	assert_non_null(chr);
	start = now_ms();
	for (int i = 0; i < 256; i++) {
		ssize_t n = chardev_write(chr, chunk, sizeof(chunk));
		assert_true(n >= 0);
		written += (uint64_t)n;
		total += sizeof(chunk);
	}
	/* One bounded wait, then no more waiting while the reader is stuck. */
	assert_true(now_ms() - start < 1000);
	assert_true(chardev_dropped_bytes(chr) > 0);
	assert_int_equal(chardev_dropped_bytes(chr) + written, total);
	/* The reader catches up: output flows again. */
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	while (read(p[0], chunk, sizeof(chunk)) > 0)
		;
	assert_int_equal(chardev_write(chr, "ok", 2), 2);
	/* The reader goes away: EPIPE and a drop, not a SIGPIPE that kills us. */
	close(p[0]);
	assert_int_equal(chardev_write(chr, "x", 1), 0);
	chardev_close(chr);
}

static void test_output_to_stalled_socket_is_bounded(void **state)
{
	struct fixture *f = *state;
	static uint8_t chunk[4096];
	struct chardev *chr;
	uint64_t start;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	chr = chardev_open_fd(f->loop, -1, sv[0]);
	start = now_ms();
	for (int i = 0; i < 1024; i++)
		chardev_write(chr, chunk, sizeof(chunk));
	assert_true(now_ms() - start < 1000);
	assert_true(chardev_dropped_bytes(chr) > 0);
	/* A closed peer: EPIPE, no SIGPIPE. */
	close(sv[1]);
	assert_int_equal(chardev_write(chr, "x", 1), 0);
	chardev_close(chr);
}

/* ---- stdio ---- */

struct saved_stdio {
	int in, out;
};

static struct saved_stdio redirect_stdio(int in_fd, int out_fd)
{
	struct saved_stdio saved = { dup(STDIN_FILENO), dup(STDOUT_FILENO) };

	fflush(stdout);
	assert_true(saved.in >= 0 && saved.out >= 0);
	if (in_fd >= 0)
		assert_int_equal(dup2(in_fd, STDIN_FILENO), STDIN_FILENO);
	if (out_fd >= 0)
		assert_int_equal(dup2(out_fd, STDOUT_FILENO), STDOUT_FILENO);
	return saved;
}

static void restore_stdio(struct saved_stdio saved)
{
	dup2(saved.in, STDIN_FILENO);
	dup2(saved.out, STDOUT_FILENO);
	close(saved.in);
	close(saved.out);
}

static void type_into_stdin(struct fixture *f, int in_w, const char *s)
{
	assert_int_equal(write(in_w, s, strlen(s)), (ssize_t)strlen(s));
	fake_evloop_fire_fd(f->loop, STDIN_FILENO, EPOLLIN);
}

static void test_stdio_pipes_and_escape(void **state)
{
	struct fixture *f = *state;
	int in[2], out[2];
	struct saved_stdio saved;
	struct chardev *chr, *second;
	char err[256], got[16];

	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	saved = redirect_stdio(in[0], out[1]);
	chr = chardev_open(f->loop, "stdio", err, sizeof(err));
	second = chardev_open(f->loop, "stdio", err, sizeof(err));
	if (chr) {
		chardev_set_receiver(chr, sink_receive, &f->sink);
		chardev_set_quit_handler(chr, sink_quit, &f->sink);
		chardev_write(chr, "out", 3);
		/* Ctrl-A Ctrl-A is one Ctrl-A; Ctrl-A c is both bytes. */
		type_into_stdin(f, in[1], "a\x01\x01" "b\x01" "cd");
		/* The escape split across reads. */
		type_into_stdin(f, in[1], "e\x01");
		type_into_stdin(f, in[1], "\x01");
		/* Ctrl-A x quits; what follows it in the same read is dropped. */
		type_into_stdin(f, in[1], "f\x01xg");
	}
	restore_stdio(saved);
	assert_non_null(chr);
	assert_null(second);
	assert_non_null(strstr(err, "already"));
	assert_int_equal(f->sink.quits, 1);
	assert_int_equal(f->sink.len, 9);
	assert_memory_equal(f->sink.buf, "a\x01" "b\x01" "cde\x01" "f", 9);
	assert_int_equal(read(out[0], got, sizeof(got)), 3);
	assert_memory_equal(got, "out", 3);
	chardev_close(chr);
	/* Closing gives stdio back. */
	saved = redirect_stdio(in[0], out[1]);
	chr = chardev_open(f->loop, "stdio", err, sizeof(err));
	restore_stdio(saved);
	assert_non_null(chr);
	chardev_close(chr);
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
}

static void test_stdio_unwatchable_stdin(void **state)
{
	struct fixture *f = *state;
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	struct saved_stdio saved = redirect_stdio(devnull, devnull);
	char err[256];
	struct chardev *chr = chardev_open(f->loop, "stdio", err, sizeof(err));
	ssize_t written = chardev_write(chr, "x", 1);

	chardev_close(chr);
	restore_stdio(saved);
	assert_non_null(chr);
	assert_int_equal(written, 1);
	close(devnull);
}

static int open_pty(int *master)
{
	int slave;

	*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(*master >= 0);
	assert_int_equal(grantpt(*master), 0);
	assert_int_equal(unlockpt(*master), 0);
	slave = open(ptsname(*master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(slave >= 0);
	return slave;
}

static bool tty_is_cooked(int fd)
{
	struct termios t;

	assert_int_equal(tcgetattr(fd, &t), 0);
	return (t.c_lflag & ICANON) && (t.c_lflag & ECHO) && (t.c_lflag & ISIG) &&
	       (t.c_oflag & OPOST);
}

static bool tty_is_raw(int fd)
{
	struct termios t;

	assert_int_equal(tcgetattr(fd, &t), 0);
	return !(t.c_lflag & (ICANON | ECHO | ISIG)) && !(t.c_oflag & OPOST);
}

static void test_stdio_tty_raw_and_restored_on_close(void **state)
{
	struct fixture *f = *state;
	int master, slave = open_pty(&master);
	struct saved_stdio saved;
	struct chardev *chr;
	char err[256];
	bool raw;

	assert_true(tty_is_cooked(slave));
	saved = redirect_stdio(slave, -1);
	chr = chardev_open(f->loop, "stdio", err, sizeof(err));
	raw = chr && tty_is_raw(slave);
	chardev_close(chr);
	restore_stdio(saved);
	assert_non_null(chr);
	assert_true(raw);
	assert_true(tty_is_cooked(slave));
	close(slave);
	close(master);
}

/* Kept reachable so the leak checker does not count the child's deliberate non-close. */
static struct evloop *child_loop;
static struct chardev *child_chardev;

static void child_opens_stdio_then(int slave, int how)
{
	struct rlimit no_core = { 0, 0 };
	char err[256];

	setrlimit(RLIMIT_CORE, &no_core);
	child_loop = evloop_create();
	if (dup2(slave, STDIN_FILENO) < 0)
		_exit(90);
	child_chardev = chardev_open(child_loop, "stdio", err, sizeof(err));
	if (!child_chardev || !tty_is_raw(slave))
		_exit(91);
	if (how == 0)
		exit(0); /* atexit restores */
	raise(how);
	_exit(92);
}

static void check_restored_after_child(int how, int want_signal)
{
	int master, slave = open_pty(&master);
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child_opens_stdio_then(slave, how);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (want_signal) {
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), want_signal);
	} else {
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_true(tty_is_cooked(slave));
	close(slave);
	close(master);
}

static void test_stdio_tty_restored_on_exit(void **state)
{
	(void)state;
	check_restored_after_child(0, 0);
}

static void test_stdio_tty_restored_on_signals(void **state)
{
	(void)state;
	check_restored_after_child(SIGTERM, SIGTERM);
	check_restored_after_child(SIGHUP, SIGHUP);
	check_restored_after_child(SIGINT, SIGINT);
	check_restored_after_child(SIGQUIT, SIGQUIT);
	check_restored_after_child(SIGABRT, SIGABRT);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_null),
		T(test_bad_specs),
		T(test_file_output),
		T(test_file_unwritable),
		T(test_unix_refuses_non_socket),
		T(test_unix_bad_paths_leave_nothing),
		T(test_unix_replaces_stale_socket),
		T(test_unix_clients),
		T(test_unix_flow_control),
		T(test_fd_receiver_set_later_and_eof),
		T(test_output_to_stalled_pipe_is_bounded),
		T(test_output_to_stalled_socket_is_bounded),
		T(test_stdio_pipes_and_escape),
		T(test_stdio_unwatchable_stdin),
		T(test_stdio_tty_raw_and_restored_on_close),
		T(test_stdio_tty_restored_on_exit),
		T(test_stdio_tty_restored_on_signals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
