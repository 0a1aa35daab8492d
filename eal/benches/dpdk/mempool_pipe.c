/*
 * DPDK's side of mempool_perf.rs, one measurement per line read on stdin, so that the
 * bench alternates each of its own measurements with the same one here (this VM changes
 * speed every few seconds). A line "CACHE CORES BULK KEEP SECS" (cache 0 or 512) runs
 * mempool_perf_autotest's loop (get KEEP objects in bulks of BULK, put them back in bulks
 * of BULK, 65536 objects per pass) on CORES lcores for SECS seconds, with the autotest's
 * pool geometry, and prints "mempool_pipe rate=R best=B" (objects per second, summed over
 * cores; the main lcore's fastest pass in TSC cycles per object).
 * Written for Bypass's benches; built by mempool_perf.rs with pkg-config libdpdk.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mempool.h>
#include <rte_pause.h>

#define N 65536
#define ELT_SIZE 2048
#define MAX_KEEP 512
#define POOL_SIZE (2 * (MAX_KEEP + RTE_MEMPOOL_CACHE_MAX_SIZE) - 1)

struct job {
	struct rte_mempool *mp;
	unsigned int bulk, keep;
	double secs;
	uint64_t count;
	uint64_t best; /* fastest pass, TSC cycles */
} __rte_cache_aligned;

static volatile int start;

static __rte_always_inline int run_pass(struct rte_mempool *mp, struct rte_mempool_cache *cache,
					unsigned int keep, unsigned int bulk, void **table)
{
	unsigned int i, idx;

	for (i = 0; i < N / keep; i++) {
		for (idx = 0; idx < keep; idx += bulk)
			if (unlikely(rte_mempool_generic_get(mp, &table[idx], bulk, cache) < 0))
				return -1;
		for (idx = 0; idx < keep; idx += bulk)
			rte_mempool_generic_put(mp, &table[idx], bulk, cache);
	}
	return 0;
}

static int per_lcore(void *arg)
{
	struct job *j = arg;
	void *table[MAX_KEEP] __rte_cache_aligned;
	struct rte_mempool_cache *cache = rte_mempool_default_cache(j->mp, rte_lcore_id());
	uint64_t limit = (uint64_t)(j->secs * rte_get_timer_hz()), t0;

	j->count = 0;
	j->best = UINT64_MAX;
	while (!start)
		rte_pause();
	t0 = rte_get_timer_cycles();
	while (rte_get_timer_cycles() - t0 < limit) {
		uint64_t c0 = rte_rdtsc(), c;

		if (run_pass(j->mp, cache, j->keep, j->bulk, table) < 0)
			return -1;
		c = rte_rdtsc() - c0;
		if (c < j->best)
			j->best = c;
		j->count += N;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct rte_mempool *pools[2];
	unsigned int worker;
	char line[128];

	if (rte_eal_init(argc, argv) < 0) {
		fprintf(stderr, "mempool_pipe: EAL init failed\n");
		return 1;
	}
	worker = rte_get_next_lcore(-1, 1, 0);
	pools[0] = rte_mempool_create("mp_nocache", POOL_SIZE, ELT_SIZE, 0, 0, NULL, NULL, NULL,
				      NULL, SOCKET_ID_ANY, 0);
	pools[1] = rte_mempool_create("mp_cache", POOL_SIZE, ELT_SIZE, RTE_MEMPOOL_CACHE_MAX_SIZE, 0,
				      NULL, NULL, NULL, NULL, SOCKET_ID_ANY, 0);
	if (pools[0] == NULL || pools[1] == NULL) {
		fprintf(stderr, "mempool_pipe: cannot create pools\n");
		return 1;
	}
	printf("mempool_pipe ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		struct job jobs[2];
		unsigned int cache, cores, bulk, keep;
		double secs;
		int ret;

		if (sscanf(line, "%u %u %u %u %lf", &cache, &cores, &bulk, &keep, &secs) != 5 ||
		    (cache != 0 && cache != RTE_MEMPOOL_CACHE_MAX_SIZE) || (cores != 1 && cores != 2) ||
		    bulk == 0 || keep == 0 || keep > MAX_KEEP || keep % bulk != 0 || secs <= 0 ||
		    (cores == 2 && worker >= RTE_MAX_LCORE)) {
			printf("mempool_pipe error: expected 'CACHE(0|%d) CORES(1|2) BULK KEEP SECS' with KEEP "
			       "a multiple of BULK up to %d (2 cores need -l 0-1)\n",
			       RTE_MEMPOOL_CACHE_MAX_SIZE, MAX_KEEP);
			fflush(stdout);
			continue;
		}
		for (int i = 0; i < 2; i++) {
			jobs[i].mp = pools[cache != 0];
			jobs[i].bulk = bulk;
			jobs[i].keep = keep;
			jobs[i].secs = secs;
			jobs[i].count = 0;
		}
		start = 0;
		if (cores == 2)
			rte_eal_remote_launch(per_lcore, &jobs[1], worker);
		start = 1;
		ret = per_lcore(&jobs[0]);
		if (cores == 2 && rte_eal_wait_lcore(worker) < 0)
			ret = -1;
		if (ret < 0)
			printf("mempool_pipe error: pool exhausted\n");
		else
			printf("mempool_pipe rate=%.0f best=%.4f\n",
			       (double)(jobs[0].count + (cores == 2 ? jobs[1].count : 0)) / secs,
			       (double)jobs[0].best / N);
		fflush(stdout);
	}
	rte_eal_cleanup();
	return 0;
}
