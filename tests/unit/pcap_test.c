/*
 * The pcap writer, byte for byte: the global header, record headers, data split over an iovec,
 * truncation at the snap length, the wall-clock stamp, and bad arguments. When tshark is
 * installed it must read the file without complaint.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "hostvisor/pcap.h"

struct fixture {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/pcap_test.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/c.pcap", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Reads the whole file; the caller frees. */
static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static const uint8_t expected_global_header[PCAP_GLOBAL_HEADER_LEN] = {
	0xd4, 0xc3, 0xb2, 0xa1, /* magic, microsecond timestamps, little-endian */
	0x02, 0x00, 0x04, 0x00, /* version 2.4 */
	0x00, 0x00, 0x00, 0x00, /* thiszone */
	0x00, 0x00, 0x00, 0x00, /* sigfigs */
	0xff, 0xff, 0x00, 0x00, /* snaplen 65535 */
	0x01, 0x00, 0x00, 0x00, /* LINKTYPE_ETHERNET */
};

static void test_global_header_only(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";
	struct pcap_writer *w = pcap_open(f->path, err, sizeof(err));
	uint8_t *buf;
	size_t len;

	assert_non_null(w);
	assert_int_equal(pcap_records(w), 0);
	pcap_close(w);
	buf = slurp(f->path, &len);
	assert_int_equal(len, PCAP_GLOBAL_HEADER_LEN);
	assert_memory_equal(buf, expected_global_header, PCAP_GLOBAL_HEADER_LEN);
	free(buf);
}

static void fill_frame(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static void expect_record(const uint8_t *r, uint32_t sec, uint32_t usec, uint32_t caplen,
			  uint32_t origlen)
{
	const uint32_t fields[4] = { sec, usec, caplen, origlen };
	uint8_t h[16];

	/* Little-endian, as the magic number in the global header says. */
	for (int i = 0; i < 4; i++)
		for (int b = 0; b < 4; b++)
			h[i * 4 + b] = (uint8_t)(fields[i] >> (8 * b));
	assert_memory_equal(r, h, sizeof(h));
}

static void test_records_byte_for_byte(void **state)
{
	struct fixture *f = *state;
	uint8_t a[60], b1[14], b2[100], b3[1];
	struct iovec one = { a, sizeof(a) };
	struct iovec three[3] = { { b1, sizeof(b1) }, { b2, sizeof(b2) }, { b3, sizeof(b3) } };
	struct pcap_writer *w = pcap_open(f->path, NULL, 0);
	uint8_t *buf, *r;
	size_t len;

	assert_non_null(w);
	fill_frame(a, sizeof(a), 1);
	fill_frame(b1, sizeof(b1), 2);
	fill_frame(b2, sizeof(b2), 3);
	fill_frame(b3, sizeof(b3), 4);
	assert_int_equal(pcap_write_at(w, 1700000000ull * 1000000 + 123456, &one, 1, sizeof(a)), 0);
	assert_int_equal(pcap_write_at(w, 1700000001ull * 1000000 + 999999, three, 3, 115), 0);
	assert_int_equal(pcap_records(w), 2);
	assert_int_equal(pcap_errors(w), 0);
	pcap_close(w);

	buf = slurp(f->path, &len);
	assert_int_equal(len, 24 + 16 + 60 + 16 + 115);
	assert_memory_equal(buf, expected_global_header, 24);
	r = buf + 24;
	expect_record(r, 1700000000, 123456, 60, 60);
	assert_memory_equal(r + 16, a, 60);
	r += 16 + 60;
	expect_record(r, 1700000001, 999999, 115, 115);
	assert_memory_equal(r + 16, b1, 14);
	assert_memory_equal(r + 16 + 14, b2, 100);
	assert_memory_equal(r + 16 + 114, b3, 1);
	free(buf);
}

/* A frame longer than the snap length keeps its first 65535 bytes and its real length. */
static void test_truncation_at_snaplen(void **state)
{
	struct fixture *f = *state;
	size_t big = 65550;
	uint8_t *frame = malloc(big);
	struct iovec iov[2] = { { frame, 65000 }, { frame + 65000, big - 65000 } };
	struct pcap_writer *w = pcap_open(f->path, NULL, 0);
	uint8_t *buf;
	size_t len;

	assert_non_null(frame);
	assert_non_null(w);
	fill_frame(frame, big, 9);
	assert_int_equal(pcap_write_at(w, 5000000, iov, 2, big), 0);
	/* Exactly the snap length: not truncated. */
	assert_int_equal(pcap_write_at(w, 6000001, iov, 2, PCAP_SNAPLEN), 0);
	pcap_close(w);

	buf = slurp(f->path, &len);
	assert_int_equal(len, 24 + 2 * (16 + PCAP_SNAPLEN));
	expect_record(buf + 24, 5, 0, PCAP_SNAPLEN, (uint32_t)big);
	assert_memory_equal(buf + 24 + 16, frame, PCAP_SNAPLEN);
	expect_record(buf + 24 + 16 + PCAP_SNAPLEN, 6, 1, PCAP_SNAPLEN, PCAP_SNAPLEN);
	free(buf);
	free(frame);
}

/* An iovec shorter than the length it claims is captured as far as it goes. */
static void test_short_iovec_captures_what_is_there(void **state)
{
	struct fixture *f = *state;
	uint8_t a[20];
	struct iovec iov = { a, sizeof(a) };
	struct pcap_writer *w = pcap_open(f->path, NULL, 0);
	uint8_t *buf;
	size_t len;

	assert_non_null(w);
	fill_frame(a, sizeof(a), 5);
	assert_int_equal(pcap_write_at(w, 0, &iov, 1, 64), 0);
	pcap_close(w);
	buf = slurp(f->path, &len);
	assert_int_equal(len, 24 + 16 + 20);
	expect_record(buf + 24, 0, 0, 20, 64);
	free(buf);
}

static void test_wall_clock_timestamp(void **state)
{
	struct fixture *f = *state;
	uint8_t a[42] = { 0 };
	struct iovec iov = { a, sizeof(a) };
	struct pcap_writer *w = pcap_open(f->path, NULL, 0);
	struct timeval before, after;
	uint8_t *buf;
	size_t len;
	uint32_t sec, usec;

	assert_non_null(w);
	gettimeofday(&before, NULL);
	assert_int_equal(pcap_write(w, &iov, 1, sizeof(a)), 0);
	gettimeofday(&after, NULL);
	pcap_close(w);
	buf = slurp(f->path, &len);
	sec = (uint32_t)buf[24] | (uint32_t)buf[25] << 8 | (uint32_t)buf[26] << 16 |
	      (uint32_t)buf[27] << 24;
	usec = (uint32_t)buf[28] | (uint32_t)buf[29] << 8 | (uint32_t)buf[30] << 16 |
	       (uint32_t)buf[31] << 24;
	assert_true(usec < 1000000);
	assert_true((uint64_t)sec * 1000000 + usec >=
		    (uint64_t)before.tv_sec * 1000000 + (uint64_t)before.tv_usec);
	assert_true((uint64_t)sec * 1000000 + usec <=
		    (uint64_t)after.tv_sec * 1000000 + (uint64_t)after.tv_usec);
	free(buf);
}

static void test_open_errors(void **state)
{
	char err[256] = "";

	(void)state;
	assert_null(pcap_open("/nonexistent-dir-hv/x.pcap", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent-dir-hv/x.pcap"));
	assert_non_null(strstr(err, "No such file"));
	assert_null(pcap_open("", err, sizeof(err)));
	assert_non_null(strstr(err, "file name"));
	assert_null(pcap_open(NULL, NULL, 0));
	pcap_close(NULL);
}

static void test_bad_write_arguments(void **state)
{
	struct fixture *f = *state;
	struct pcap_writer *w = pcap_open(f->path, NULL, 0);

	assert_non_null(w);
	assert_int_equal(pcap_write_at(NULL, 0, NULL, 0, 0), -EINVAL);
	assert_int_equal(pcap_write_at(w, 0, NULL, 1, 10), -EINVAL);
	assert_int_equal(pcap_write_at(w, 0, NULL, -1, 0), -EINVAL);
	/* An empty frame is a valid (if odd) record. */
	assert_int_equal(pcap_write_at(w, 0, NULL, 0, 0), 0);
	assert_int_equal(pcap_records(w), 1);
	pcap_close(w);
}

/* The global header cannot be written (the file size limit stands in for a full disk). */
static void test_header_write_error(void **state)
{
	struct fixture *f = *state;
	struct rlimit old, lim;
	void (*old_handler)(int);
	char err[256] = "";
	struct pcap_writer *w;

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 10;
	old_handler = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	w = pcap_open(f->path, err, sizeof(err));
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, old_handler);
	assert_null(w);
	assert_non_null(strstr(err, "header"));
	/* No torn file is left behind. */
	assert_int_equal(access(f->path, F_OK), -1);
}

/*
 * A record that goes out only in part (the file size limit, like a full disk, cuts it) is
 * counted and stops the capture: later records would be misread after a torn one.
 */
static void test_torn_record_stops_capture(void **state)
{
	struct fixture *f = *state;
	uint8_t a[60] = { 0 };
	struct iovec iov = { a, sizeof(a) };
	struct rlimit old, lim;
	struct pcap_writer *w = pcap_open(f->path, NULL, 0);
	void (*old_handler)(int);
	struct stat st;

	assert_non_null(w);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 24 + 16 + 60 + 30; /* the second record fits only in part */
	old_handler = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(pcap_write_at(w, 1, &iov, 1, sizeof(a)), 0);
	assert_int_equal(pcap_write_at(w, 2, &iov, 1, sizeof(a)), -EFBIG);
	assert_int_equal(pcap_write_at(w, 3, &iov, 1, sizeof(a)), -EIO);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, old_handler);
	/* Nothing more is written once a record was torn, even with room again. */
	assert_int_equal(pcap_write_at(w, 4, &iov, 1, sizeof(a)), -EIO);
	assert_int_equal(pcap_records(w), 1);
	assert_int_equal(pcap_errors(w), 3);
	pcap_close(w);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_size, 24 + 16 + 60 + 30);
}

/* tshark (when installed) reads what we wrote, every record, without a warning. */
static void test_tshark_reads_it(void **state)
{
	struct fixture *f = *state;
	uint8_t frame[64];
	struct iovec iov = { frame, sizeof(frame) };
	struct pcap_writer *w;
	char cmd[512], line[256];
	FILE *p;
	int lines = 0, status;

	if (system("command -v tshark >/dev/null 2>&1") != 0) {
		print_message("pcap_test: tshark is not installed; skipping the tshark check\n");
		skip();
	}
	w = pcap_open(f->path, NULL, 0);
	assert_non_null(w);
	/* An Ethernet broadcast ARP request, then an odd-length frame. */
	memset(frame, 0, sizeof(frame));
	memset(frame, 0xff, 6);
	memcpy(frame + 6, "\x52\x54\x00\x12\x34\x56\x08\x06", 8);
	memcpy(frame + 14, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
	for (int i = 0; i < 5; i++)
		assert_int_equal(pcap_write(w, &iov, 1, sizeof(frame) - (size_t)i), 0);
	pcap_close(w);
	snprintf(cmd, sizeof(cmd), "tshark -n -r '%s' 2>&1", f->path);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		/* tshark's own warning about running as root says nothing about the file. */
		if (strncmp(line, "Running as user", 15) == 0)
			continue;
		/* Any complaint ("appears to have been cut short", "isn't a capture file"). */
		assert_null(strstr(line, "cut short"));
		assert_null(strstr(line, "isn't"));
		assert_null(strstr(line, "rror"));
		assert_non_null(strstr(line, "ARP"));
		lines++;
	}
	status = pclose(p);
	assert_int_equal(status, 0);
	assert_int_equal(lines, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_global_header_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_records_byte_for_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncation_at_snaplen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_iovec_captures_what_is_there, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_wall_clock_timestamp, setup, teardown),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test_setup_teardown(test_bad_write_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_write_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_record_stops_capture, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tshark_reads_it, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
