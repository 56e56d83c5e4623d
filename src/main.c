/* main.c - evd: options, start-up order, exit status.
 *
 * Start-up order matters: stdio is made safe and the handled signals are
 * blocked before anything else, in particular before the first worker
 * thread exists, so that every thread inherits the mask and the signalfd is
 * the only receiver. READY=1 is sent once the configuration is loaded and
 * every timer is armed. */
#include <getopt.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sysexits.h>

#include "config.h"
#include "control.h"
#include "scheduler.h"
#include "log.h"
#include "loop.h"
#include "notify.h"
#include "pool.h"
#include "state.h"
#include "signals.h"
#include "spawn.h"
#include "tz.h"
#include "tzwatch.h"

struct options {
        const char *config_path;
        bool check_only;
        const char *state_directory;
        const char *socket_path;
        enum log_target log_target;
        int log_level;
};

static struct sched sched;
static struct tzwatch tzwatch = { .source.fd = -1 };
static struct control control = { .listen.fd = -1, .lock_fd = -1 };

static void help(void) {
        printf("Usage: evd [OPTIONS]\n"
               "Run jobs on schedules.\n\n"
               "  -c, --config PATH          configuration file (default /etc/evd.conf)\n"
               "  -t, --check-config         validate the configuration and exit\n"
               "      --state-directory DIR  where run history is kept (default /var/lib/evd)\n"
               "      --socket PATH          control socket (default /run/evd/control.sock)\n"
               "      --log-target TARGET    auto, journal or console (default auto)\n"
               "      --log-level LEVEL      err, warning, notice, info or debug (default info)\n"
               "  -h, --help                 show this help\n"
               "      --version              show the version\n\n"
               "See evd(8) and evd.conf(5).\n");
}

static int parse_options(int argc, char **argv, struct options *o) {
        enum { OPT_STATE = 256, OPT_SOCKET, OPT_LOG_TARGET, OPT_LOG_LEVEL, OPT_VERSION };
        static const struct option longopts[] = {
                { "config", required_argument, NULL, 'c' },
                { "check-config", no_argument, NULL, 't' },
                { "state-directory", required_argument, NULL, OPT_STATE },
                { "socket", required_argument, NULL, OPT_SOCKET },
                { "log-target", required_argument, NULL, OPT_LOG_TARGET },
                { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                {},
        };
        int c, r;

        while ((c = getopt_long(argc, argv, "c:th", longopts, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        o->config_path = optarg;
                        break;
                case 't':
                        o->check_only = true;
                        break;
                case OPT_STATE:
                        o->state_directory = optarg;
                        break;
                case OPT_SOCKET:
                        o->socket_path = optarg;
                        break;
                case OPT_LOG_TARGET:
                        r = log_target_from_string(optarg);
                        if (r < 0) {
                                fprintf(stderr, "evd: invalid --log-target \"%s\": use auto, journal or console\n", optarg);
                                return -EINVAL;
                        }
                        o->log_target = r;
                        break;
                case OPT_LOG_LEVEL:
                        r = log_level_from_string(optarg);
                        if (r < 0) {
                                fprintf(stderr, "evd: invalid --log-level \"%s\"\n", optarg);
                                return -EINVAL;
                        }
                        o->log_level = r;
                        break;
                case 'h':
                        help();
                        return 0;
                case OPT_VERSION:
                        printf("evd %s\n", EVD_VERSION);
                        return 0;
                default:
                        fprintf(stderr, "Try 'evd --help'.\n");
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "evd: unexpected argument \"%s\"\nTry 'evd --help'.\n", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

/* Descriptors 0-2 must be open: otherwise the first pipe() would land on
 * one of them and a job's output would go who knows where. */
static void ensure_stdio(void) {
        for (int fd = 0; fd < 3; fd++)
                if (fcntl(fd, F_GETFD) < 0) {
                        int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
                        if (n >= 0 && n != fd) {
                                dup2(n, fd);
                                close(n);
                        }
                }
}

/* Ignored dispositions survive execve; evd wants none, so jobs start with
 * every signal at its default even when evd was started under nohup. */
static void reset_signal_dispositions(void) {
        for (int sig = 1; sig < _NSIG; sig++) {
                struct sigaction sa;
                if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &sa) < 0)
                        continue;
                if (sa.sa_handler == SIG_IGN) {
                        sa.sa_handler = SIG_DFL;
                        (void)sigaction(sig, &sa, NULL);
                }
        }
}

/* Raises the soft RLIMIT_NOFILE to the hard limit, as systemd does for
 * itself: workers hold descriptors (see pool_nofile_needed), and jobs get
 * the conventional soft limit back (SPAWN_NOFILE_DEFAULT) in spawn. */
static void raise_nofile_limit(void) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
                return;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                log_warning_errno(errno, "Failed to raise the limit on open files to %llu",
                                  (unsigned long long)rl.rlim_max);
}

static int check_config(const char *path) {
        struct config *c = NULL;
        char **errors = NULL;
        int r = config_load(path, &c, &errors);
        for (char **e = errors; e && *e; e++)
                fprintf(stderr, "%s\n", *e);
        if (r < 0) {
                size_t n = strv_length(errors);
                if (n == 0)
                        fprintf(stderr, "%s: %s\n", path, strerror(-r));
                /* The loader's last line says when it stopped counting. */
                if (n > 1 && strstr(errors[n - 1], ": too many errors"))
                        printf("%s: invalid: more than %zu errors\n", path, n - 1);
                else
                        printf("%s: invalid: %zu error%s\n", path, n ? n : 1, n == 1 ? "" : "s");
                strv_free(errors);
                return 1;
        }
        printf("%s: valid: %zu job%s\n", path, c->n_jobs, c->n_jobs == 1 ? "" : "s");
        strv_free(errors);
        config_free(c);
        return 0;
}

/* --state-directory, else [daemon] state_directory, else the first of
 * systemd's $STATE_DIRECTORY, else /var/lib/evd. */
static const char *state_directory(const struct options *o, const struct config *c) {
        static char env_dir[4096];
        const char *e = getenv("STATE_DIRECTORY");
        if (o->state_directory)
                return o->state_directory;
        if (c->state_directory)
                return c->state_directory;
        if (e && *e) {
                snprintf(env_dir, sizeof env_dir, "%.*s", (int)strcspn(e, ":"), e);
                return env_dir;
        }
        return "/var/lib/evd";
}

/* SIGUSR1: the same dump as "evdctl status" and "evdctl stats", to the log. */
static void dump_status(void) {
        static const char *const requests[] = { "status", "stats" };
        for (size_t i = 0; i < ELEMENTSOF(requests); i++) {
                char *body = NULL;
                control_handle(&sched, requests[i], &body);
                for (char *save = NULL, *line = strtok_r(body, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                        log_info("%s", line);
                free(body);
        }
}

/* --socket, else control.sock in systemd's $RUNTIME_DIRECTORY, else
 * /run/evd/control.sock (its directory created when missing). */
static const char *socket_path(const struct options *o) {
        static char buf[4096];
        const char *e = getenv("RUNTIME_DIRECTORY");
        if (o->socket_path)
                return o->socket_path;
        if (e && *e) {
                snprintf(buf, sizeof buf, "%.*s/control.sock", (int)strcspn(e, ":"), e);
                return buf;
        }
        (void)mkdir("/run/evd", 0755);
        return "/run/evd/control.sock";
}

static void on_zone_change(void *userdata) {
        sched_wall_clock_changed(userdata);
}

static void on_signal(struct signals *s, const struct signalfd_siginfo *si) {
        switch (si->ssi_signo) {
        case SIGTERM:
        case SIGINT:
                log_info("Received SIG%s from pid %u", sigabbrev_np((int)si->ssi_signo), si->ssi_pid);
                sched_shutdown(&sched);
                break;
        case SIGHUP:
                (void)sched_reload_request(&sched, NULL, NULL);
                break;
        case SIGUSR1:
                dump_status();
                break;
        case SIGCHLD:
                sched_reap_orphans(&sched);
                break;
        default:
                break;
        }
}

#ifdef EVD_TEST_HOOKS
/* Test hook (EVD_TEST_HOOKS builds, with EVD_TEST_HOOKS=1 in the
 * environment): EVD_TEST_WALL_OFFSET=SECONDS shifts evd's wall clock from
 * the start (util_test_shift_realtime), as a node whose clock is off would
 * be; the clock-skew test of cluster = once uses it. */
static void apply_test_wall_offset(void) {
        const char *hooks = getenv("EVD_TEST_HOOKS"), *off = getenv("EVD_TEST_WALL_OFFSET");
        char *end;
        if (!hooks || !streq(hooks, "1") || !off)
                return;
        errno = 0;
        long long sec = strtoll(off, &end, 10);
        if (errno || end == off || *end || sec < -86400LL * 366 || sec > 86400LL * 366) {
                log_warning("EVD_TEST_WALL_OFFSET=%s ignored: not a number of seconds", off);
                return;
        }
        util_test_shift_realtime((int64_t)sec * (int64_t)USEC_PER_SEC);
        log_warning("test hook: evd's wall clock is off by %llds", sec);
}
#endif

/* Loads the configuration the daemon starts with, and checks that the
 * limit on open files allows its workers: 0, or EX_CONFIG (logged). */
static int load_start_config(const char *path, struct config **ret) {
        struct config *config = NULL;
        char **errors = NULL;
        int r = config_load(path, &config, &errors);
        if (r < 0) {
                for (char **e = errors; e && *e; e++)
                        log_error("%s", *e);
                if (!errors)
                        log_error_errno(r, "Failed to load %s", path);
                log_error("Invalid configuration, not starting");
                strv_free(errors);
                return EX_CONFIG;
        }
        strv_free(errors);
        raise_nofile_limit();
        char *nofile = pool_nofile_check(config->workers);
        if (nofile) {
                log_error("%s: %s", path, nofile);
                log_error("Invalid configuration, not starting");
                free(nofile);
                config_free(config);
                return EX_CONFIG;
        }
        *ret = config;
        return 0;
}

static void set_process_attributes(void) {
        /* Orphans of jobs come to us, and are reaped, instead of to PID 1. */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
                log_warning_errno(errno, "Failed to become a child subreaper");
        /* Start runs on time: the default 50 us slack is noise, but a
         * larger inherited one would not be. */
        (void)prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
}

/* /dev/null for jobs' stdin, the epoll instance and the signalfd. */
static int open_loop(struct loop *loop, struct signals *signals) {
        int r;
        r = spawn_devnull();
        if (r < 0) {
                log_error_errno(r, "Failed to open /dev/null");
                return r;
        }
        r = loop_init(loop);
        if (r < 0) {
                log_error_errno(r, "Failed to create the epoll instance");
                return r;
        }
        r = signals_init(signals, loop);
        if (r < 0) {
                log_error_errno(r, "Failed to create the signalfd");
                return r;
        }
        signals->handler = on_signal;
        return 0;
}

/* Locks the state directory: 0 and *ret_lock, its lock's descriptor, or
 * -1 when the directory cannot be used (persistent= jobs then keep no
 * history; logged); or -EPERM/-EBUSY (logged) when evd must not start: an
 * untrusted directory, or another evd on it. */
static int lock_state_directory(const char *dir, int *ret_lock) {
        char *error = NULL;
        int lock = state_dir_acquire(dir, &error);
        if (lock == -EPERM || lock == -EBUSY) {
                log_error("%s", error ? error : "Refusing the state directory");
                free(error);
                return lock;
        }
        if (lock < 0)
                log_warning("%s; persistent= jobs have no history", error ? error : dir);
        free(error);
        *ret_lock = lock < 0 ? -1 : lock;
        return 0;
}

/* The state directory, the control socket and the zone watch, then the
 * scheduler's timers: 0 and *ret_state_lock (-1 when there is no state
 * directory), or < 0 (logged) when evd must not start. */
static int start_services(const struct options *o, struct loop *loop, int *ret_state_lock) {
        /* Before the control socket: a second evd on the same state
         * directory stops here, without touching the first one's socket. */
        const char *state_dir = state_directory(o, sched.config);
        int state_lock;
        int r = lock_state_directory(state_dir, &state_lock);
        if (r < 0)
                return r;
        const char *sock = socket_path(o);
        r = control_open(&control, loop, &sched, sock);
        if (r < 0) {
                if (r != -EADDRINUSE && !o->socket_path)
                        log_error("Cannot serve the control socket %s; use --socket PATH to put it elsewhere", sock);
                safe_close(state_lock);
                return r;
        }
        r = tzwatch_init(&tzwatch, loop, on_zone_change, &sched);
        if (r < 0)
                log_warning_errno(r, "Cannot watch /etc/localtime; a change of the time zone needs a restart");
        if (state_lock >= 0)
                sched_use_state_directory(&sched, state_dir);
        sched_start(&sched);
        *ret_state_lock = state_lock;
        return 0;
}

int main(int argc, char **argv) {
        struct options o = {
                .config_path = "/etc/evd.conf",
                .log_target = LOG_TARGET_AUTO,
                .log_level = LOG_INFO,
        };
        struct loop loop = { .epoll_fd = -1 };
        struct signals signals = { .source.fd = -1 };
        struct config *config = NULL;
        char status[256];
        int state_lock = -1, r;

        r = parse_options(argc, argv, &o);
        if (r <= 0)
                return r < 0 ? 1 : 0;
        if (o.check_only)
                return check_config(o.config_path);

        ensure_stdio();
        reset_signal_dispositions();
        r = signals_block();
        if (r < 0) {
                fprintf(stderr, "evd: failed to block signals: %s\n", strerror(-r));
                return 1;
        }
        log_setup(o.log_target);
        log_set_max_level(o.log_level);
#ifdef EVD_TEST_HOOKS
        apply_test_wall_offset();
#endif
        /* Before any thread: the zone is read once, not stat()ed by every
         * mktime() (see tz.h). */
        (void)tz_setup();

        r = load_start_config(o.config_path, &config);
        if (r != 0)
                return r;
        set_process_attributes();
        if (open_loop(&loop, &signals) < 0)
                return 1;
        r = sched_init(&sched, &loop, config, o.config_path);
        if (r < 0) {
                log_error_errno(r, "Failed to start");
                return 1;
        }
        if (start_services(&o, &loop, &state_lock) < 0)
                return 1;
        log_info("evd %s started: %zu job%s from %s, %u worker%s", EVD_VERSION, sched.n_jobs,
                 sched.n_jobs == 1 ? "" : "s", o.config_path, sched.config->workers,
                 sched.config->workers == 1 ? "" : "s");
        notify_ready(sched_status_line(&sched, status, sizeof status));

        r = loop_run(&loop);
        if (r < 0) {
                log_error_errno(r, "Main loop failed");
                return 1;
        }
        control_close(&control);
        tzwatch_done(&tzwatch);
        sched_done(&sched);
        safe_close(state_lock); /* after the last save */
        signals_done(&signals);
        loop_done(&loop);
        log_info("Stopped");
        return 0;
}
