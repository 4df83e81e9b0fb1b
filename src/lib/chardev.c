/*
 * Character backends for the serial ports; see include/hostvisor/chardev.h.
 *
 * Threads. Input runs on the I/O thread (fd callbacks and the resume timer); output runs on
 * whichever vCPU thread wrote the device's transmit register. Two locks keep them apart:
 *  - in_lock guards the receiver and the pending input. It is held while the receiver runs, so
 *    the lock order is in_lock -> device lock.
 *  - out_lock guards the output fd. It is never held while calling out of this file.
 * A device calls chardev_input_ready() and chardev_write() under its own lock, so neither takes
 * in_lock: input_ready only arms the resume timer, whose callback (on the I/O thread) delivers
 * what is pending and watches the input fd again.
 *
 * Flow control: input is read in chunks into a pending buffer and offered to the receiver. What
 * the receiver does not take stays pending and the input fd is taken out of the event loop until
 * the receiver calls chardev_input_ready(). Nothing is lost and nothing polls.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "hostvisor/chardev.h"
#include "hostvisor/log.h"

#define CHARDEV_READ_CHUNK 256
/* A read chunk plus a Ctrl-A held over from the previous chunk (see stdio_filter_input). */
#define CHARDEV_PENDING_MAX (CHARDEV_READ_CHUNK + 1)
/* How long a write may wait for a reader that does not keep up before output is dropped. */
#define CHARDEV_STALL_MS 50
/* Pipes and ttys take this much after poll() says POLLOUT without blocking the writer. */
#define CHARDEV_WRITE_CHUNK 256

#define CTRL_A 0x01

enum chardev_kind { CHARDEV_NULL, CHARDEV_STDIO, CHARDEV_FILE, CHARDEV_UNIX, CHARDEV_FD };

enum chardev_out_kind {
	CHARDEV_OUT_FILE,   /* regular file: write() does not block for long */
	CHARDEV_OUT_SOCKET, /* send(MSG_DONTWAIT | MSG_NOSIGNAL), poll() on EAGAIN */
	CHARDEV_OUT_STREAM, /* pipe or tty we may not make non-blocking: poll() before write() */
};

static const int stdio_restore_signals[] = { SIGTERM, SIGINT,  SIGHUP, SIGQUIT,
					     SIGSEGV, SIGBUS, SIGABRT };
#define STDIO_NSIGNALS (sizeof(stdio_restore_signals) / sizeof(stdio_restore_signals[0]))

struct chardev {
	struct evloop *loop;
	enum chardev_kind kind;

	pthread_mutex_t in_lock;
	chardev_receive_fn receive;
	void *receive_opaque;
	void (*quit)(void *opaque);
	void *quit_opaque;
	uint8_t pending[CHARDEV_PENDING_MAX];
	size_t pending_off, pending_len;
	bool ctrl_a_seen; /* stdio: the previous byte was the escape Ctrl-A */
	int in_fd;	  /* -1: no input (or no unix client) */
	bool in_watched;
	bool in_eof;
	bool owns_in_fd;
	/* Set while input is held back; read without in_lock by chardev_input_ready(). */
	atomic_bool want_resume;
	struct timer *resume_timer;

	int listen_fd; /* unix: the listening socket */
	char *socket_path;

	pthread_mutex_t out_lock;
	int out_fd; /* -1: output dropped */
	bool owns_out_fd;
	enum chardev_out_kind out_kind;
	bool out_is_pipe; /* a write to a pipe with no reader raises SIGPIPE */
	bool out_stalled; /* the last write timed out: do not wait again until one succeeds */
	bool out_warned;
	uint64_t dropped;

	bool stdio_signals_installed[STDIO_NSIGNALS];
	struct sigaction stdio_old_actions[STDIO_NSIGNALS];
};

/*
 * The terminal mode to put back. This is the one piece of process-wide mutable state in the
 * project, and it has to be: the terminal must be restored from signal handlers and from atexit(),
 * which get no pointer to any object. At most one "stdio" backend exists at a time (in_use).
 */
static struct {
	struct termios saved;
	volatile sig_atomic_t raw; /* the terminal is in raw mode and saved holds the old mode */
	bool in_use;
	bool atexit_registered;
} stdio_terminal;

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- terminal restore on every exit path ---- */

/* Async-signal-safe: only tcsetattr(). */
static void stdio_terminal_restore(void)
{
	if (!stdio_terminal.raw)
		return;
	tcsetattr(STDIN_FILENO, TCSANOW, &stdio_terminal.saved);
	stdio_terminal.raw = 0;
}

static void stdio_terminal_atexit(void)
{
	stdio_terminal_restore();
}

/* Puts the terminal back, then dies of the signal as if we had never caught it. */
static void stdio_terminal_on_signal(int sig)
{
	int saved_errno = errno;

	stdio_terminal_restore();
	/* SA_RESETHAND already made the action SIG_DFL; SA_NODEFER lets raise() deliver it now. */
	raise(sig);
	errno = saved_errno;
}

static void stdio_install_signal_handlers(struct chardev *chr)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = stdio_terminal_on_signal;
	sa.sa_flags = SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < STDIO_NSIGNALS; i++) {
		struct sigaction old;

		if (sigaction(stdio_restore_signals[i], NULL, &old) < 0)
			continue;
		/* Someone ignores or handles it (nohup, the VM's own handlers): keep theirs. */
		if (old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO))
			continue;
		if (sigaction(stdio_restore_signals[i], &sa, &chr->stdio_old_actions[i]) == 0)
			chr->stdio_signals_installed[i] = true;
	}
}

static void stdio_remove_signal_handlers(struct chardev *chr)
{
	for (size_t i = 0; i < STDIO_NSIGNALS; i++) {
		if (!chr->stdio_signals_installed[i])
			continue;
		sigaction(stdio_restore_signals[i], &chr->stdio_old_actions[i], NULL);
		chr->stdio_signals_installed[i] = false;
	}
}

/*
 * Full raw mode (cfmakeraw clears OPOST too): the guest's console sends "\r\n" itself, and Ctrl-C
 * must reach the guest instead of killing us (ISIG off); Ctrl-A x is the way out.
 */
static int stdio_terminal_make_raw(char *err, size_t errlen)
{
	struct termios raw;

	if (tcgetattr(STDIN_FILENO, &stdio_terminal.saved) < 0) {
		set_err(err, errlen, "chardev: stdio: cannot read the terminal mode: %s",
			strerror(errno));
		return -errno;
	}
	if (!stdio_terminal.atexit_registered) {
		if (atexit(stdio_terminal_atexit) != 0) {
			set_err(err, errlen, "chardev: stdio: cannot register the exit handler");
			return -ENOMEM;
		}
		stdio_terminal.atexit_registered = true;
	}
	raw = stdio_terminal.saved;
	cfmakeraw(&raw);
	stdio_terminal.raw = 1; /* before the switch, so a signal in between still restores */
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0) {
		stdio_terminal.raw = 0;
		set_err(err, errlen, "chardev: stdio: cannot set raw mode: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* ---- input ---- */

static void chardev_on_input(void *opaque, uint32_t events);

static void input_watch_locked(struct chardev *chr)
{
	int r;

	if (chr->in_fd < 0 || chr->in_watched || chr->in_eof)
		return;
	r = evloop_add_fd(chr->loop, chr->in_fd, EPOLLIN, chardev_on_input, chr);
	if (r < 0) {
		log_warn("chardev: cannot watch input fd %d: %s", chr->in_fd, strerror(-r));
		return;
	}
	chr->in_watched = true;
}

/* Deleted rather than set to no events: epoll reports hang-up even then, which would spin. */
static void input_unwatch_locked(struct chardev *chr)
{
	if (!chr->in_watched)
		return;
	evloop_del_fd(chr->loop, chr->in_fd);
	chr->in_watched = false;
}

/*
 * Offers the pending bytes to the receiver. want_resume is set before the offer, so that a
 * receiver that refuses and then (on another thread) makes room always finds it set.
 */
static void deliver_pending_locked(struct chardev *chr)
{
	size_t taken = 0;

	atomic_store(&chr->want_resume, true);
	if (chr->pending_len && chr->receive) {
		taken = chr->receive(chr->receive_opaque, chr->pending + chr->pending_off,
				     chr->pending_len);
		if (taken > chr->pending_len)
			taken = chr->pending_len;
	}
	chr->pending_off += taken;
	chr->pending_len -= taken;
	if (chr->pending_len) {
		input_unwatch_locked(chr);
		return;
	}
	chr->pending_off = 0;
	atomic_store(&chr->want_resume, false);
	input_watch_locked(chr);
}

/*
 * The stdio escape: Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A, Ctrl-A followed by anything
 * else sends both bytes. Returns true when the quit sequence was typed; later bytes are dropped.
 */
static bool stdio_filter_input(struct chardev *chr, const uint8_t *raw, size_t n)
{
	uint8_t *out = chr->pending;
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t b = raw[i];

		if (!chr->ctrl_a_seen) {
			if (b == CTRL_A)
				chr->ctrl_a_seen = true;
			else
				out[len++] = b;
			continue;
		}
		chr->ctrl_a_seen = false;
		if (b == 'x') {
			chr->pending_len = len;
			return true;
		}
		if (b != CTRL_A)
			out[len++] = CTRL_A;
		out[len++] = b;
	}
	chr->pending_len = len;
	return false;
}

static void unix_drop_client_locked(struct chardev *chr)
{
	int fd = chr->in_fd;

	input_unwatch_locked(chr);
	pthread_mutex_lock(&chr->out_lock);
	chr->out_fd = -1;
	pthread_mutex_unlock(&chr->out_lock);
	chr->in_fd = -1;
	close(fd);
	log_info("chardev: %s: client disconnected", chr->socket_path);
}

static void input_ended_locked(struct chardev *chr)
{
	if (chr->kind == CHARDEV_UNIX) {
		unix_drop_client_locked(chr);
		return;
	}
	input_unwatch_locked(chr);
	chr->in_eof = true;
}

/* One read() per readiness report: stdin stays blocking (its flags are shared with the shell). */
static void chardev_on_input(void *opaque, uint32_t events)
{
	struct chardev *chr = opaque;
	uint8_t raw[CHARDEV_READ_CHUNK];
	void (*quit)(void *) = NULL;
	void *quit_opaque = NULL;
	ssize_t n;

	(void)events;
	pthread_mutex_lock(&chr->in_lock);
	if (chr->in_fd < 0 || chr->pending_len) {
		deliver_pending_locked(chr);
		pthread_mutex_unlock(&chr->in_lock);
		return;
	}
	n = read(chr->in_fd, raw, sizeof(raw));
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		pthread_mutex_unlock(&chr->in_lock);
		return;
	}
	if (n <= 0) {
		input_ended_locked(chr);
		pthread_mutex_unlock(&chr->in_lock);
		return;
	}
	chr->pending_off = 0;
	if (chr->kind == CHARDEV_STDIO && stdio_filter_input(chr, raw, (size_t)n)) {
		quit = chr->quit;
		quit_opaque = chr->quit_opaque;
	} else if (chr->kind != CHARDEV_STDIO) {
		memcpy(chr->pending, raw, (size_t)n);
		chr->pending_len = (size_t)n;
	}
	deliver_pending_locked(chr);
	pthread_mutex_unlock(&chr->in_lock);
	if (quit)
		quit(quit_opaque);
}

static void chardev_on_resume(void *opaque)
{
	struct chardev *chr = opaque;

	pthread_mutex_lock(&chr->in_lock);
	deliver_pending_locked(chr);
	pthread_mutex_unlock(&chr->in_lock);
}

static void schedule_resume(struct chardev *chr)
{
	timer_mod(chr->resume_timer, evloop_now_ns(chr->loop));
}

void chardev_input_ready(struct chardev *chr)
{
	if (!chr || !atomic_load(&chr->want_resume))
		return;
	schedule_resume(chr);
}

void chardev_set_receiver(struct chardev *chr, chardev_receive_fn fn, void *opaque)
{
	if (!chr)
		return;
	pthread_mutex_lock(&chr->in_lock);
	chr->receive = fn;
	chr->receive_opaque = opaque;
	if (fn && atomic_load(&chr->want_resume))
		schedule_resume(chr);
	pthread_mutex_unlock(&chr->in_lock);
}

void chardev_set_quit_handler(struct chardev *chr, void (*quit)(void *opaque), void *opaque)
{
	if (!chr)
		return;
	pthread_mutex_lock(&chr->in_lock);
	chr->quit = quit;
	chr->quit_opaque = opaque;
	pthread_mutex_unlock(&chr->in_lock);
}

/* ---- output ---- */

static uint64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits until fd takes output or the deadline passes; > 0 when writable. */
static int wait_writable(int fd, uint64_t deadline_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	uint64_t now = monotonic_ms();
	int timeout = now >= deadline_ms ? 0 : (int)(deadline_ms - now);
	int r = poll(&pfd, 1, timeout);

	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	if (r > 0 && (pfd.revents & (POLLERR | POLLNVAL)))
		return -EIO;
	return r;
}

/*
 * write() to a pipe whose reader is gone (hostvisor | tee, and tee died) raises SIGPIPE, which
 * would kill the VM without restoring the terminal. Block it on this thread for the write and
 * consume the one our write raised, so the caller just sees EPIPE.
 */
static ssize_t write_pipe_without_sigpipe(int fd, const uint8_t *buf, size_t len)
{
	static const struct timespec no_wait = { 0, 0 };
	sigset_t sigpipe, old, pending;
	bool was_pending;
	ssize_t n;
	int saved_errno;

	sigemptyset(&sigpipe);
	sigaddset(&sigpipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &sigpipe, &old);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	n = write(fd, buf, len);
	saved_errno = errno;
	if (n < 0 && errno == EPIPE && !was_pending)
		sigtimedwait(&sigpipe, NULL, &no_wait);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved_errno;
	return n;
}

static ssize_t write_some(struct chardev *chr, const uint8_t *buf, size_t len)
{
	if (len > CHARDEV_WRITE_CHUNK && chr->out_kind == CHARDEV_OUT_STREAM)
		len = CHARDEV_WRITE_CHUNK;
	if (chr->out_kind == CHARDEV_OUT_SOCKET)
		return send(chr->out_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (chr->out_is_pipe)
		return write_pipe_without_sigpipe(chr->out_fd, buf, len);
	return write(chr->out_fd, buf, len);
}

/*
 * Writes as much as the reader takes within CHARDEV_STALL_MS (no wait at all while stalled, so a
 * reader that stopped costs the vCPU one failed poll per write, not 50 ms). Returns bytes written.
 */
static size_t write_bounded_locked(struct chardev *chr, const uint8_t *buf, size_t len)
{
	uint64_t deadline = monotonic_ms() + (chr->out_stalled ? 0 : CHARDEV_STALL_MS);
	size_t off = 0;
	bool timed_out = false;

	while (off < len && !timed_out) {
		ssize_t n;

		if (chr->out_kind == CHARDEV_OUT_STREAM) {
			int r = wait_writable(chr->out_fd, deadline);
			if (r < 0)
				break;
			if (r == 0) {
				timed_out = monotonic_ms() >= deadline;
				continue;
			}
		}
		n = write_some(chr, buf + off, len - off);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int r = wait_writable(chr->out_fd, deadline);
			if (r < 0)
				break;
			timed_out = r == 0 && monotonic_ms() >= deadline;
			continue;
		}
		break; /* EPIPE, EIO, ENOSPC, or a zero-length write: give up on this chunk */
	}
	chr->out_stalled = off < len;
	if (chr->out_stalled && !chr->out_warned) {
		log_warn("chardev: output fd %d does not take data; dropping output", chr->out_fd);
		chr->out_warned = true;
	}
	return off;
}

ssize_t chardev_write(struct chardev *chr, const void *buf, size_t len)
{
	size_t written;

	if (!chr || (!buf && len))
		return -EINVAL;
	if (chr->kind == CHARDEV_NULL || len == 0)
		return (ssize_t)len;
	pthread_mutex_lock(&chr->out_lock);
	if (chr->out_fd < 0) {
		chr->dropped += len;
		pthread_mutex_unlock(&chr->out_lock);
		return 0;
	}
	written = write_bounded_locked(chr, buf, len);
	chr->dropped += len - written;
	pthread_mutex_unlock(&chr->out_lock);
	return (ssize_t)written;
}

uint64_t chardev_dropped_bytes(struct chardev *chr)
{
	uint64_t n;

	if (!chr)
		return 0;
	pthread_mutex_lock(&chr->out_lock);
	n = chr->dropped;
	pthread_mutex_unlock(&chr->out_lock);
	return n;
}

static enum chardev_out_kind classify_output(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return CHARDEV_OUT_STREAM;
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		return CHARDEV_OUT_FILE;
	if (S_ISSOCK(st.st_mode))
		return CHARDEV_OUT_SOCKET;
	return CHARDEV_OUT_STREAM;
}

static void set_output_fd(struct chardev *chr, int fd)
{
	pthread_mutex_lock(&chr->out_lock);
	chr->out_fd = fd;
	chr->out_stalled = false;
	if (fd >= 0) {
		struct stat st;

		chr->out_kind = classify_output(fd);
		chr->out_is_pipe = fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
	}
	pthread_mutex_unlock(&chr->out_lock);
}

/* ---- creation ---- */

static struct chardev *chardev_alloc(struct evloop *loop, enum chardev_kind kind)
{
	struct chardev *chr = calloc(1, sizeof(*chr));

	if (!chr)
		return NULL;
	chr->loop = loop;
	chr->kind = kind;
	chr->in_fd = -1;
	chr->out_fd = -1;
	chr->listen_fd = -1;
	atomic_init(&chr->want_resume, false);
	chr->resume_timer = timer_new(loop, chardev_on_resume, chr);
	if (!chr->resume_timer) {
		free(chr);
		return NULL;
	}
	pthread_mutex_init(&chr->in_lock, NULL);
	pthread_mutex_init(&chr->out_lock, NULL);
	return chr;
}

static void chardev_free(struct chardev *chr)
{
	timer_free(chr->resume_timer);
	pthread_mutex_destroy(&chr->in_lock);
	pthread_mutex_destroy(&chr->out_lock);
	free(chr->socket_path);
	free(chr);
}

static struct chardev *open_null(struct evloop *loop, char *err, size_t errlen)
{
	struct chardev *chr = chardev_alloc(loop, CHARDEV_NULL);

	if (!chr)
		set_err(err, errlen, "chardev: null: out of memory");
	return chr;
}

static struct chardev *open_file(struct evloop *loop, const char *path, char *err, size_t errlen)
{
	struct chardev *chr;
	int fd;

	if (!*path) {
		set_err(err, errlen, "chardev: file: needs a path (file:PATH)");
		return NULL;
	}
	chr = chardev_alloc(loop, CHARDEV_FILE);
	if (!chr) {
		set_err(err, errlen, "chardev: file:%s: out of memory", path);
		return NULL;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		set_err(err, errlen, "chardev: file:%s: %s", path, strerror(errno));
		chardev_free(chr);
		return NULL;
	}
	chr->owns_out_fd = true;
	set_output_fd(chr, fd);
	return chr;
}

/* A stale socket from an earlier run is replaced; anything else at the path is refused. */
static int unix_clear_path(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		set_err(err, errlen, "chardev: unix:%s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISSOCK(st.st_mode)) {
		set_err(err, errlen, "chardev: unix:%s: exists and is not a socket", path);
		return -EEXIST;
	}
	if (unlink(path) < 0) {
		set_err(err, errlen, "chardev: unix:%s: cannot remove old socket: %s", path,
			strerror(errno));
		return -errno;
	}
	return 0;
}

static void chardev_on_listen(void *opaque, uint32_t events);

static int unix_listen(struct chardev *chr, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, r;

	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		set_err(err, errlen, "chardev: unix:%s: socket: %s", path, strerror(errno));
		return -errno;
	}
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		r = -errno;
		set_err(err, errlen, "chardev: unix:%s: bind: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	r = listen(fd, 1) < 0 ? -errno : 0;
	if (r == 0)
		r = evloop_add_fd(chr->loop, fd, EPOLLIN, chardev_on_listen, chr);
	if (r < 0) {
		set_err(err, errlen, "chardev: unix:%s: listen: %s", path, strerror(-r));
		close(fd);
		unlink(path);
		return r;
	}
	chr->listen_fd = fd;
	return 0;
}

static struct chardev *open_unix(struct evloop *loop, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un addr;
	struct chardev *chr;

	if (!*path) {
		set_err(err, errlen, "chardev: unix: needs a path (unix:PATH)");
		return NULL;
	}
	if (strlen(path) >= sizeof(addr.sun_path)) {
		set_err(err, errlen, "chardev: unix:%s: path longer than %zu bytes", path,
			sizeof(addr.sun_path) - 1);
		return NULL;
	}
	chr = chardev_alloc(loop, CHARDEV_UNIX);
	if (chr)
		chr->socket_path = strdup(path);
	if (!chr || !chr->socket_path) {
		set_err(err, errlen, "chardev: unix:%s: out of memory", path);
		if (chr)
			chardev_free(chr);
		return NULL;
	}
	if (unix_clear_path(path, err, errlen) < 0 || unix_listen(chr, path, err, errlen) < 0) {
		chardev_free(chr);
		return NULL;
	}
	return chr;
}

/* One client at a time: a second one is accepted and closed at once, so it sees EOF. */
static void chardev_on_listen(void *opaque, uint32_t events)
{
	struct chardev *chr = opaque;
	int fd;

	(void)events;
	fd = accept4(chr->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	pthread_mutex_lock(&chr->in_lock);
	if (chr->in_fd >= 0) {
		pthread_mutex_unlock(&chr->in_lock);
		log_info("chardev: %s: refusing a second client", chr->socket_path);
		close(fd);
		return;
	}
	chr->in_fd = fd;
	chr->in_eof = false;
	set_output_fd(chr, fd);
	if (!chr->pending_len)
		input_watch_locked(chr);
	pthread_mutex_unlock(&chr->in_lock);
	log_info("chardev: %s: client connected", chr->socket_path);
}

/*
 * A terminal we are not the foreground of is left alone: switching it to raw mode or reading it
 * would stop us with SIGTTOU/SIGTTIN. Non-terminal stdin (a pipe, a file, /dev/null) is read as
 * is; if epoll cannot watch it (regular files, /dev/null), there is no input.
 */
static int stdio_setup_input(struct chardev *chr, char *err, size_t errlen)
{
	int r;

	if (isatty(STDIN_FILENO)) {
		pid_t foreground = tcgetpgrp(STDIN_FILENO); /* -1 if not our controlling tty */

		if (foreground >= 0 && foreground != getpgrp()) {
			log_info("chardev: stdio: not the terminal's foreground job; no input");
			return 0;
		}
		r = stdio_terminal_make_raw(err, errlen);
		if (r < 0)
			return r;
		stdio_install_signal_handlers(chr);
	}
	chr->in_fd = STDIN_FILENO;
	r = evloop_add_fd(chr->loop, STDIN_FILENO, EPOLLIN, chardev_on_input, chr);
	if (r < 0) {
		log_debug("chardev: stdio: stdin cannot be watched (%s); no input", strerror(-r));
		chr->in_fd = -1;
		return 0;
	}
	chr->in_watched = true;
	return 0;
}

static struct chardev *open_stdio(struct evloop *loop, char *err, size_t errlen)
{
	struct chardev *chr;

	if (stdio_terminal.in_use) {
		set_err(err, errlen, "chardev: stdio is already used by another port");
		return NULL;
	}
	chr = chardev_alloc(loop, CHARDEV_STDIO);
	if (!chr) {
		set_err(err, errlen, "chardev: stdio: out of memory");
		return NULL;
	}
	if (stdio_setup_input(chr, err, errlen) < 0) {
		chardev_free(chr);
		return NULL;
	}
	set_output_fd(chr, STDOUT_FILENO);
	stdio_terminal.in_use = true;
	return chr;
}

struct chardev *chardev_open(struct evloop *loop, const char *spec, char *err, size_t errlen)
{
	if (!loop || !spec) {
		set_err(err, errlen, "chardev: no backend given");
		return NULL;
	}
	if (strcmp(spec, "stdio") == 0)
		return open_stdio(loop, err, errlen);
	if (strcmp(spec, "null") == 0)
		return open_null(loop, err, errlen);
	if (strncmp(spec, "file:", 5) == 0)
		return open_file(loop, spec + 5, err, errlen);
	if (strncmp(spec, "unix:", 5) == 0)
		return open_unix(loop, spec + 5, err, errlen);
	set_err(err, errlen,
		"chardev: unknown backend '%s' (use stdio, file:PATH, unix:PATH or null)", spec);
	return NULL;
}

struct chardev *chardev_open_fd(struct evloop *loop, int in_fd, int out_fd)
{
	struct chardev *chr = loop ? chardev_alloc(loop, CHARDEV_FD) : NULL;

	if (!chr) {
		if (in_fd >= 0)
			close(in_fd);
		if (out_fd >= 0 && out_fd != in_fd)
			close(out_fd);
		return NULL;
	}
	chr->owns_in_fd = in_fd >= 0;
	chr->owns_out_fd = out_fd >= 0;
	if (in_fd >= 0) {
		/* We own it, so it may be non-blocking: a spurious wake-up must not block us. */
		fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) | O_NONBLOCK);
		chr->in_fd = in_fd;
		pthread_mutex_lock(&chr->in_lock);
		input_watch_locked(chr);
		pthread_mutex_unlock(&chr->in_lock);
	}
	if (out_fd >= 0)
		set_output_fd(chr, out_fd);
	return chr;
}

static void close_owned_fds(struct chardev *chr)
{
	bool in_open = chr->in_fd >= 0 && (chr->owns_in_fd || chr->kind == CHARDEV_UNIX);

	if (in_open)
		close(chr->in_fd);
	if (chr->out_fd >= 0 && chr->owns_out_fd && !(in_open && chr->out_fd == chr->in_fd))
		close(chr->out_fd);
}

/* Call on the I/O thread, or after it stopped: no callback of this chardev may be running. */
void chardev_close(struct chardev *chr)
{
	if (!chr)
		return;
	timer_del(chr->resume_timer);
	pthread_mutex_lock(&chr->in_lock);
	input_unwatch_locked(chr);
	pthread_mutex_unlock(&chr->in_lock);
	if (chr->listen_fd >= 0) {
		evloop_del_fd(chr->loop, chr->listen_fd);
		close(chr->listen_fd);
		unlink(chr->socket_path);
	}
	close_owned_fds(chr);
	if (chr->kind == CHARDEV_STDIO) {
		stdio_terminal_restore();
		stdio_remove_signal_handlers(chr);
		stdio_terminal.in_use = false;
	}
	chardev_free(chr);
}
