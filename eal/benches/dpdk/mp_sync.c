/*
 * DPDK's side of ipc_perf: one member (primary or secondary) of a DPDK 22.11 process group
 * that answers the action "ping" (echo) and times rte_mp_request_sync round trips when told.
 *
 * After rte_eal_init it prints "mp_sync ready", then reads commands on stdin, blocking (so
 * its main lcore never busy-polls a CPU):
 *   "sync N WANT"  200 warm-up requests, then N timed ones, each expecting WANT replies
 *                  (a secondary's request goes to the primary; the primary's to every
 *                  secondary); prints "mp_sync lat X1 X2 ..." in microseconds, or
 *                  "mp_sync error ..." when a request fails or has another reply count.
 * End of stdin: unregister, rte_eal_cleanup, exit 0.
 * Written for Bypass's benches; built by ipc_perf.rs with pkg-config libdpdk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_string_fns.h>

#define WARMUP 200
#define PARAM_LEN 64

static int ping(const struct rte_mp_msg *msg, const void *peer)
{
	struct rte_mp_msg r;

	memset(&r, 0, sizeof(r));
	rte_strlcpy(r.name, msg->name, sizeof(r.name));
	r.len_param = msg->len_param;
	memcpy(r.param, msg->param, msg->len_param);
	return rte_mp_reply(&r, peer);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec * 1e-3;
}

/* One request; returns the number of replies, or -1. */
static int request(void)
{
	struct rte_mp_msg req;
	struct rte_mp_reply rep;
	struct timespec ts = { .tv_sec = 2, .tv_nsec = 0 };
	int n;

	memset(&req, 0, sizeof(req));
	rte_strlcpy(req.name, "ping", sizeof(req.name));
	req.len_param = PARAM_LEN;
	memset(req.param, 0xab, PARAM_LEN);
	if (rte_mp_request_sync(&req, &rep, &ts) < 0)
		return -1;
	n = rep.nb_received;
	free(rep.msgs);
	return n;
}

static int measure(long n, int want)
{
	double *lat = calloc(n > 0 ? n : 1, sizeof(double));
	long i;

	if (lat == NULL) {
		printf("mp_sync error out of memory\n");
		return -1;
	}
	for (i = -WARMUP; i < n; i++) {
		double t = now_us();
		int got = request();

		if (got != want) {
			printf("mp_sync error request %ld got %d replies, want %d\n", i, got, want);
			free(lat);
			return -1;
		}
		if (i >= 0)
			lat[i] = now_us() - t;
	}
	printf("mp_sync lat");
	for (i = 0; i < n; i++)
		printf(" %.3f", lat[i]);
	printf("\n");
	free(lat);
	return 0;
}

int main(int argc, char **argv)
{
	char line[128];

	if (rte_eal_init(argc, argv) < 0) {
		printf("mp_sync error rte_eal_init failed\n");
		return 1;
	}
	if (rte_mp_action_register("ping", ping) < 0) {
		printf("mp_sync error cannot register the action\n");
		rte_eal_cleanup();
		return 1;
	}
	printf("mp_sync ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		long n;
		int want;

		if (sscanf(line, "sync %ld %d", &n, &want) != 2) {
			printf("mp_sync error unknown command\n");
		} else {
			measure(n, want);
		}
		fflush(stdout);
	}
	rte_mp_action_unregister("ping");
	rte_eal_cleanup();
	return 0;
}
