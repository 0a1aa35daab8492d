/*
 * Cost of DPDK's rte_ring in cycles per element, one measurement per line read on stdin
 * ("2 spsc 32", "1 mpmc 8"), the result printed as "ring_two_core cycles=X" (one core:
 * "cycles=X best=B", B from the fastest run of 8192 pairs). One core: an
 * enqueue-N + dequeue-N pair divided by N; two cores: the producer's cycles per element
 * plus the consumer's. ring_perf.rs starts it once and alternates each of its own
 * measurements with one of these, so both sides see the same machine state.
 * Written for Bypass's benches; built by ring_perf.rs with pkg-config libdpdk.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_pause.h>
#include <rte_ring.h>

#define OBJS (1u << 24)
#define MAX_BULK 32

struct side {
	struct rte_ring *ring;
	unsigned int n;
	int single;
	double cycles;
};

static volatile int start;

static int consume(void *arg)
{
	struct side *s = arg;
	void *objs[MAX_BULK];
	uint64_t iters = OBJS / s->n, i, t0;

	while (!start)
		rte_pause();
	t0 = rte_rdtsc();
	for (i = 0; i < iters; i++) {
		while ((s->single ? rte_ring_sc_dequeue_bulk(s->ring, objs, s->n, NULL)
				  : rte_ring_mc_dequeue_bulk(s->ring, objs, s->n, NULL)) == 0)
			rte_pause();
	}
	s->cycles = (double)(rte_rdtsc() - t0) / (double)(iters * s->n);
	return 0;
}

static double produce(struct side *s)
{
	void *objs[MAX_BULK];
	uint64_t iters = OBJS / s->n, i, t0;

	for (i = 0; i < MAX_BULK; i++)
		objs[i] = (void *)(uintptr_t)(i + 1);
	start = 1;
	t0 = rte_rdtsc();
	for (i = 0; i < iters; i++) {
		while ((s->single ? rte_ring_sp_enqueue_bulk(s->ring, objs, s->n, NULL)
				  : rte_ring_mp_enqueue_bulk(s->ring, objs, s->n, NULL)) == 0)
			rte_pause();
	}
	return (double)(rte_rdtsc() - t0) / (double)(iters * s->n);
}

#define ONE_CORE_ITERS (1u << 21)
#define ONE_CORE_CHUNK (1u << 13)

/* Cycles per element over ONE_CORE_ITERS pairs, and in *best those of the fastest run of
 * ONE_CORE_CHUNK pairs (which preemption on a loaded host can only make slower). */
static double one_core(struct rte_ring *r, unsigned int n, int single, double *best)
{
	void *objs[MAX_BULK], *out[MAX_BULK];
	uint64_t i, t0, c0, fastest = UINT64_MAX;

	for (i = 0; i < MAX_BULK; i++)
		objs[i] = (void *)(uintptr_t)(i + 1);
	t0 = rte_rdtsc();
	c0 = t0;
	for (i = 0; i < ONE_CORE_ITERS; i++) {
		if (single) {
			rte_ring_sp_enqueue_bulk(r, objs, n, NULL);
			rte_ring_sc_dequeue_bulk(r, out, n, NULL);
		} else {
			rte_ring_mp_enqueue_bulk(r, objs, n, NULL);
			rte_ring_mc_dequeue_bulk(r, out, n, NULL);
		}
		if ((i + 1) % ONE_CORE_CHUNK == 0) {
			uint64_t c = rte_rdtsc();

			if (c - c0 < fastest)
				fastest = c - c0;
			c0 = c;
		}
	}
	*best = (double)fastest / ((double)ONE_CORE_CHUNK * n);
	return (double)(rte_rdtsc() - t0) / ((double)ONE_CORE_ITERS * n);
}

int main(int argc, char **argv)
{
	struct rte_ring *spsc, *mpmc;
	unsigned int worker;
	char line[64], mode[16];

	if (rte_eal_init(argc, argv) < 0) {
		fprintf(stderr, "ring_two_core: EAL init failed\n");
		return 1;
	}
	worker = rte_get_next_lcore(-1, 1, 0);
	if (worker >= RTE_MAX_LCORE) {
		fprintf(stderr, "ring_two_core: needs two lcores (-l 0-1)\n");
		return 1;
	}
	spsc = rte_ring_create("bp_spsc", 4096, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	mpmc = rte_ring_create("bp_mpmc", 4096, SOCKET_ID_ANY, 0);
	if (spsc == NULL || mpmc == NULL) {
		fprintf(stderr, "ring_two_core: cannot create rings\n");
		return 1;
	}
	printf("ring_two_core ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		struct side cons, prod;
		unsigned int n, cores;

		if (sscanf(line, "%u %15s %u", &cores, mode, &n) != 3 || n == 0 || n > MAX_BULK ||
		    (cores != 1 && cores != 2) ||
		    (strcmp(mode, "spsc") != 0 && strcmp(mode, "mpmc") != 0)) {
			printf("ring_two_core error: expected '1|2 spsc|mpmc N' with N in 1..%d\n", MAX_BULK);
			fflush(stdout);
			continue;
		}
		if (cores == 1) {
			double best, all;

			all = one_core(strcmp(mode, "spsc") == 0 ? spsc : mpmc, n, strcmp(mode, "spsc") == 0, &best);
			printf("ring_two_core cycles=%.3f best=%.3f\n", all, best);
			fflush(stdout);
			continue;
		}
		cons.ring = prod.ring = strcmp(mode, "spsc") == 0 ? spsc : mpmc;
		cons.n = prod.n = n;
		cons.single = prod.single = strcmp(mode, "spsc") == 0;
		start = 0;
		rte_eal_remote_launch(consume, &cons, worker);
		prod.cycles = produce(&prod);
		rte_eal_wait_lcore(worker);
		printf("ring_two_core cycles=%.3f\n", prod.cycles + cons.cycles);
		fflush(stdout);
	}
	rte_eal_cleanup();
	return 0;
}
