/* SPDX-License-Identifier: MIT */
/* vipc-bench: command line.  See vipc-bench(1).
 *
 *   vipc-bench channel [--json] [--quick|--tiny] [--transports LIST]
 *                      [--tests LIST] [--xensim PATH] [--layout L]
 *                      [--rounds N] [--verbose]
 *   vipc-bench worker vipc|libxenvchan server|client SERVER_DOMID
 *                     CLIENT_DOMID [--quick|--tiny] [--tests LIST]
 *                     [--layout L] [--verbose]
 *   vipc-bench local [--quick|--tiny] [--transports LIST] [--tests LIST]
 *                    [--layout L] [--rounds N] [--verbose]
 *   vipc-bench ratios [--values] FILE...
 *   vipc-bench grant-release DOMID DOMID
 * (worker: one end inside a simulated domain, or a real one: a domid given
 * as "store" is read from the store; grant-release: in dom0, let the two
 * domains read @releaseDomain; the channel command starts both through
 * `xensim exec`.  local: the host peers alone, as result rows; ratios: the
 * ratio table of rows gathered by workers and local runs, e.g. on real Xen
 * by tests/xen/scenarios/bench.sh). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* How long a worker waits for dom0 to name its peer in the store. */
#define STORE_WAIT_MS 60000

/* Each command's usage; lead is "usage:" for the first (or only) one and
 * blanks of its width for those after it. */
static void usage_channel(FILE *f, const char *lead)
{
	fprintf(f,
		"%s %s channel [--json] [--quick|--tiny] [--transports LIST] [--tests LIST]\n"
		"                  [--xensim PATH] [--layout lines|xenvchan] [--rounds N]\n"
		"                  [--verbose]\n"
		"  Measure the vipc data channel between two simulated Xen domains against\n"
		"  libxenvchan, pipe, unix, eventfd, busypoll, the bare ring and memcpy\n"
		"  (see vipc-bench(1)).\n"
		"  --json          print one JSON object instead of the table\n"
		"  --quick         a short run (CI smoke test)\n"
		"  --tiny          shorter still, for emulated machines\n"
		"  --transports L  comma-separated subset of vipc,libxenvchan,pipe,unix,\n"
		"                  eventfd,busypoll,ring,memcpy\n"
		"  --tests L       comma-separated subset of rtt,stream,stream-msgs\n"
		"  --xensim PATH   the xensim program (default: $XENSIM, the build tree, PATH)\n"
		"  --layout L      where vipc's server keeps the ring indices: lines (each on a\n"
		"                  cache line of its own, the default between vipc ends) or\n"
		"                  xenvchan (libxenvchan's, as with a stock peer)\n"
		"  --rounds N      N whole runs one after another (1-20), each figure the\n"
		"                  median of the runs' (for a host whose speed drifts)\n"
		"  --verbose       per-measurement lines and channel statistics on stderr\n",
		lead, BENCH_PROG);
}

static void usage_worker(FILE *f, const char *lead)
{
	fprintf(f,
		"%s %s worker vipc|libxenvchan server|client SERVER_DOMID|store\n"
		"                  CLIENT_DOMID|store [--quick|--tiny] [--tests L] [--layout L]\n"
		"                  [--verbose]\n"
		"  One end of a channel measurement in a domain; its result rows on stdout.\n"
		"  store: our own domid from the store node domid, the peer's from\n"
		"  data/conf/peer in our home (waited for up to %d s).\n",
		lead, BENCH_PROG, STORE_WAIT_MS / 1000);
}

static void usage_local(FILE *f, const char *lead)
{
	fprintf(f,
		"%s %s local [--quick|--tiny] [--transports L] [--tests L] [--layout L]\n"
		"                  [--rounds N] [--verbose]\n"
		"  Only pipe, unix, eventfd, busypoll, ring and memcpy, as result rows on\n"
		"  stdout.\n",
		lead, BENCH_PROG);
}

static void usage_ratios(FILE *f, const char *lead)
{
	fprintf(f,
		"%s %s ratios [--values] FILE...\n"
		"  The vipc / peer ratio table of the result rows in FILEs (- for stdin;\n"
		"  other lines are skipped); --values: the round-trip and throughput tables too.\n",
		lead, BENCH_PROG);
}

static void usage_grant(FILE *f, const char *lead)
{
	fprintf(f,
		"%s %s grant-release DOMID DOMID\n"
		"  In dom0: let the two domains read the store's @releaseDomain (as vipcd\n"
		"  does), so that their channel ends learn when a peer domain is gone.\n",
		lead, BENCH_PROG);
}

static void usage(FILE *f)
{
	usage_channel(f, "usage:");
	usage_worker(f, "      ");
	usage_local(f, "      ");
	usage_ratios(f, "      ");
	usage_grant(f, "      ");
}

static void on_signal(int sig)
{
	(void)sig;
	bench_stop = 1;
}

static void signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;   /* no SA_RESTART: waits end early */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

enum { OPT_JSON = 1, OPT_QUICK, OPT_TINY, OPT_TRANSPORTS, OPT_TESTS,
       OPT_XENSIM, OPT_VERBOSE, OPT_LAYOUT, OPT_ROUNDS, OPT_HELP };

static const struct option options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "quick", no_argument, NULL, OPT_QUICK },
	{ "tiny", no_argument, NULL, OPT_TINY },
	{ "transports", required_argument, NULL, OPT_TRANSPORTS },
	{ "tests", required_argument, NULL, OPT_TESTS },
	{ "xensim", required_argument, NULL, OPT_XENSIM },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "layout", required_argument, NULL, OPT_LAYOUT },
	{ "rounds", required_argument, NULL, OPT_ROUNDS },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

struct opts {
	bool json, quick, tiny;
	const char *transports, *tests, *xensim;
	unsigned test_mask;
	unsigned rounds;        /* --rounds: whole runs, one after another */
};

#define OPT(x) (1u << (x))
/* The options each command uses; any other is refused, never ignored. */
#define CHANNEL_OPTS (OPT(OPT_JSON) | OPT(OPT_QUICK) | OPT(OPT_TINY) | \
		      OPT(OPT_TRANSPORTS) | OPT(OPT_TESTS) | OPT(OPT_XENSIM) | \
		      OPT(OPT_VERBOSE) | OPT(OPT_LAYOUT) | OPT(OPT_ROUNDS) | \
		      OPT(OPT_HELP))
#define WORKER_OPTS (OPT(OPT_QUICK) | OPT(OPT_TINY) | OPT(OPT_TESTS) | \
		     OPT(OPT_VERBOSE) | OPT(OPT_LAYOUT) | OPT(OPT_HELP))
#define LOCAL_OPTS (OPT(OPT_QUICK) | OPT(OPT_TINY) | OPT(OPT_TRANSPORTS) | \
		    OPT(OPT_TESTS) | OPT(OPT_VERBOSE) | OPT(OPT_LAYOUT) | \
		    OPT(OPT_ROUNDS) | OPT(OPT_HELP))

/* The options of command cmd after its positional words, those not in
 * allowed refused by name; 0, 1 (help), or 2 (bad usage). */
static int parse_opts(int argc, char **argv, const char *cmd,
		      unsigned allowed, struct opts *o)
{
	int c, idx = 0;

	memset(o, 0, sizeof(*o));
	o->rounds = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", options, &idx)) != -1) {
		if (c > 0 && c < 32 && !(allowed & OPT(c))) {
			fprintf(stderr, "%s: %s takes no --%s\n", BENCH_PROG,
				cmd, options[idx].name);
			return 2;
		}
		switch (c) {
		case OPT_JSON: o->json = true; break;
		case OPT_QUICK: o->quick = true; break;
		case OPT_TINY: o->tiny = true; break;
		case OPT_TRANSPORTS:
			if (bench_check_transports(optarg))
				return 2;
			o->transports = optarg;
			break;
		case OPT_TESTS:
			if (bench_parse_tests(optarg, &o->test_mask))
				return 2;
			o->tests = optarg;
			break;
		case OPT_XENSIM: o->xensim = optarg; break;
		case OPT_VERBOSE: bench_verbose = 1; break;
		case OPT_LAYOUT:
			if (bench_layout_parse(optarg) < 0) {
				fprintf(stderr, "%s: --layout takes lines or xenvchan, not '%s'\n",
					BENCH_PROG, optarg);
				return 2;
			}
			break;
		case OPT_ROUNDS: {
			char *end;
			unsigned long n;

			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end ||
			    optarg[0] < '0' || optarg[0] > '9' ||
			    n < 1 || n > BENCH_ROUNDS_MAX) {
				fprintf(stderr, "%s: --rounds takes a count from 1 to %d, not '%s'\n",
					BENCH_PROG, BENCH_ROUNDS_MAX, optarg);
				return 2;
			}
			o->rounds = (unsigned)n;
			break;
		}
		case OPT_HELP: return 1;
		default:
			fprintf(stderr, "%s: unknown or incomplete option '%s'\n",
				BENCH_PROG, argv[optind - 1]);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", BENCH_PROG,
			argv[optind]);
		return 2;
	}
	if (o->quick && o->tiny) {
		fprintf(stderr, "%s: --quick and --tiny exclude each other\n",
			BENCH_PROG);
		return 2;
	}
	return 0;
}

static void plan_from(struct bench_plan *p, const struct opts *o)
{
	if (o->tiny)
		bench_plan_tiny(p);
	else
		bench_plan_init(p, o->quick);
	if (o->tests)
		p->tests = o->test_mask;
}

static void progress(const char *what)
{
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "%s: measuring %s...\n", BENCH_PROG, what);
}

/* One round of channel(): every selected measurement once, into res; the
 * xensim host is started at the first round that needs it. */
static void channel_round(const struct opts *o, const struct bench_plan *plan,
			  struct bench_meta *meta, struct bench_xensim **x,
			  bool *x_tried, struct bench_results *res)
{
	int r;

	if (bench_selected(o->transports, "memcpy") && !bench_stop) {
		progress("memcpy");
		if (bench_memcpy_all(plan, res) < 0)
			meta->failures++;
	}
	if (!bench_stop) {
		progress("pipe, unix, eventfd, busypoll, ring");
		if (bench_local_all(plan, o->transports, res) < 0)
			meta->failures++;
	}
	if ((bench_selected(o->transports, "vipc") ||
	     bench_selected(o->transports, "libxenvchan")) && !bench_stop &&
	    !*x_tried) {
		*x_tried = true;
		progress("on xensim: starting a private host");
		r = bench_xensim_start(o->xensim, x);
		if (r < 0) {
			bench_err("no xensim host: %s; vipc and libxenvchan not measured",
				  strerror(-r));
			meta->failures++;
		}
		bench_xensim_describe(*x, &meta->dom_server,
				      &meta->dom_client);
	}
	for (int i = 0; i < 2 && *x && !bench_stop; i++) {
		const char *t = i ? "libxenvchan" : "vipc";

		if (!bench_selected(o->transports, t))
			continue;
		progress(t);
		if (bench_xensim_run(*x, t, plan, o->tests, res) < 0)
			meta->failures++;
	}
}

/* What --rounds gives: one round as it is, several merged (each row the
 * median of its rounds' figures). */
static int rounds_merge(struct bench_results *per, unsigned n,
			struct bench_results *out)
{
	if (n == 1) {
		*out = per[0];
		per[0] = (struct bench_results){ 0 };
		return 0;
	}
	return bench_results_merge(per, n, out);
}

static int channel(int argc, char **argv)
{
	struct bench_plan plan;
	struct bench_results res = { 0 }, *per;
	struct bench_meta meta = { 0 };
	struct bench_xensim *x = NULL;
	bool x_tried = false;
	struct opts o;
	time_t now = time(NULL);
	int r;

	r = parse_opts(argc, argv, "channel", CHANNEL_OPTS, &o);
	if (r) {
		usage_channel(r == 1 ? stdout : stderr, "usage:");
		return r == 1 ? 0 : 2;
	}
	plan_from(&plan, &o);
	meta.plan = &plan;
	meta.ncpus = bench_ncpus();
	strftime(meta.date, sizeof(meta.date), "%Y-%m-%dT%H:%M:%SZ",
		 gmtime(&now));
	if (!plan.split_ok)
		bench_err("only one CPU: no split measurements, streams run on one CPU");
	meta.rounds = o.rounds;
	per = calloc(o.rounds, sizeof(*per));
	if (!per) {
		bench_err("out of memory");
		return 1;
	}
	bench_xensim_describe(NULL, &meta.dom_server, &meta.dom_client);
	/* Rounds one after another, each measuring every transport: a host
	 * whose speed drifts then weighs on all of them alike. */
	for (unsigned k = 0; k < o.rounds && !bench_stop; k++) {
		if (o.rounds > 1)
			bench_err("round %u of %u", k + 1, o.rounds);
		channel_round(&o, &plan, &meta, &x, &x_tried, &per[k]);
	}
	bench_xensim_stop(x);
	r = bench_stop ? 0 : rounds_merge(per, o.rounds, &res);
	for (unsigned k = 0; k < o.rounds; k++)
		bench_results_free(&per[k]);
	free(per);
	if (bench_stop || r < 0) {
		bench_err(bench_stop ? "interrupted" : "out of memory");
		bench_results_free(&res);
		return bench_stop ? 130 : 1;
	}
	if (o.json)
		bench_report_json(stdout, &res, &meta);
	else
		bench_report_table(stdout, &res, &meta);
	bench_results_free(&res);
	return meta.failures ? 1 : 0;
}

static int worker(int argc, char **argv)
{
	struct bench_plan plan;
	struct opts o;
	unsigned srv = 0, cli = 0, self, peer;
	bool client, srv_store, cli_store;
	int r;

	/* --help anywhere: no positional word is ever spelt so. */
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--help")) {
			usage_worker(stdout, "usage:");
			return 0;
		}
	if (argc < 6) {
		fprintf(stderr, "%s: worker takes a transport, a side and two domain ids\n",
			BENCH_PROG);
		usage_worker(stderr, "usage:");
		return 2;
	}
	if (strcmp(argv[2], "vipc") && strcmp(argv[2], "libxenvchan")) {
		fprintf(stderr, "%s: worker: transport vipc or libxenvchan, not '%s'\n",
			BENCH_PROG, argv[2]);
		usage_worker(stderr, "usage:");
		return 2;
	}
	if (strcmp(argv[3], "server") && strcmp(argv[3], "client")) {
		fprintf(stderr, "%s: worker: side server or client, not '%s'\n",
			BENCH_PROG, argv[3]);
		usage_worker(stderr, "usage:");
		return 2;
	}
	client = !strcmp(argv[3], "client");
	srv_store = !strcmp(argv[4], "store");
	cli_store = !strcmp(argv[5], "store");
	if ((!srv_store && bench_parse_domid(argv[4], &srv)) ||
	    (!cli_store && bench_parse_domid(argv[5], &cli))) {
		usage_worker(stderr, "usage:");
		return 2;
	}
	optind = 6;
	r = parse_opts(argc, argv, "worker", WORKER_OPTS, &o);
	if (r) {
		usage_worker(r == 1 ? stdout : stderr, "usage:");
		return r == 1 ? 0 : 2;
	}
	plan_from(&plan, &o);
	/* On a real hypervisor the domids exist only once the toolstack made
	 * the domains: ours is in our home, dom0 writes the peer's there. */
	if (srv_store || cli_store) {
		bool self_store = client ? cli_store : srv_store;
		bool peer_store = client ? srv_store : cli_store;

		r = bench_store_domids(self_store ? &self : NULL,
				       peer_store ? &peer : NULL,
				       STORE_WAIT_MS);
		if (r < 0) {
			bench_err("%s %s worker: no domain ids from the store: %s",
				  argv[2], argv[3], strerror(-r));
			return 1;
		}
		if (self_store)
			*(client ? &cli : &srv) = self;
		if (peer_store)
			*(client ? &srv : &cli) = peer;
		if (bench_verbose)
			bench_err("%s %s worker: server domain %u, client domain %u",
				  argv[2], argv[3], srv, cli);
	}
	/* libxenvchan never times out: never hang a run for ever. */
	alarm(o.quick || o.tiny ? 300 : 1800);
	r = !strcmp(argv[2], "vipc") ?
	    bench_vipc_worker(&plan, client, srv, cli) :
	    bench_xenvchan_worker(&plan, client, srv, cli);
	if (r < 0) {
		bench_err("%s %s worker: %s", argv[2], argv[3], strerror(-r));
		return 1;
	}
	return 0;
}

/* vipc-bench local: the host peers alone, their rows on stdout (for a
 * guest of a real hypervisor, whose rows `ratios` then compares). */
static int local(int argc, char **argv)
{
	static const char *const mine[] = { "pipe", "unix", "eventfd",
					    "busypoll", "ring", "memcpy" };
	struct bench_plan plan;
	struct bench_results res = { 0 }, *per;
	struct opts o;
	bool any = false;
	int r, fails = 0;

	r = parse_opts(argc, argv, "local", LOCAL_OPTS, &o);
	if (r == 1) {
		usage_local(stdout, "usage:");
		return 0;
	}
	for (size_t i = 0; !r && i < sizeof(mine) / sizeof(mine[0]); i++)
		any |= bench_selected(o.transports, mine[i]);
	if (!r && !any) {
		fprintf(stderr, "%s: local measures only pipe, unix, eventfd, busypoll, ring and memcpy\n",
			BENCH_PROG);
		r = 2;
	}
	if (r) {
		usage_local(stderr, "usage:");
		return 2;
	}
	plan_from(&plan, &o);
	if (!plan.split_ok)
		bench_err("only one CPU: no split measurements (busypoll needs two)");
	per = calloc(o.rounds, sizeof(*per));
	if (!per) {
		bench_err("out of memory");
		return 1;
	}
	for (unsigned k = 0; k < o.rounds && !bench_stop; k++) {
		if (bench_selected(o.transports, "memcpy") && !bench_stop &&
		    bench_memcpy_all(&plan, &per[k]) < 0)
			fails++;
		if (!bench_stop &&
		    bench_local_all(&plan, o.transports, &per[k]) < 0)
			fails++;
	}
	/* Interrupted: the rows measured so far still go out (rounds not
	 * run hold none). */
	if (rounds_merge(per, o.rounds, &res) < 0) {
		bench_err("out of memory");
		fails++;
	}
	for (unsigned k = 0; k < o.rounds; k++)
		bench_results_free(&per[k]);
	free(per);
	for (size_t i = 0; i < res.n; i++)
		bench_row_emit(stdout, &res.rows[i]);
	bench_results_free(&res);
	if (bench_stop) {
		bench_err("interrupted");
		return 130;
	}
	return fails ? 1 : 0;
}

static int ratios(int argc, char **argv)
{
	struct bench_results res = { 0 };
	bool values = false;
	size_t nvipc = 0;
	int i, fails = 0;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		if (!strcmp(argv[i], "--values")) {
			values = true;
		} else if (!strcmp(argv[i], "--help")) {
			usage_ratios(stdout, "usage:");
			return 0;
		} else {
			fprintf(stderr, "%s: ratios: unknown option '%s'\n",
				BENCH_PROG, argv[i]);
			usage_ratios(stderr, "usage:");
			return 2;
		}
	}
	if (i == argc) {
		fprintf(stderr, "%s: ratios: no file of result rows given\n",
			BENCH_PROG);
		usage_ratios(stderr, "usage:");
		return 2;
	}
	for (; i < argc; i++) {
		bool in = !strcmp(argv[i], "-");
		FILE *f = in ? stdin : fopen(argv[i], "r");

		if (!f) {
			fprintf(stderr, "%s: %s: %s\n", BENCH_PROG, argv[i],
				strerror(errno));
			fails++;
			continue;
		}
		if (bench_read_rows(f, in ? "(stdin)" : argv[i], &res) < 0)
			fails++;
		if (!in)
			fclose(f);
	}
	for (size_t k = 0; k < res.n; k++)
		nvipc += !strcmp(res.rows[k].transport, "vipc");
	printf("vipc-bench ratios: %zu result rows, %zu of vipc\n\n", res.n,
	       nvipc);
	if (values) {
		bench_report_values(stdout, &res);
		printf("\n");
	}
	bench_report_ratios(stdout, &res, true);
	bench_results_free(&res);
	if (!nvipc)
		fprintf(stderr, "%s: ratios: no vipc row to compare\n",
			BENCH_PROG);
	return fails || !nvipc ? 1 : 0;
}

/* vipc-bench grant-release DOMID DOMID: two domain ids, no option. */
static int grant_release(int argc, char **argv)
{
	unsigned a, b;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help")) {
			usage_grant(stdout, "usage:");
			return 0;
		}
	if (argc != 3) {
		fprintf(stderr, "%s: grant-release takes two domain ids, not %d argument%s\n",
			BENCH_PROG, argc - 1, argc == 2 ? "" : "s");
		usage_grant(stderr, "usage:");
		return 2;
	}
	if (bench_parse_domid(argv[1], &a) || bench_parse_domid(argv[2], &b)) {
		usage_grant(stderr, "usage:");
		return 2;
	}
	return bench_grant_release(a, b) < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	bench_affinity_save();
	signals();
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	if (argc >= 2 && !strcmp(argv[1], "channel"))
		return channel(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "worker"))
		return worker(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "local"))
		return local(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "ratios"))
		return ratios(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "grant-release"))
		return grant_release(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 2)
		fprintf(stderr, "%s: no command given\n", BENCH_PROG);
	else
		fprintf(stderr, "%s: unknown command '%s'\n", BENCH_PROG,
			argv[1]);
	usage(stderr);
	return 2;
}
