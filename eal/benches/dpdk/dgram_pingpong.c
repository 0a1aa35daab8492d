/* The floor under any IPC round trip on this machine: two processes exchanging one
 * datagram each way over AF_UNIX SOCK_DGRAM (connected sockets, blocking recv, no poll, no
 * threads, no locks), pinned as ipc_perf pins a secondary's requester and the primary's IPC
 * thread. Prints "dgram_pingpong lat <us> <us> ..." (one sample per round trip).
 *
 * With a sixth argument `poll`, the responder waits in ppoll() on its socket and two idle
 * eventfds before each recv, as an IPC thread that also watches a wake-up and a timer fd:
 * the price of that one extra system call per request.
 *
 * usage: dgram_pingpong REQUESTER_CPU RESPONDER_CPU ITERS WARMUP BYTES [poll]
 */
#define _GNU_SOURCE
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void pin(int cpu)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	if (sched_setaffinity(0, sizeof(s), &s) != 0) {
		perror("sched_setaffinity");
		exit(1);
	}
}

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	if (argc != 6 && !(argc == 7 && strcmp(argv[6], "poll") == 0)) {
		fprintf(stderr, "usage: %s REQUESTER_CPU RESPONDER_CPU ITERS WARMUP BYTES [poll]\n", argv[0]);
		return 2;
	}
	int req_cpu = atoi(argv[1]), resp_cpu = atoi(argv[2]);
	int iters = atoi(argv[3]), warm = atoi(argv[4]), bytes = atoi(argv[5]);
	if (iters <= 0 || warm < 0 || bytes <= 0 || bytes > 4096) {
		fprintf(stderr, "bad arguments\n");
		return 2;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0) {
		perror("socketpair");
		return 1;
	}
	char buf[4096];
	memset(buf, 0xab, sizeof(buf));
	pid_t child = fork();
	if (child < 0) {
		perror("fork");
		return 1;
	}
	if (child == 0) {
		pin(resp_cpu);
		close(sv[0]);
		struct pollfd pf[3] = {{sv[1], POLLIN, 0}, {eventfd(0, 0), POLLIN, 0}, {eventfd(0, 0), POLLIN, 0}};
		for (;;) {
			if (argc == 7 && ppoll(pf, 3, NULL, NULL) < 0)
				_exit(1);
			ssize_t n = recv(sv[1], buf, sizeof(buf), 0);
			if (n <= 0)
				_exit(0);
			if (send(sv[1], buf, (size_t)n, 0) != n)
				_exit(1);
		}
	}
	pin(req_cpu);
	close(sv[1]);
	double *lat = malloc(sizeof(double) * (size_t)iters);
	if (lat == NULL)
		return 1;
	for (int i = 0; i < warm + iters; i++) {
		double t = now_us();
		if (send(sv[0], buf, (size_t)bytes, 0) != bytes || recv(sv[0], buf, sizeof(buf), 0) != bytes) {
			perror("ping-pong");
			kill(child, SIGKILL);
			return 1;
		}
		if (i >= warm)
			lat[i - warm] = now_us() - t;
	}
	/* A datagram socket sees no end when its peer closes: stop the responder. */
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	printf("dgram_pingpong lat");
	for (int i = 0; i < iters; i++)
		printf(" %.3f", lat[i]);
	printf("\n");
	return 0;
}
