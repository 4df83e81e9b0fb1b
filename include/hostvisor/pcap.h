/*
 * A writer of classic libpcap capture files (the format tcpdump, tshark and Wireshark read):
 * a 24-byte global header (magic 0xa1b2c3d4 in host order, version 2.4, snaplen 65535,
 * LINKTYPE_ETHERNET), then one record per frame: a 16-byte header (seconds, microseconds,
 * captured length, original length) and the first min(len, snaplen) bytes of the frame.
 *
 * Each record goes out in a single write() of header and data, so a VM killed at any moment
 * leaves whole records behind (at most the record being written is missing). Thread-safe: the
 * device's vCPU thread (TX) and the I/O thread (RX) write to the same file.
 */
#ifndef HOSTVISOR_PCAP_H
#define HOSTVISOR_PCAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define PCAP_MAGIC 0xa1b2c3d4u /* microsecond timestamps */
#define PCAP_VERSION_MAJOR 2
#define PCAP_VERSION_MINOR 4
#define PCAP_SNAPLEN 65535
#define PCAP_LINKTYPE_ETHERNET 1
#define PCAP_GLOBAL_HEADER_LEN 24
#define PCAP_RECORD_HEADER_LEN 16

struct pcap_writer;

/* Creates (or truncates) path and writes the global header. NULL with one line in err. */
struct pcap_writer *pcap_open(const char *path, char *err, size_t errlen);
/* Flushes nothing (every record is already written) and closes the file. NULL is fine. */
void pcap_close(struct pcap_writer *w);

/* Appends one frame of len bytes (in iov) stamped with the wall clock; 0 or negative errno. */
int pcap_write(struct pcap_writer *w, const struct iovec *iov, int iovcnt, size_t len);
/* The same with a given timestamp (microseconds since the Unix epoch), for tests. */
int pcap_write_at(struct pcap_writer *w, uint64_t unix_us, const struct iovec *iov, int iovcnt,
		  size_t len);

/* Records written so far, and records lost to write errors (for statistics and tests). */
uint64_t pcap_records(struct pcap_writer *w);
uint64_t pcap_errors(struct pcap_writer *w);

#endif
