/*
 * Network backends: the --net backend spec and its errors; the generic layer over a fake
 * backend (counters, drops, link, rx_ready, the receiver hold, the pcap tee both ways); the
 * user (slirp) backend with frames built by hand: DHCP, ARP, TCP to the host's loopback through
 * the gateway, restricted mode, hostfwd, and flow control (refused frames held in order, never
 * delivered from rx_ready itself); and a real TAP inside a private network namespace of a forked
 * child (skipped, loudly, where that cannot be had).
 *
 * Network safety: nothing here leaves the machine. slirp's addresses are 198.18.64.0/24; the only
 * real sockets are on 127.0.0.1; the TAP test runs in a network namespace of its own, which the
 * kernel removes when the child exits. Every wait is bounded in count and time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fake_evloop.h"
#include "hostvisor/net.h"

#define MS 1000000ull

/* ---- a receiver that records frames ---- */

#define SINK_MAX_FRAMES 200
#define SINK_FRAME_MAX 2048

struct sink {
	bool accept; /* take frames (true) or refuse them (false) */
	int calls;
	int nframes;
	size_t len[SINK_MAX_FRAMES];
	uint8_t frame[SINK_MAX_FRAMES][SINK_FRAME_MAX];
};

static bool sink_receive(void *opaque, const struct iovec *iov, int iovcnt, size_t len)
{
	struct sink *s = opaque;
	size_t off = 0;

	s->calls++;
	if (!s->accept || s->nframes == SINK_MAX_FRAMES)
		return false;
	for (int i = 0; i < iovcnt && off < SINK_FRAME_MAX; i++) {
		size_t n = iov[i].iov_len;

		if (n > SINK_FRAME_MAX - off)
			n = SINK_FRAME_MAX - off;
		memcpy(s->frame[s->nframes] + off, iov[i].iov_base, n);
		off += n;
	}
	s->len[s->nframes++] = len;
	return true;
}

static struct sink *sink_new(bool accept)
{
	struct sink *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->accept = accept;
	return s;
}

/* The fake loop calls only callbacks registered for an fd, so firing every number is safe. */
static void fire_all_fds(struct evloop *loop)
{
	for (int fd = 0; fd < 1024; fd++)
		fake_evloop_fire_fd(loop, fd, EPOLLIN | EPOLLOUT);
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { 0, (long)ms * 1000000 };

	nanosleep(&ts, NULL);
}

/* ---- frames built by hand ---- */

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)get_be16(p) << 16 | get_be16(p + 2);
}

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return ntohl(a.s_addr);
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += get_be16(p + i);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static size_t put_eth(uint8_t *p, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	put_be16(p + 12, type);
	return 14;
}

static void put_ipv4(uint8_t *ip, uint8_t proto, uint32_t src, uint32_t dst, size_t payload)
{
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put_be16(ip + 2, (uint16_t)(20 + payload));
	ip[8] = 64;
	ip[9] = proto;
	put_be32(ip + 12, src);
	put_be32(ip + 16, dst);
	put_be16(ip + 10, csum_fold(csum_add(0, ip, 20)));
}

static size_t build_arp(uint8_t *p, uint16_t op, const uint8_t *sha, uint32_t spa,
			const uint8_t *tha, uint32_t tpa)
{
	uint8_t *a = p + put_eth(p, op == 1 ? bcast_mac : tha, sha, 0x0806);

	put_be16(a, 1);
	put_be16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put_be16(a + 6, op);
	memcpy(a + 8, sha, 6);
	put_be32(a + 14, spa);
	memset(a + 18, 0, 6);
	if (op == 2)
		memcpy(a + 18, tha, 6);
	put_be32(a + 24, tpa);
	memset(a + 28, 0, 14); /* pad to the 60-byte minimum */
	return 60;
}

#define BOOTP_LEN 548 /* 236 fixed bytes, magic cookie, 308 of options */
#define DHCPDISCOVER 1
#define DHCPOFFER 2
#define DHCPREQUEST 3
#define DHCPACK 5

/* A DHCP message from the guest (RFC 2131), broadcast from 0.0.0.0:68 to 255.255.255.255:67. */
static size_t build_dhcp(uint8_t *p, uint32_t xid, uint8_t type, uint32_t requested,
			 uint32_t server)
{
	uint8_t *ip = p + put_eth(p, bcast_mac, guest_mac, 0x0800);
	uint8_t *udp = ip + 20, *bp = udp + 8, *opt;

	memset(bp, 0, BOOTP_LEN);
	bp[0] = 1; /* BOOTREQUEST */
	bp[1] = 1; /* Ethernet */
	bp[2] = 6;
	put_be32(bp + 4, xid);
	put_be16(bp + 10, 0x8000); /* broadcast the reply: we have no address yet */
	memcpy(bp + 28, guest_mac, 6);
	put_be32(bp + 236, 0x63825363);
	opt = bp + 240;
	*opt++ = 53;
	*opt++ = 1;
	*opt++ = type;
	if (requested) {
		*opt++ = 50;
		*opt++ = 4;
		put_be32(opt, requested);
		opt += 4;
	}
	if (server) {
		*opt++ = 54;
		*opt++ = 4;
		put_be32(opt, server);
		opt += 4;
	}
	*opt = 255;
	put_be16(udp, 68);
	put_be16(udp + 2, 67);
	put_be16(udp + 4, 8 + BOOTP_LEN);
	put_be16(udp + 6, 0); /* no UDP checksum: allowed for IPv4 */
	put_ipv4(ip, 17, 0, 0xffffffff, 8 + BOOTP_LEN);
	return 14 + 20 + 8 + BOOTP_LEN;
}

/* A TCP segment with a valid checksum (RFC 793 pseudo-header). */
struct tcp_seg {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	const void *data;
	size_t len;
};

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

static size_t build_tcp(uint8_t *p, const uint8_t *dst_mac, const struct tcp_seg *s)
{
	uint8_t *ip = p + put_eth(p, dst_mac, guest_mac, 0x0800);
	uint8_t *tcp = ip + 20, pseudo[12];
	uint32_t sum;

	memset(tcp, 0, 20);
	put_be16(tcp, s->sport);
	put_be16(tcp + 2, s->dport);
	put_be32(tcp + 4, s->seq);
	put_be32(tcp + 8, s->ack);
	tcp[12] = 5 << 4;
	tcp[13] = s->flags;
	put_be16(tcp + 14, 65535);
	if (s->len)
		memcpy(tcp + 20, s->data, s->len);
	put_be32(pseudo, s->src);
	put_be32(pseudo + 4, s->dst);
	pseudo[8] = 0;
	pseudo[9] = 6;
	put_be16(pseudo + 10, (uint16_t)(20 + s->len));
	sum = csum_add(csum_add(0, pseudo, 12), tcp, 20 + s->len);
	put_be16(tcp + 16, csum_fold(sum));
	put_ipv4(ip, 6, s->src, s->dst, 20 + s->len);
	return 14 + 20 + 20 + s->len;
}

/* ---- frames parsed ---- */

static const uint8_t *frame_ipv4(const struct sink *s, int i, uint8_t proto)
{
	const uint8_t *f = s->frame[i];

	if (s->len[i] < 14 + 20 || get_be16(f + 12) != 0x0800 || (f[14] >> 4) != 4)
		return NULL;
	if (f[14 + 9] != proto || s->len[i] < 14 + (size_t)(f[14] & 15) * 4 + 8)
		return NULL;
	return f + 14;
}

static const uint8_t *ip_payload(const uint8_t *ip)
{
	return ip + (ip[0] & 15) * 4;
}

struct dhcp_reply {
	uint8_t type;
	uint32_t yiaddr, server_id, router, dns, netmask;
	uint8_t server_mac[6];
};

/* Finds the DHCP reply with this xid; false if there is none. */
static bool find_dhcp_reply(const struct sink *s, uint32_t xid, struct dhcp_reply *r)
{
	for (int i = 0; i < s->nframes; i++) {
		const uint8_t *ip = frame_ipv4(s, i, 17), *udp, *bp, *end;

		if (!ip)
			continue;
		udp = ip_payload(ip);
		bp = udp + 8;
		end = s->frame[i] + (s->len[i] < SINK_FRAME_MAX ? s->len[i] : SINK_FRAME_MAX);
		if (get_be16(udp) != 67 || get_be16(udp + 2) != 68 || bp + 240 > end)
			continue;
		if (bp[0] != 2 || get_be32(bp + 4) != xid || get_be32(bp + 236) != 0x63825363)
			continue;
		memset(r, 0, sizeof(*r));
		r->yiaddr = get_be32(bp + 16);
		memcpy(r->server_mac, s->frame[i] + 6, 6);
		for (const uint8_t *o = bp + 240; o < end && *o != 255;) {
			if (*o == 0) {
				o++;
				continue;
			}
			if (o + 2 > end || o + 2 + o[1] > end)
				break;
			if (o[0] == 53 && o[1] == 1)
				r->type = o[2];
			if (o[0] == 54 && o[1] == 4)
				r->server_id = get_be32(o + 2);
			if (o[0] == 3 && o[1] >= 4)
				r->router = get_be32(o + 2);
			if (o[0] == 6 && o[1] >= 4)
				r->dns = get_be32(o + 2);
			if (o[0] == 1 && o[1] == 4)
				r->netmask = get_be32(o + 2);
			o += 2 + o[1];
		}
		return true;
	}
	return false;
}

/* Index of the first TCP segment from src:sport to dst:dport at or after index from, or -1. */
static int find_tcp(const struct sink *s, int from, uint32_t src, uint16_t sport, uint32_t dst,
		    uint16_t dport)
{
	for (int i = from; i < s->nframes; i++) {
		const uint8_t *ip = frame_ipv4(s, i, 6), *tcp;

		if (!ip || get_be32(ip + 12) != src || get_be32(ip + 16) != dst)
			continue;
		tcp = ip_payload(ip);
		if (get_be16(tcp) == sport && get_be16(tcp + 2) == dport)
			return i;
	}
	return -1;
}

static const uint8_t *tcp_of(const struct sink *s, int i)
{
	return ip_payload(frame_ipv4(s, i, 6));
}

/* An ARP request for tpa from anyone, at or after index from; -1 if none. */
static int find_arp(const struct sink *s, int from, uint16_t op, uint32_t spa, uint32_t tpa)
{
	for (int i = from; i < s->nframes; i++) {
		const uint8_t *a = s->frame[i] + 14;

		if (s->len[i] < 42 || get_be16(s->frame[i] + 12) != 0x0806)
			continue;
		if (get_be16(a + 6) == op && (!spa || get_be32(a + 14) == spa) &&
		    get_be32(a + 24) == tpa)
			return i;
	}
	return -1;
}

/* ---- spec parsing ---- */

struct bad_spec {
	const char *spec;
	const char *says;
};

static void expect_open_fails(struct evloop *loop, const char *spec, const char *says)
{
	char err[256] = "";
	struct net_backend *be = net_backend_open(loop, spec, err, sizeof(err));

	if (be) {
		net_backend_close(be);
		fail_msg("spec '%s' was accepted", spec ? spec : "(null)");
	}
	if (!strstr(err, says))
		fail_msg("spec '%s': error '%s' does not say '%s'", spec ? spec : "(null)", err,
			 says);
	/* One line. */
	assert_null(strchr(err, '\n'));
}

static void test_spec_errors(void **state)
{
	static const struct bad_spec bad[] = {
		{ "", "no backend" },
		{ "foo", "unknown backend 'foo'" },
		{ "userx", "unknown backend 'userx'" },
		{ "tapx=hv0", "unknown backend" },
		{ "tap", "tap=NAME" },
		{ "tap,x", "tap=NAME" },
		{ "tap=", "needs an interface name" },
		{ "tap=hv0123456789abcdef", "longer than 15" },
		{ "tap=a/b", "not a valid interface name" },
		{ "tap=a b", "not a valid interface name" },
		{ "tap=..", "not a valid interface name" },
		{ "tap=hv0,mac=52:54:00:00:00:01", "not a valid interface name" },
		{ "user,", "empty option" },
		{ "user,,restrict=on", "empty option" },
		{ "user,restrict=on,", "empty option" },
		{ "user,bogus=1", "unknown option 'bogus=1'" },
		{ "user,restrict", "unknown option 'restrict'" },
		{ "user,restrict=maybe", "restrict takes on or off" },
		{ "user,hostfwd=", "bad hostfwd" },
		{ "user,hostfwd=tcp:0-:22", "bad hostfwd 'tcp:0-:22'" },
		{ "user,hostfwd=tcp:65536-:22", "bad hostfwd" },
		{ "user,hostfwd=tcp:2222-:0", "bad hostfwd" },
		{ "user,hostfwd=tcp:2222-:99999", "bad hostfwd" },
		{ "user,hostfwd=tcp:2222-22", "bad hostfwd" },
		{ "user,hostfwd=tcp:2222:22", "bad hostfwd" },
		{ "user,hostfwd=tcp:22x2-:22", "bad hostfwd" },
		{ "user,hostfwd=tcp:-2222-:22", "bad hostfwd" },
		{ "user,hostfwd=tcp:2222-198.18.64.9:22", "bad hostfwd" },
		{ "user,hostfwd=icmp:2222-:22", "bad hostfwd" },
		{ "user,hostfwd=tcp:2222-:22,hostfwd=tcp:2222-:23", "forwarded twice" },
	};
	struct evloop *loop = evloop_create();
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_open_fails(loop, bad[i].spec, bad[i].says);
	assert_null(net_backend_open(loop, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "no backend"));
	assert_null(net_backend_open(NULL, "user", err, sizeof(err)));
	/* No error buffer, or a tiny one: still no crash, still NULL. */
	assert_null(net_backend_open(loop, "foo", NULL, 0));
	assert_null(net_backend_open(loop, "foo", err, 4));
	assert_int_equal(strlen(err), 3);
	evloop_destroy(loop);
}

static void test_spec_too_many_hostfwd(void **state)
{
	struct evloop *loop = evloop_create();
	char spec[1024] = "user";
	size_t n = strlen(spec);

	(void)state;
	for (int i = 0; i <= NET_USER_MAX_HOSTFWD; i++)
		n += (size_t)snprintf(spec + n, sizeof(spec) - n, ",hostfwd=tcp:%d-:%d", 40000 + i,
				      22);
	expect_open_fails(loop, spec, "at most 16 hostfwd");
	evloop_destroy(loop);
}

static void test_iov_length(void **state)
{
	uint8_t a[3], b[5];
	struct iovec iov[3] = { { a, 3 }, { b, 5 }, { NULL, 0 } };
	struct iovec huge[2] = { { a, SIZE_MAX - 1 }, { b, 5 } };

	(void)state;
	assert_int_equal(iov_length(NULL, 3), 0);
	assert_int_equal(iov_length(iov, 0), 0);
	assert_int_equal(iov_length(iov, -1), 0);
	assert_int_equal(iov_length(iov, 1), 3);
	assert_int_equal(iov_length(iov, 3), 8);
	assert_true(iov_length(huge, 2) == SIZE_MAX); /* saturates instead of wrapping */
}

/* ---- the generic layer over a fake backend ---- */

struct fake_backend {
	struct net_backend be;
	int sends, rx_readies, closes;
	int send_result;
	bool link;
	size_t last_len;
	uint8_t last[256];
};

static int fake_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	struct fake_backend *f = (struct fake_backend *)be;
	size_t off = 0;

	f->sends++;
	for (int i = 0; i < iovcnt && off < sizeof(f->last); i++) {
		size_t n = iov[i].iov_len < sizeof(f->last) - off ? iov[i].iov_len
								  : sizeof(f->last) - off;
		memcpy(f->last + off, iov[i].iov_base, n);
		off += n;
	}
	f->last_len = iov_length(iov, iovcnt);
	return f->send_result;
}

static void fake_rx_ready(struct net_backend *be)
{
	((struct fake_backend *)be)->rx_readies++;
}

static bool fake_link_up(struct net_backend *be)
{
	return ((struct fake_backend *)be)->link;
}

static void fake_close(struct net_backend *be)
{
	((struct fake_backend *)be)->closes++;
}

static const struct net_backend_ops fake_ops = {
	.send = fake_send,
	.rx_ready = fake_rx_ready,
	.link_up = fake_link_up,
	.close = fake_close,
};

static const struct net_backend_ops fake_ops_minimal = {
	.send = fake_send,
	.close = fake_close,
};

static void fake_init(struct fake_backend *f, const struct net_backend_ops *ops)
{
	memset(f, 0, sizeof(*f));
	f->be.ops = ops;
	f->be.name = "fake";
	f->link = true;
}

static void test_generic_send_counts_and_drops(void **state)
{
	struct fake_backend f;
	uint8_t frame[60] = { 1, 2, 3 }, *big;
	struct iovec two[2] = { { frame, 20 }, { frame + 20, 40 } };
	struct iovec iov;

	(void)state;
	fake_init(&f, &fake_ops);
	assert_int_equal(net_backend_send(&f.be, two, 2), 0);
	assert_int_equal(f.sends, 1);
	assert_int_equal(f.last_len, 60);
	assert_memory_equal(f.last, frame, 60);
	assert_int_equal(f.be.tx_frames, 1);
	assert_int_equal(f.be.tx_bytes, 60);
	assert_int_equal(f.be.tx_dropped, 0);

	/* The backend drops it (a full TAP queue): counted, error passed back. */
	f.send_result = -EAGAIN;
	assert_int_equal(net_backend_send(&f.be, two, 2), -EAGAIN);
	assert_int_equal(f.be.tx_frames, 1);
	assert_int_equal(f.be.tx_bytes, 60);
	assert_int_equal(f.be.tx_dropped, 1);
	f.send_result = 0;

	/* Empty and oversized frames never reach the backend. */
	assert_int_equal(net_backend_send(&f.be, two, 0), -EINVAL);
	assert_int_equal(net_backend_send(&f.be, NULL, 1), -EINVAL);
	assert_int_equal(net_backend_send(&f.be, two, -1), -EINVAL);
	big = calloc(1, NET_MAX_FRAME + 1);
	assert_non_null(big);
	iov = (struct iovec){ big, NET_MAX_FRAME + 1 };
	assert_int_equal(net_backend_send(&f.be, &iov, 1), -EINVAL);
	iov.iov_len = NET_MAX_FRAME;
	assert_int_equal(net_backend_send(&f.be, &iov, 1), 0);
	free(big);
	assert_int_equal(f.sends, 3);
	assert_int_equal(f.be.tx_dropped, 5);
	assert_int_equal(f.be.tx_frames, 2);
	assert_int_equal(net_backend_send(NULL, two, 2), -EINVAL);
}

static void test_generic_link_and_rx_ready(void **state)
{
	struct fake_backend f, m;
	struct sink *s = sink_new(true);

	(void)state;
	fake_init(&f, &fake_ops);
	assert_true(net_backend_link_up(&f.be));
	f.link = false;
	assert_false(net_backend_link_up(&f.be));
	assert_false(net_backend_link_up(NULL));
	net_backend_rx_ready(&f.be);
	assert_int_equal(f.rx_readies, 1);
	net_backend_rx_ready(NULL);
	/* Setting a receiver lets the backend offer what it held before there was one. */
	net_backend_set_receiver(&f.be, sink_receive, s);
	assert_int_equal(f.rx_readies, 2);
	net_backend_set_receiver(&f.be, NULL, NULL);
	assert_int_equal(f.rx_readies, 2);
	net_backend_set_receiver(NULL, sink_receive, s);

	/* Optional ops: no link_up means up, no rx_ready is fine. */
	fake_init(&m, &fake_ops_minimal);
	assert_true(net_backend_link_up(&m.be));
	net_backend_rx_ready(&m.be);
	net_backend_set_receiver(&m.be, sink_receive, s);
	net_backend_close(&m.be);
	assert_int_equal(m.closes, 1);
	net_backend_close(NULL);
	free(s);
}

static void test_generic_deliver_refuse_counts(void **state)
{
	struct fake_backend f;
	struct sink *s = sink_new(false);
	uint8_t frame[64];
	struct iovec iov[2] = { { frame, 14 }, { frame + 14, 50 } };

	(void)state;
	memset(frame, 0xab, sizeof(frame));
	fake_init(&f, &fake_ops);
	/* No receiver yet: refused, so the backend holds it. */
	assert_false(net_backend_deliver(&f.be, iov, 2, 64));
	net_backend_set_receiver(&f.be, sink_receive, s);
	assert_false(net_backend_deliver(&f.be, iov, 2, 64));
	assert_int_equal(s->calls, 1);
	assert_int_equal(f.be.rx_frames, 0);
	assert_int_equal(f.be.rx_bytes, 0);
	s->accept = true;
	assert_true(net_backend_deliver(&f.be, iov, 2, 64));
	assert_int_equal(s->nframes, 1);
	assert_int_equal(s->len[0], 64);
	assert_memory_equal(s->frame[0], frame, 64);
	assert_int_equal(f.be.rx_frames, 1);
	assert_int_equal(f.be.rx_bytes, 64);
	assert_false(net_backend_deliver(NULL, iov, 2, 64));
	free(s);
}

/* Reads a pcap file into its records: returns the count, fills lengths and data offsets. */
static int read_pcap(const char *path, uint8_t *buf, size_t cap, size_t *len_out,
		     size_t *offs, uint32_t *caplens, int max)
{
	FILE *fp = fopen(path, "rb");
	size_t len, off = 24;
	int n = 0;

	assert_non_null(fp);
	len = fread(buf, 1, cap, fp);
	fclose(fp);
	*len_out = len;
	assert_true(len >= 24);
	while (off + 16 <= len && n < max) {
		uint32_t caplen = (uint32_t)buf[off + 8] | (uint32_t)buf[off + 9] << 8 |
				  (uint32_t)buf[off + 10] << 16 | (uint32_t)buf[off + 11] << 24;

		caplens[n] = caplen;
		offs[n++] = off + 16;
		off += 16 + caplen;
	}
	assert_int_equal(off, len); /* no torn record */
	return n;
}

static void test_generic_capture_both_directions(void **state)
{
	char dir[] = "/tmp/net_backend_test.XXXXXX", path[128], err[256] = "";
	struct fake_backend f;
	struct sink *s = sink_new(false);
	uint8_t out[60], in[70], buf[4096];
	struct iovec tx = { out, sizeof(out) }, rx = { in, sizeof(in) };
	size_t offs[8], len;
	uint32_t caplens[8];
	int n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/tee.pcap", dir);
	memset(out, 0x11, sizeof(out));
	memset(in, 0x22, sizeof(in));
	fake_init(&f, &fake_ops);
	net_backend_set_receiver(&f.be, sink_receive, s);
	assert_int_equal(net_backend_capture(&f.be, path, err, sizeof(err)), 0);
	assert_int_equal(net_backend_capture(&f.be, path, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "already"));

	assert_int_equal(net_backend_send(&f.be, &tx, 1), 0);
	/* A refused frame is captured once, when it is finally taken. */
	assert_false(net_backend_deliver(&f.be, &rx, 1, sizeof(in)));
	s->accept = true;
	assert_true(net_backend_deliver(&f.be, &rx, 1, sizeof(in)));
	/* A frame the backend drops still shows in the capture: it is what the guest sent. */
	f.send_result = -EAGAIN;
	assert_int_equal(net_backend_send(&f.be, &tx, 1), -EAGAIN);
	net_backend_close(&f.be);
	assert_int_equal(f.closes, 1);

	n = read_pcap(path, buf, sizeof(buf), &len, offs, caplens, 8);
	assert_int_equal(n, 3);
	assert_int_equal(caplens[0], 60);
	assert_memory_equal(buf + offs[0], out, 60);
	assert_int_equal(caplens[1], 70);
	assert_memory_equal(buf + offs[1], in, 70);
	assert_int_equal(caplens[2], 60);
	unlink(path);

	/* A capture that cannot be opened: one line naming the file. */
	fake_init(&f, &fake_ops);
	assert_int_equal(net_backend_capture(&f.be, "/nonexistent-hv/x.pcap", err, sizeof(err)),
			 -EIO);
	assert_non_null(strstr(err, "/nonexistent-hv/x.pcap"));
	assert_null(f.be.capture);
	assert_int_equal(net_backend_capture(NULL, path, err, sizeof(err)), -EINVAL);
	rmdir(dir);
	free(s);
}

/* ---- the user backend (slirp) ---- */

struct user_ctx {
	struct evloop *loop;
	struct net_backend *be;
	struct sink *sink;
};

static void user_open(struct user_ctx *c, const char *spec)
{
	char err[256] = "";

	c->loop = evloop_create();
	assert_non_null(c->loop);
	c->be = net_backend_open(c->loop, spec, err, sizeof(err));
	if (!c->be)
		fail_msg("net_backend_open(%s): %s", spec, err);
	assert_string_equal(c->be->name, "user");
	c->sink = sink_new(true);
	net_backend_set_receiver(c->be, sink_receive, c->sink);
	fake_evloop_advance(c->loop, 0);
}

static void user_close(struct user_ctx *c)
{
	net_backend_close(c->be);
	evloop_destroy(c->loop);
	free(c->sink);
}

static void user_send_frame(struct user_ctx *c, const uint8_t *frame, size_t len)
{
	struct iovec iov = { (void *)frame, len };

	assert_int_equal(net_backend_send(c->be, &iov, 1), 0);
}

/* One turn of the I/O thread: due timers (tx, rx, slirp's) and slirp's sockets. */
static void user_turn(struct user_ctx *c, uint64_t advance_ns)
{
	fake_evloop_advance(c->loop, advance_ns);
	fire_all_fds(c->loop);
}

/* DISCOVER -> OFFER -> REQUEST -> ACK; returns the leased address. */
static uint32_t user_dhcp(struct user_ctx *c, struct dhcp_reply *offer)
{
	uint8_t frame[1024];
	struct dhcp_reply ack;

	user_send_frame(c, frame, build_dhcp(frame, 0x1234, DHCPDISCOVER, 0, 0));
	/* Nothing is fed to slirp on the device's thread: only the I/O thread's turn does it. */
	assert_false(find_dhcp_reply(c->sink, 0x1234, offer));
	user_turn(c, 0);
	assert_true(find_dhcp_reply(c->sink, 0x1234, offer));
	assert_int_equal(offer->type, DHCPOFFER);
	user_send_frame(c, frame,
			build_dhcp(frame, 0x5678, DHCPREQUEST, offer->yiaddr, offer->server_id));
	user_turn(c, 0);
	assert_true(find_dhcp_reply(c->sink, 0x5678, &ack));
	assert_int_equal(ack.type, DHCPACK);
	assert_int_equal(ack.yiaddr, offer->yiaddr);
	return ack.yiaddr;
}

static void test_user_dhcp_offer_in_benchmark_range(void **state)
{
	struct user_ctx c;
	struct dhcp_reply offer;
	uint32_t lease;

	(void)state;
	user_open(&c, "user,restrict=on");
	assert_true(net_backend_link_up(c.be));
	lease = user_dhcp(&c, &offer);
	/* Inside 198.18.64.0/24, the first lease, from the gateway address. */
	assert_int_equal(lease & 0xffffff00, ip4("198.18.64.0"));
	assert_int_equal(lease, ip4(NET_USER_DHCP_START));
	assert_int_equal(offer.server_id, ip4(NET_USER_GATEWAY));
	assert_int_equal(offer.netmask, ip4(NET_USER_NETMASK));
	/* Restricted: slirp offers no router and no DNS server (there is nowhere to go). */
	assert_int_equal(offer.router, 0);
	assert_int_equal(offer.dns, 0);
	assert_int_equal(c.be->tx_frames, 2);
	assert_int_equal(c.be->rx_frames, (uint64_t)c.sink->nframes);
	assert_true(c.be->rx_bytes > 2 * 300);
	user_close(&c);
}

/* ARP for the gateway; returns its MAC in mac. */
static void user_arp_gateway(struct user_ctx *c, uint32_t lease, uint8_t mac[6])
{
	uint8_t frame[64];
	int i;

	user_send_frame(c, frame, build_arp(frame, 1, guest_mac, lease, bcast_mac,
					    ip4(NET_USER_GATEWAY)));
	user_turn(c, 0);
	i = find_arp(c->sink, 0, 2, ip4(NET_USER_GATEWAY), lease);
	assert_true(i >= 0);
	memcpy(mac, c->sink->frame[i] + 14 + 8, 6);
}

static int listen_loopback(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* A loopback port nobody listens on (bound once, then released). */
static uint16_t free_loopback_port(void)
{
	uint16_t port;
	int fd = listen_loopback(&port);

	close(fd);
	return port;
}

/* accept() bounded in time, driving slirp meanwhile; -1 if nobody came. */
static int accept_bounded(struct user_ctx *c, int lfd, int timeout_ms)
{
	uint64_t end = wall_ms() + (uint64_t)timeout_ms;

	for (int n = 0; n < 1000 && wall_ms() < end; n++) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };

		user_turn(c, 1 * MS);
		if (poll(&p, 1, 5) == 1)
			return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	}
	return -1;
}

/* Turns the loop until a TCP segment src:sport -> dst:dport shows up at index >= from. */
static int wait_tcp(struct user_ctx *c, int from, uint32_t src, uint16_t sport, uint32_t dst,
		    uint16_t dport)
{
	uint64_t end = wall_ms() + 3000;

	for (int n = 0; n < 1000 && wall_ms() < end; n++) {
		int i = find_tcp(c->sink, from, src, sport, dst, dport);

		if (i >= 0)
			return i;
		user_turn(c, 1 * MS);
		sleep_ms(1);
	}
	return -1;
}

/*
 * The guest reaches a TCP server on the host's loopback through the gateway address: slirp maps
 * 198.18.64.2 to 127.0.0.1. Handshake, data both ways.
 */
static void test_user_tcp_to_host_loopback_via_gateway(void **state)
{
	struct user_ctx c;
	struct dhcp_reply offer;
	uint8_t gw_mac[6], frame[256], got[16];
	struct sockaddr_in peer;
	socklen_t plen = sizeof(peer);
	uint32_t lease, gw = ip4(NET_USER_GATEWAY), their_seq;
	uint16_t port;
	int lfd, cfd, i, data_at;
	struct tcp_seg seg;
	ssize_t n = -1;

	(void)state;
	user_open(&c, "user");
	lease = user_dhcp(&c, &offer);
	/* Unrestricted: the lease names the gateway and the DNS forwarder. */
	assert_int_equal(lease, ip4(NET_USER_DHCP_START));
	assert_int_equal(offer.router, gw);
	assert_int_equal(offer.dns, ip4(NET_USER_DNS));
	assert_int_equal(offer.netmask, ip4(NET_USER_NETMASK));
	user_arp_gateway(&c, lease, gw_mac);
	lfd = listen_loopback(&port);

	seg = (struct tcp_seg){ .src = lease, .dst = gw, .sport = 40000, .dport = port,
				.seq = 1000, .flags = TCP_SYN };
	user_send_frame(&c, frame, build_tcp(frame, gw_mac, &seg));
	cfd = accept_bounded(&c, lfd, 3000);
	assert_true(cfd >= 0);
	assert_int_equal(getpeername(cfd, (struct sockaddr *)&peer, &plen), 0);
	assert_int_equal(ntohl(peer.sin_addr.s_addr), INADDR_LOOPBACK);

	i = wait_tcp(&c, 0, gw, port, lease, 40000);
	assert_true(i >= 0);
	assert_int_equal(tcp_of(c.sink, i)[13] & (TCP_SYN | TCP_ACK), TCP_SYN | TCP_ACK);
	assert_int_equal(get_be32(tcp_of(c.sink, i) + 8), 1001);
	their_seq = get_be32(tcp_of(c.sink, i) + 4) + 1;

	/* Guest -> host. */
	seg = (struct tcp_seg){ .src = lease, .dst = gw, .sport = 40000, .dport = port,
				.seq = 1001, .ack = their_seq, .flags = TCP_ACK | TCP_PSH,
				.data = "hello", .len = 5 };
	user_send_frame(&c, frame, build_tcp(frame, gw_mac, &seg));
	fcntl(cfd, F_SETFL, O_NONBLOCK);
	for (int k = 0; k < 1000 && n <= 0; k++) {
		user_turn(&c, 1 * MS);
		n = recv(cfd, got, sizeof(got), 0);
		if (n <= 0)
			sleep_ms(1);
	}
	assert_int_equal(n, 5);
	assert_memory_equal(got, "hello", 5);

	/* Host -> guest. */
	assert_int_equal(send(cfd, "world", 5, MSG_NOSIGNAL), 5);
	data_at = -1;
	for (int k = 0, from = i + 1; k < 1000 && data_at < 0; k++) {
		int j = wait_tcp(&c, from, gw, port, lease, 40000);

		assert_true(j >= 0);
		from = j + 1;
		if (c.sink->len[j] >= 14 + 20 + 20 + 5 &&
		    memcmp(tcp_of(c.sink, j) + (tcp_of(c.sink, j)[12] >> 4) * 4, "world", 5) == 0)
			data_at = j;
	}
	assert_true(data_at >= 0);

	close(cfd);
	close(lfd);
	user_close(&c);
}

/* restrict=on: the same SYN to the gateway is reset, and nothing reaches the host. */
static void test_user_restricted_resets_guest_connections(void **state)
{
	struct user_ctx c;
	struct dhcp_reply offer;
	uint8_t gw_mac[6], frame[256];
	uint32_t lease, gw = ip4(NET_USER_GATEWAY);
	uint16_t port;
	struct tcp_seg seg;
	int lfd, i;

	(void)state;
	user_open(&c, "user,restrict=on");
	lease = user_dhcp(&c, &offer);
	user_arp_gateway(&c, lease, gw_mac);
	lfd = listen_loopback(&port);
	seg = (struct tcp_seg){ .src = lease, .dst = gw, .sport = 40001, .dport = port,
				.seq = 7, .flags = TCP_SYN };
	user_send_frame(&c, frame, build_tcp(frame, gw_mac, &seg));
	assert_int_equal(accept_bounded(&c, lfd, 300), -1);
	i = find_tcp(c.sink, 0, gw, port, lease, 40001);
	assert_true(i >= 0);
	assert_true(tcp_of(c.sink, i)[13] & TCP_RST);
	close(lfd);
	user_close(&c);
}

/* hostfwd: a connection to 127.0.0.1:HOSTPORT becomes a SYN to the guest's GUESTPORT. */
static void test_user_hostfwd_reaches_guest(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct user_ctx c;
	struct dhcp_reply offer;
	uint8_t gw_mac[6], frame[128];
	char spec[128];
	uint16_t port = free_loopback_port();
	uint32_t lease, gw = ip4(NET_USER_GATEWAY);
	int fd, found = -1, arp_from = 0;
	uint64_t end;

	(void)state;
	snprintf(spec, sizeof(spec), "user,restrict=on,hostfwd=tcp:%u-:22", port);
	user_open(&c, spec);
	lease = user_dhcp(&c, &offer);
	user_arp_gateway(&c, lease, gw_mac);

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	a.sin_port = htons(port);
	assert_true(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 || errno == EINPROGRESS);
	end = wall_ms() + 3000;
	for (int n = 0; n < 1000 && wall_ms() < end && found < 0; n++) {
		int arp = find_arp(c.sink, arp_from, 1, 0, lease);

		/* slirp may ask who has the guest's address before it sends the SYN. */
		if (arp >= 0) {
			arp_from = arp + 1;
			user_send_frame(&c, frame, build_arp(frame, 2, guest_mac, lease,
							     c.sink->frame[arp] + 6, gw));
		}
		user_turn(&c, 1 * MS);
		for (int i = 0; i < c.sink->nframes && found < 0; i++) {
			const uint8_t *ip = frame_ipv4(c.sink, i, 6);

			if (ip && get_be32(ip + 16) == lease &&
			    get_be16(ip_payload(ip) + 2) == 22 && (ip_payload(ip)[13] & TCP_SYN))
				found = i;
		}
		if (found < 0)
			sleep_ms(1);
	}
	assert_true(found >= 0);
	close(fd);
	user_close(&c);
}

static void test_user_hostfwd_port_in_use(void **state)
{
	struct evloop *loop = evloop_create();
	char spec[128], err[256] = "";
	uint16_t port;
	int lfd = listen_loopback(&port);

	(void)state;
	snprintf(spec, sizeof(spec), "user,hostfwd=tcp:%u-:22", port);
	assert_null(net_backend_open(loop, spec, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot listen on 127.0.0.1"));
	close(lfd);
	evloop_destroy(loop);
}

/*
 * Flow control: frames the receiver refuses are held in order, never offered from rx_ready
 * itself (the device may call it under its lock on a vCPU thread), and offered again on the I/O
 * thread's next turn after rx_ready.
 */
static void test_user_refused_frames_held_in_order(void **state)
{
	struct user_ctx c;
	struct dhcp_reply r1, r2;
	uint8_t frame[1024];
	int calls;

	(void)state;
	user_open(&c, "user,restrict=on");
	c.sink->accept = false;
	user_send_frame(&c, frame, build_dhcp(frame, 0x1111, DHCPDISCOVER, 0, 0));
	user_send_frame(&c, frame, build_dhcp(frame, 0x2222, DHCPDISCOVER, 0, 0));
	user_turn(&c, 0);
	/* The first was offered and refused; the second queued behind it without an offer. */
	assert_int_equal(c.sink->calls, 1);
	assert_int_equal(c.sink->nframes, 0);
	assert_int_equal(c.be->rx_frames, 0);

	/* rx_ready while still full: one more offer on the next turn, still refused. */
	net_backend_rx_ready(c.be);
	assert_int_equal(c.sink->calls, 1);
	user_turn(&c, 0);
	assert_int_equal(c.sink->calls, 2);

	/* Room again: nothing happens in rx_ready itself; the next turn delivers both, in order. */
	c.sink->accept = true;
	calls = c.sink->calls;
	net_backend_rx_ready(c.be);
	assert_int_equal(c.sink->calls, calls);
	user_turn(&c, 0);
	assert_int_equal(c.sink->nframes, 2);
	assert_true(find_dhcp_reply(c.sink, 0x1111, &r1));
	assert_true(find_dhcp_reply(c.sink, 0x2222, &r2));
	assert_int_equal(get_be32(c.sink->frame[0] + 14 + 20 + 8 + 4), 0x1111);
	assert_int_equal(get_be32(c.sink->frame[1] + 14 + 20 + 8 + 4), 0x2222);
	assert_int_equal(c.be->rx_frames, 2);

	/* New frames flow straight through again. */
	user_send_frame(&c, frame, build_dhcp(frame, 0x3333, DHCPDISCOVER, 0, 0));
	user_turn(&c, 0);
	assert_int_equal(c.sink->nframes, 3);
	user_close(&c);
}

/* Frames that arrive before the device set its receiver wait for it. */
static void test_user_frames_before_receiver_wait(void **state)
{
	struct evloop *loop = evloop_create();
	struct sink *s = sink_new(true);
	struct net_backend *be = net_backend_open(loop, "user,restrict=on", NULL, 0);
	uint8_t frame[1024];
	struct iovec iov = { frame, build_dhcp(frame, 0x4444, DHCPDISCOVER, 0, 0) };
	struct dhcp_reply r;

	(void)state;
	assert_non_null(be);
	assert_int_equal(net_backend_send(be, &iov, 1), 0);
	fake_evloop_advance(loop, 0);
	net_backend_set_receiver(be, sink_receive, s);
	assert_int_equal(s->calls, 0);
	fake_evloop_advance(loop, 0);
	assert_true(find_dhcp_reply(s, 0x4444, &r));
	net_backend_close(be);
	evloop_destroy(loop);
	free(s);
}

/* Bounded queues: the device cannot queue without limit, nor can slirp for a stalled guest. */
static void test_user_queues_are_bounded(void **state)
{
	struct user_ctx c;
	uint8_t frame[1024], junk[60];
	struct iovec iov = { junk, sizeof(junk) };
	int sent = 0, dropped = 0;

	(void)state;
	user_open(&c, "user,restrict=on");
	/* An unknown EtherType: slirp ignores it. */
	memset(junk, 0, sizeof(junk));
	put_eth(junk, bcast_mac, guest_mac, 0x88b5);
	for (int i = 0; i < 300; i++) {
		int r = net_backend_send(c.be, &iov, 1);

		if (r == 0)
			sent++;
		else if (r == -ENOBUFS)
			dropped++;
	}
	assert_int_equal(sent, 256);
	assert_int_equal(dropped, 44);
	assert_int_equal(c.be->tx_dropped, 44);
	user_turn(&c, 0);
	assert_int_equal(net_backend_send(c.be, &iov, 1), 0);

	/* 150 offers for a guest that takes nothing: 128 held, the rest dropped. */
	c.sink->accept = false;
	for (int i = 0; i < 150; i++)
		user_send_frame(&c, frame, build_dhcp(frame, 0x10000 + (uint32_t)i, DHCPDISCOVER,
						      0, 0));
	user_turn(&c, 0);
	c.sink->accept = true;
	net_backend_rx_ready(c.be);
	user_turn(&c, 0);
	assert_int_equal(c.sink->nframes, 128);
	assert_int_equal(get_be32(c.sink->frame[0] + 14 + 20 + 8 + 4), 0x10000);
	assert_int_equal(get_be32(c.sink->frame[127] + 14 + 20 + 8 + 4), 0x10000 + 127);
	user_close(&c);
}

/* Garbage from the guest does not upset slirp: short, truncated, and lying headers. */
static void test_user_hostile_frames(void **state)
{
	struct user_ctx c;
	struct dhcp_reply offer;
	uint8_t frame[1024];
	size_t len;
	struct iovec iov = { frame, 0 };

	(void)state;
	user_open(&c, "user,restrict=on");
	len = build_dhcp(frame, 0x9999, DHCPDISCOVER, 0, 0);
	for (size_t cut = 1; cut < len; cut += 13) {
		iov.iov_len = cut;
		net_backend_send(c.be, &iov, 1);
		user_turn(&c, 0);
	}
	/* An IP total length far beyond the frame; a header length of 60 on a tiny packet. */
	put_be16(frame + 14 + 2, 0xffff);
	iov.iov_len = len;
	net_backend_send(c.be, &iov, 1);
	frame[14] = 0x4f;
	net_backend_send(c.be, &iov, 1);
	user_turn(&c, 0);
	assert_false(find_dhcp_reply(c.sink, 0x9999, &offer));
	/* Still working. */
	user_dhcp(&c, &offer);
	user_close(&c);
}

/* The tee on a real backend: tshark sees the DHCP exchange (skipped without tshark). */
static void test_user_capture_readable_by_tshark(void **state)
{
	char dir[] = "/tmp/net_backend_test.XXXXXX", path[128], cmd[300], line[512], err[256];
	struct user_ctx c;
	struct dhcp_reply offer;
	bool discover = false, offered = false;
	FILE *p;

	(void)state;
	if (system("command -v tshark >/dev/null 2>&1") != 0) {
		print_message("net_backend_test: tshark is not installed; skipping\n");
		skip();
	}
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/user.pcap", dir);
	user_open(&c, "user,restrict=on");
	assert_int_equal(net_backend_capture(c.be, path, err, sizeof(err)), 0);
	user_dhcp(&c, &offer);
	user_close(&c);
	snprintf(cmd, sizeof(cmd), "tshark -n -r '%s' 2>/dev/null", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		discover |= strstr(line, "DHCP Discover") != NULL;
		offered |= strstr(line, "DHCP Offer") != NULL &&
			   strstr(line, "198.18.64.2") != NULL;
	}
	assert_int_equal(pclose(p), 0);
	assert_true(discover);
	assert_true(offered);
	unlink(path);
	rmdir(dir);
}

/* ---- a real TAP, in a network namespace of a forked child ---- */

#define TAP_SKIP 77

struct tap_result {
	char msg[256];
};

static int tap_fail(struct tap_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int tap_fail(struct tap_result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	return 1;
}

/* Address and up, with plain ioctls: no ip(8) needed inside the namespace. */
static int tap_configure(const char *ifname, uint32_t addr)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = -1;

	if (s < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(addr);
	if (ioctl(s, SIOCSIFADDR, &ifr) < 0)
		goto out;
	sin->sin_addr.s_addr = htonl(0xffffff00);
	if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0)
		goto out;
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		goto out;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	r = ioctl(s, SIOCSIFFLAGS, &ifr);
out:
	close(s);
	return r;
}

/* Turns the loop until the sink was called at least calls times; bounded. */
static bool tap_wait_calls(struct evloop *loop, struct sink *s, int calls)
{
	uint64_t end = wall_ms() + 3000;

	for (int n = 0; n < 1000 && wall_ms() < end; n++) {
		fire_all_fds(loop);
		if (s->calls >= calls)
			return true;
		sleep_ms(2);
	}
	return false;
}

static int tap_child_checks(struct evloop *loop, struct sink *s, struct tap_result *r)
{
	uint32_t host = ip4("198.18.0.1"), guest = ip4("198.18.0.2");
	char err[256] = "";
	struct net_backend *be = net_backend_open(loop, "tap=hvtest0", err, sizeof(err)), *be2;
	uint8_t frame[64];
	struct iovec iov = { frame, 0 };
	int rc = 0;

	if (!be && strstr(err, "permission denied")) {
		/* A sandbox that lets us have a namespace but not a TAP in it. */
		snprintf(r->msg, sizeof(r->msg), "%s", err);
		return TAP_SKIP;
	}
	if (!be)
		return tap_fail(r, "open: %s", err);
	if (strcmp(be->name, "tap:hvtest0") != 0)
		rc = tap_fail(r, "name is '%s'", be->name);
	/* Busy: a second open of the same TAP. Not a TAP: the loopback. One clear line each. */
	be2 = net_backend_open(loop, "tap=hvtest0", err, sizeof(err));
	if (!rc && (be2 || !strstr(err, "busy") || !strstr(err, "hvtest0")))
		rc = tap_fail(r, "second open: %s", be2 ? "accepted" : err);
	if (be2)
		net_backend_close(be2);
	if (!rc && (net_backend_open(loop, "tap=lo", err, sizeof(err)) ||
		    !strstr(err, "not a TAP")))
		rc = tap_fail(r, "tap=lo: %s", err);
	if (!rc && tap_configure("hvtest0", host) < 0)
		rc = tap_fail(r, "configure: %s", strerror(errno));
	if (!rc && !net_backend_link_up(be))
		rc = tap_fail(r, "link down");
	s->accept = false;
	net_backend_set_receiver(be, sink_receive, s);

	/* The guest asks who has the host's address; the kernel answers through the TAP. */
	iov.iov_len = build_arp(frame, 1, guest_mac, guest, bcast_mac, host);
	if (!rc && net_backend_send(be, &iov, 1) != 0)
		rc = tap_fail(r, "send: %s", strerror(errno));
	if (!rc && (be->tx_frames != 1 || be->tx_bytes != 60))
		rc = tap_fail(r, "tx counters %llu/%llu", (unsigned long long)be->tx_frames,
			      (unsigned long long)be->tx_bytes);
	if (!rc && !tap_wait_calls(loop, s, 1))
		rc = tap_fail(r, "no frame from the TAP");
	/* Refused: held, and the fd is no longer watched, so firing reads nothing more. */
	fire_all_fds(loop);
	fire_all_fds(loop);
	if (!rc && (s->calls != 1 || s->nframes != 0))
		rc = tap_fail(r, "after refusal: %d calls, %d frames", s->calls, s->nframes);
	s->accept = true;
	net_backend_rx_ready(be);
	if (!rc && s->calls != 1)
		rc = tap_fail(r, "rx_ready called the receiver itself");
	fake_evloop_advance(loop, 0);
	if (!rc && (s->calls != 2 || s->nframes != 1))
		rc = tap_fail(r, "after rx_ready: %d calls, %d frames", s->calls, s->nframes);
	/* Reading resumed: the ARP reply arrives (it may follow IPv6 chatter). */
	for (int n = 0; !rc && n < 50 && find_arp(s, 0, 2, host, guest) < 0; n++)
		tap_wait_calls(loop, s, s->calls + 1);
	if (!rc && find_arp(s, 0, 2, host, guest) < 0)
		rc = tap_fail(r, "no ARP reply among %d frames", s->nframes);
	if (!rc && (be->rx_frames != (uint64_t)s->nframes))
		rc = tap_fail(r, "rx_frames %llu, frames %d", (unsigned long long)be->rx_frames,
			      s->nframes);
	net_backend_close(be);
	return rc;
}

/* Runs in the forked child: its own network namespace, gone when it exits. */
static int tap_child(struct tap_result *r)
{
	struct evloop *loop;
	struct sink *s;
	int fd, rc;

	if (unshare(CLONE_NEWNET) < 0) {
		snprintf(r->msg, sizeof(r->msg), "unshare(CLONE_NEWNET): %s", strerror(errno));
		return TAP_SKIP;
	}
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(r->msg, sizeof(r->msg), "/dev/net/tun: %s", strerror(errno));
		return TAP_SKIP;
	}
	close(fd);
	loop = evloop_create();
	s = calloc(1, sizeof(*s));
	if (!loop || !s)
		return tap_fail(r, "out of memory");
	rc = tap_child_checks(loop, s, r);
	free(s);
	evloop_destroy(loop);
	return rc;
}

static void test_tap_in_private_netns(void **state)
{
	struct tap_result res = { "" };
	int pipefd[2], status = 0;
	pid_t pid, done = 0;
	uint64_t end;
	ssize_t n;

	(void)state;
	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0) {
		print_message("net_backend_test: SKIPPING the real TAP test: needs root and "
			      "/dev/net/tun\n");
		skip();
	}
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int rc;

		close(pipefd[0]);
		rc = tap_child(&res);
		if (write(pipefd[1], &res, sizeof(res)) < 0)
			rc = 1;
		_exit(rc);
	}
	close(pipefd[1]);
	end = wall_ms() + 20000;
	while (wall_ms() < end && (done = waitpid(pid, &status, WNOHANG)) == 0)
		sleep_ms(10);
	if (done == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		close(pipefd[0]);
		fail_msg("TAP child did not finish in 20 s");
	}
	n = read(pipefd[0], &res, sizeof(res));
	close(pipefd[0]);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == TAP_SKIP) {
		print_message("net_backend_test: SKIPPING the real TAP test: %s\n", res.msg);
		skip();
	}
	if (WEXITSTATUS(status) != 0)
		fail_msg("TAP child: %s", n > 0 ? res.msg : "(no message)");
}

/* Without privilege the error names the device and says what is missing. Run as nobody in a
 * child, so the test's own credentials do not change. */
static void test_tap_permission_error(void **state)
{
	struct tap_result res = { "" };
	int pipefd[2], status = 0;
	pid_t pid;

	(void)state;
	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0) {
		print_message("net_backend_test: SKIPPING the TAP permission test: needs root\n");
		skip();
	}
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct evloop *loop;
		struct net_backend *be;
		int rc = 0;

		close(pipefd[0]);
		/* A namespace of our own first, so a bug here cannot make a TAP on the host. */
		if (unshare(CLONE_NEWNET) < 0 || setgid(65534) < 0 || setuid(65534) < 0) {
			snprintf(res.msg, sizeof(res.msg), "cannot drop privileges: %s",
				 strerror(errno));
			rc = TAP_SKIP;
		} else {
			loop = evloop_create();
			be = net_backend_open(loop, "tap=hvtest1", res.msg, sizeof(res.msg));
			rc = be ? 2 : 0;
			if (be)
				net_backend_close(be);
			evloop_destroy(loop);
		}
		if (write(pipefd[1], &res, sizeof(res)) < 0)
			rc = 1;
		_exit(rc);
	}
	close(pipefd[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(read(pipefd[0], &res, sizeof(res)) > 0);
	close(pipefd[0]);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == TAP_SKIP) {
		print_message("net_backend_test: SKIPPING the TAP permission test: %s\n", res.msg);
		skip();
	}
	assert_int_equal(WEXITSTATUS(status), 0);
	if (!strstr(res.msg, "tap=hvtest1") ||
	    (!strstr(res.msg, "permission denied") && !strstr(res.msg, "Permission denied")))
		fail_msg("unexpected error: %s", res.msg);
	assert_null(strchr(res.msg, '\n'));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_errors),
		cmocka_unit_test(test_spec_too_many_hostfwd),
		cmocka_unit_test(test_iov_length),
		cmocka_unit_test(test_generic_send_counts_and_drops),
		cmocka_unit_test(test_generic_link_and_rx_ready),
		cmocka_unit_test(test_generic_deliver_refuse_counts),
		cmocka_unit_test(test_generic_capture_both_directions),
		cmocka_unit_test(test_user_dhcp_offer_in_benchmark_range),
		cmocka_unit_test(test_user_tcp_to_host_loopback_via_gateway),
		cmocka_unit_test(test_user_restricted_resets_guest_connections),
		cmocka_unit_test(test_user_hostfwd_reaches_guest),
		cmocka_unit_test(test_user_hostfwd_port_in_use),
		cmocka_unit_test(test_user_refused_frames_held_in_order),
		cmocka_unit_test(test_user_frames_before_receiver_wait),
		cmocka_unit_test(test_user_queues_are_bounded),
		cmocka_unit_test(test_user_hostile_frames),
		cmocka_unit_test(test_user_capture_readable_by_tshark),
		cmocka_unit_test(test_tap_in_private_netns),
		cmocka_unit_test(test_tap_permission_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
