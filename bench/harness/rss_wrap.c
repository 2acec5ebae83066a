// rss_wrap FD ARGV...: runs ARGV as a child and writes "<peak RSS KiB> <wall seconds>\n" to
// file descriptor FD, then exits with the child's status (128 + signal when it was killed).
//
// Why a separate, tiny program: a child's ru_maxrss starts from the high-water mark of the
// address space it was forked or vforked from (exec records the old mm's peak), so a child
// spawned straight from a benchmark holding hundreds of MiB reports the benchmark's size.
// Forked from this freshly exec'd process, the floor is our own ~1 MiB.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double Now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: rss_wrap FD COMMAND [ARG...]\n");
    return 125;
  }
  char* end = NULL;
  const long fd = strtol(argv[1], &end, 10);
  if (*argv[1] == '\0' || *end != '\0' || fd < 0 || fcntl((int)fd, F_GETFD) < 0) {
    fprintf(stderr, "rss_wrap: '%s' is not an open file descriptor\n", argv[1]);
    return 125;
  }
  // The command must not inherit the report pipe.
  (void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
  const double start = Now();
  const pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "rss_wrap: fork: %s\n", strerror(errno));
    return 125;
  }
  if (pid == 0) {
    execvp(argv[2], argv + 2);
    fprintf(stderr, "rss_wrap: executing %s: %s\n", argv[2], strerror(errno));
    _exit(127);
  }
  int status = 0;
  struct rusage ru;
  memset(&ru, 0, sizeof(ru));
  while (wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) {
      fprintf(stderr, "rss_wrap: wait4: %s\n", strerror(errno));
      return 125;
    }
  }
  const double seconds = Now() - start;
  char line[64];
  const int n = snprintf(line, sizeof(line), "%ld %.9f\n", ru.ru_maxrss, seconds);
  if (write((int)fd, line, (size_t)n) != n) {
    fprintf(stderr, "rss_wrap: writing the report: %s\n", strerror(errno));
    return 125;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
