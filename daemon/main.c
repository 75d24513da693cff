/* shoald: the node daemon. See INTERFACES.md for flags. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "daemon/node.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: shoald [OPTIONS]\n\n"
		"The shoal node daemon.\n\n"
		"Options:\n"
		"      --data-root DIR        Root of persistent state (default /var/lib/shoal)\n"
		"  -H, --host unix:///PATH    API socket (default unix:///run/shoal/shoal.sock)\n"
		"      --exec-root DIR        Runtime state: sockets, bundles, secrets (default "
		"/run/shoal)\n"
		"      --runtime PATH         OCI runtime (default runc)\n"
		"      --hostname NAME        Node hostname override\n"
		"      --log-level LEVEL      debug, info, warn or error (default info)\n"
		"  -h, --help                 Print usage\n"
		"  -v, --version              Print version\n");
}

static struct node *the_node;

static void on_signal(uv_signal_t *h, int signum)
{
	log_info("shoald", "signal received signal=%d, shutting down", signum);
	uv_signal_stop(h);
	node_shutdown(the_node);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"data-root", required_argument, NULL, 'd'},
					     {"host", required_argument, NULL, 'H'},
					     {"exec-root", required_argument, NULL, 'e'},
					     {"runtime", required_argument, NULL, 'r'},
					     {"hostname", required_argument, NULL, 'n'},
					     {"log-level", required_argument, NULL, 'l'},
					     {"help", no_argument, NULL, 'h'},
					     {"version", no_argument, NULL, 'v'},
					     {NULL, 0, NULL, 0}};
	struct node_config cfg = {
	    .data_root = "/var/lib/shoal",
	    .host = "unix:///run/shoal/shoal.sock",
	    .exec_root = "/run/shoal",
	    .runtime = "runc",
	};

	/* Task operations block on the thread pool (a stop waits out its grace
	 * period): give them room so stopping many tasks does not hold up
	 * starting others. Must happen before the loop's first queued work. */
	setenv("UV_THREADPOOL_SIZE", "64", 0);
	uv_signal_t sigterm, sigint;
	enum log_level lvl;
	uv_loop_t *loop = uv_default_loop();
	int c, rv;

	while ((c = getopt_long(argc, argv, "H:hv", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			cfg.data_root = optarg;
			break;
		case 'H':
			cfg.host = optarg;
			break;
		case 'e':
			cfg.exec_root = optarg;
			break;
		case 'r':
			cfg.runtime = optarg;
			break;
		case 'n':
			cfg.hostname = optarg;
			break;
		case 'l':
			if (log_parse_level(optarg, &lvl) != 0) {
				fprintf(stderr,
					"shoald: invalid --log-level \"%s\": use debug, info, warn "
					"or error\n",
					optarg);
				return 1;
			}
			log_set_level(lvl);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'v':
			printf("shoald version %s\n", SHOAL_VERSION);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "shoald: unexpected argument \"%s\"\n", argv[optind]);
		return 1;
	}
	if (strncmp(cfg.host, "unix://", 7) != 0 || cfg.host[7] != '/') {
		fprintf(stderr, "shoald: --host must be unix:///ABSOLUTE/PATH, got \"%s\"\n",
			cfg.host);
		return 1;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "shoald: libsodium failed to initialize\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);

	rv = node_start(loop, &cfg, &the_node);
	if (rv) {
		log_error("shoald", "cannot start err=\"%s\"", err_str(rv));
		return 1;
	}
	uv_signal_init(loop, &sigterm);
	uv_signal_init(loop, &sigint);
	uv_signal_start(&sigterm, on_signal, SIGTERM);
	uv_signal_start(&sigint, on_signal, SIGINT);
	uv_unref((uv_handle_t *) &sigterm);
	uv_unref((uv_handle_t *) &sigint);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *) &sigterm, NULL);
	uv_close((uv_handle_t *) &sigint, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	rv = node_exit_status(the_node);
	node_free(the_node);
	uv_loop_close(loop);
	log_info("shoald", "stopped");
	return rv;
}
