/*
 * Classic libpcap capture files; see include/hostvisor/pcap.h for the format. All fields are
 * written little-endian: on x86 that is host order, the order tcpdump itself writes, and readers
 * tell the byte order from the magic number anyway.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hostvisor/le.h"
#include "hostvisor/log.h"
#include "hostvisor/pcap.h"

#define PCAP_RECORD_MAX (PCAP_RECORD_HEADER_LEN + PCAP_SNAPLEN)

struct pcap_writer {
	pthread_mutex_t lock;
	int fd;
	char *path;
	bool broken; /* a record went out only in part: later ones would be misread, stop */
	uint64_t records, errors;
	uint8_t record[PCAP_RECORD_MAX]; /* header + data, assembled for the single write() */
};

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

static void pcap_global_header(uint8_t *h)
{
	put32(h, PCAP_MAGIC);
	put16(h + 4, PCAP_VERSION_MAJOR);
	put16(h + 6, PCAP_VERSION_MINOR);
	put32(h + 8, 0);  /* thiszone: timestamps are UTC */
	put32(h + 12, 0); /* sigfigs */
	put32(h + 16, PCAP_SNAPLEN);
	put32(h + 20, PCAP_LINKTYPE_ETHERNET);
}

/* Writes all of buf; returns bytes written (less than len only on an error). */
static size_t write_all(int fd, const uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = write(fd, buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	return off;
}

struct pcap_writer *pcap_open(const char *path, char *err, size_t errlen)
{
	uint8_t header[PCAP_GLOBAL_HEADER_LEN];
	struct pcap_writer *w;

	if (!path || !*path) {
		set_err(err, errlen, "capture: needs a file name");
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (w)
		w->path = strdup(path);
	if (!w || !w->path) {
		set_err(err, errlen, "capture: %s: out of memory", path);
		free(w);
		return NULL;
	}
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		set_err(err, errlen, "capture: %s: %s", path, strerror(errno));
		free(w->path);
		free(w);
		return NULL;
	}
	pcap_global_header(header);
	if (write_all(w->fd, header, sizeof(header)) != sizeof(header)) {
		set_err(err, errlen, "capture: %s: cannot write the header: %s", path,
			 strerror(errno ? errno : EIO));
		close(w->fd);
		unlink(path);
		free(w->path);
		free(w);
		return NULL;
	}
	pthread_mutex_init(&w->lock, NULL);
	return w;
}

void pcap_close(struct pcap_writer *w)
{
	if (!w)
		return;
	close(w->fd);
	pthread_mutex_destroy(&w->lock);
	free(w->path);
	free(w);
}

/* Copies the first n bytes of the iovec into dst; returns bytes copied. */
static size_t iov_copy_prefix(uint8_t *dst, size_t n, const struct iovec *iov, int iovcnt)
{
	size_t off = 0;

	for (int i = 0; i < iovcnt && off < n; i++) {
		size_t chunk = iov[i].iov_len < n - off ? iov[i].iov_len : n - off;

		if (chunk)
			memcpy(dst + off, iov[i].iov_base, chunk);
		off += chunk;
	}
	return off;
}

static void record_failure_locked(struct pcap_writer *w, size_t written, int error)
{
	w->errors++;
	if (written == 0 || w->broken)
		return;
	w->broken = true;
	log_warn("capture: %s: record written in part (%s); capture stops here", w->path,
		 strerror(error ? error : EIO));
}

int pcap_write_at(struct pcap_writer *w, uint64_t unix_us, const struct iovec *iov, int iovcnt,
		  size_t len)
{
	size_t caplen = len < PCAP_SNAPLEN ? len : PCAP_SNAPLEN;
	size_t total, written;
	uint8_t *h;

	if (!w || (!iov && iovcnt > 0) || iovcnt < 0 || len > UINT32_MAX)
		return -EINVAL;
	pthread_mutex_lock(&w->lock);
	if (w->broken) {
		w->errors++;
		pthread_mutex_unlock(&w->lock);
		return -EIO;
	}
	h = w->record;
	/* The frame may be shorter than len claims: capture only what is there. */
	caplen = iov_copy_prefix(h + PCAP_RECORD_HEADER_LEN, caplen, iov, iovcnt);
	put32(h, (uint32_t)(unix_us / 1000000));
	put32(h + 4, (uint32_t)(unix_us % 1000000));
	put32(h + 8, (uint32_t)caplen);
	put32(h + 12, (uint32_t)len);
	total = PCAP_RECORD_HEADER_LEN + caplen;
	errno = 0;
	written = write_all(w->fd, h, total);
	if (written != total) {
		int error = errno ? errno : EIO;

		record_failure_locked(w, written, error);
		pthread_mutex_unlock(&w->lock);
		return -error;
	}
	w->records++;
	pthread_mutex_unlock(&w->lock);
	return 0;
}

int pcap_write(struct pcap_writer *w, const struct iovec *iov, int iovcnt, size_t len)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return pcap_write_at(w, (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000, iov,
			     iovcnt, len);
}

uint64_t pcap_records(struct pcap_writer *w)
{
	uint64_t n;

	pthread_mutex_lock(&w->lock);
	n = w->records;
	pthread_mutex_unlock(&w->lock);
	return n;
}

uint64_t pcap_errors(struct pcap_writer *w)
{
	uint64_t n;

	pthread_mutex_lock(&w->lock);
	n = w->errors;
	pthread_mutex_unlock(&w->lock);
	return n;
}
