/*
 * DPDK's side of table_perf.rs's hash rows, one key size per line read on stdin, so that the
 * bench alternates each of its own measurements with DPDK's for the same key size (a whole
 * `hash_perf_autotest` takes minutes, and this VM's memory speed changes within that time).
 *
 * A line "KEYLEN LOCKED" (LOCKED 0 or 1) runs, on an `rte_hash` of 2^19 entries, the
 * workload of hash_perf_autotest's "with 8-byte data" table with all keys in their primary
 * bucket: keys are a little-endian counter over KEYLEN bytes, skipping keys whose primary
 * bucket already holds 8 (the autotest's key generator), hashed with rte_jhash as the
 * autotest's table; 75% of the entries are added; then, once without and once with the hash
 * given: timed adds (8-byte data), 10 shuffles, 5 timed passes of single lookups, 5 of bulk
 * lookups of 16, timed deletes, reset. LOCKED 1 sets the autotest's "with locks" flags
 * (RW_CONCURRENCY and TRANS_MEM_SUPPORT).
 *
 * Prints "hash_pipe add=A lookup=L bulk=B delete=D add_hash=AH lookup_hash=LH", cycles per
 * operation. Written for Bypass's benches; built by table_perf.rs with pkg-config libdpdk.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_random.h>

#define ENTRIES (1u << 19)
#define KEYS (ENTRIES / 4 * 3)
#define BUCKETS (ENTRIES / 8)
#define PASSES 5
#define SHUFFLES 10
#define BURST 16
#define MAX_KEY 64

static uint8_t keys[KEYS][MAX_KEY];
static uint32_t sigs[KEYS];
static uint8_t fill[BUCKETS];

static struct rte_hash *make_table(unsigned int key_len, int locked, unsigned int serial)
{
	char name[RTE_HASH_NAMESIZE];
	struct rte_hash_parameters p = {
		.entries = ENTRIES,
		.key_len = key_len,
		.hash_func = rte_jhash,
		.hash_func_init_val = 0,
		.socket_id = SOCKET_ID_ANY,
	};

	snprintf(name, sizeof(name), "hp%u_%u", key_len, serial);
	p.name = name;
	if (locked)
		p.extra_flag = RTE_HASH_EXTRA_FLAGS_TRANS_MEM_SUPPORT | RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY;
	return rte_hash_create(&p);
}

/* Counter keys; a key whose primary bucket is full is skipped. */
static void make_keys(const struct rte_hash *h, unsigned int key_len)
{
	uint8_t k[MAX_KEY] = { 0 };
	unsigned int i = 0;

	memset(fill, 0, sizeof(fill));
	while (i < KEYS) {
		for (unsigned int j = 0; j < key_len && ++k[j] == 0; j++)
			;
		uint32_t sig = rte_hash_hash(h, k);

		if (fill[sig & (BUCKETS - 1)] == 8)
			continue;
		fill[sig & (BUCKETS - 1)]++;
		memset(keys[i], 0, MAX_KEY);
		memcpy(keys[i], k, key_len);
		sigs[i] = sig;
		i++;
	}
}

static void shuffle(unsigned int key_len)
{
	uint8_t t[MAX_KEY];

	for (unsigned int i = KEYS - 1; i > 0; i--) {
		unsigned int s = rte_rand() % i;
		uint32_t sig = sigs[i];

		memcpy(t, keys[i], key_len);
		memcpy(keys[i], keys[s], key_len);
		memcpy(keys[s], t, key_len);
		sigs[i] = sigs[s];
		sigs[s] = sig;
	}
}

/* One pass of the autotest's sequence; fills add/lookup/bulk/delete cycles per operation.
 * Returns -1 when an operation fails or finds the wrong data. */
static int run(struct rte_hash *h, unsigned int key_len, int with_hash, double *out)
{
	uint64_t t0;
	void *data;

	t0 = rte_rdtsc();
	for (unsigned int i = 0; i < KEYS; i++) {
		data = (void *)(uintptr_t)sigs[i];
		if ((with_hash ? rte_hash_add_key_with_hash_data(h, keys[i], sigs[i], data)
			       : rte_hash_add_key_data(h, keys[i], data)) < 0)
			return -1;
	}
	out[0] = (double)(rte_rdtsc() - t0) / KEYS;
	for (int s = 0; s < SHUFFLES; s++)
		shuffle(key_len);
	t0 = rte_rdtsc();
	for (int p = 0; p < PASSES; p++)
		for (unsigned int i = 0; i < KEYS; i++) {
			if ((with_hash ? rte_hash_lookup_with_hash_data(h, keys[i], sigs[i], &data)
				       : rte_hash_lookup_data(h, keys[i], &data)) < 0 ||
			    data != (void *)(uintptr_t)sigs[i])
				return -1;
		}
	out[1] = (double)(rte_rdtsc() - t0) / (PASSES * KEYS);
	t0 = rte_rdtsc();
	for (int p = 0; p < PASSES; p++)
		for (unsigned int i = 0; i + BURST <= KEYS; i += BURST) {
			const void *kb[BURST];
			void *vals[BURST];
			uint64_t hits;

			for (int k = 0; k < BURST; k++)
				kb[k] = keys[i + k];
			if (rte_hash_lookup_bulk_data(h, kb, BURST, &hits, vals) != BURST)
				return -1;
			for (int k = 0; k < BURST; k++)
				if (vals[k] != (void *)(uintptr_t)sigs[i + k])
					return -1;
		}
	out[2] = (double)(rte_rdtsc() - t0) / (PASSES * KEYS);
	t0 = rte_rdtsc();
	for (unsigned int i = 0; i < KEYS; i++)
		if ((with_hash ? rte_hash_del_key_with_hash(h, keys[i], sigs[i]) : rte_hash_del_key(h, keys[i])) < 0)
			return -1;
	out[3] = (double)(rte_rdtsc() - t0) / KEYS;
	rte_hash_reset(h);
	return 0;
}

int main(int argc, char **argv)
{
	char line[64];
	unsigned int serial = 0;

	if (rte_eal_init(argc, argv) < 0) {
		fprintf(stderr, "hash_pipe: EAL init failed\n");
		return 1;
	}
	printf("hash_pipe ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		unsigned int key_len;
		int locked;
		double plain[4], hashed[4];
		struct rte_hash *h;

		if (sscanf(line, "%u %d", &key_len, &locked) != 2 || key_len == 0 || key_len > MAX_KEY) {
			printf("hash_pipe error: expected 'KEYLEN(1-%d) LOCKED(0|1)'\n", MAX_KEY);
			fflush(stdout);
			continue;
		}
		h = make_table(key_len, locked, serial++);
		if (h == NULL) {
			printf("hash_pipe error: rte_hash_create failed\n");
			fflush(stdout);
			continue;
		}
		make_keys(h, key_len);
		if (run(h, key_len, 0, plain) < 0 || run(h, key_len, 1, hashed) < 0)
			printf("hash_pipe error: an operation failed or found the wrong data\n");
		else
			printf("hash_pipe add=%.1f lookup=%.1f bulk=%.1f delete=%.1f add_hash=%.1f lookup_hash=%.1f\n",
			       plain[0], plain[1], plain[2], plain[3], hashed[0], hashed[1]);
		fflush(stdout);
		rte_hash_free(h);
	}
	rte_eal_cleanup();
	return 0;
}
