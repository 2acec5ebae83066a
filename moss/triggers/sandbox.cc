#include "moss/triggers/sandbox.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_join.h"
#include "moss/base/fd.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::moss::triggers {
namespace {

// Everything the child needs, prepared before fork: after fork in a threaded process the
// child may only make system calls (no allocation).
struct ChildPlan {
  bool sandbox = false;  // true: tmpfs root with /usr; false: chroot into root_dir
  std::string usr_dir, scratch, scratch_usr, scratch_tmp, root_dir;
  bool isolate_network = true;
  std::string uid_map, gid_map;
  std::vector<std::string> argv;
  std::vector<char*> argv_c;
  std::vector<std::string> env;
  std::vector<char*> env_c;
};

[[noreturn]] void ChildFail(int out_fd, const char* what) {
  const int err = errno;
  const char* msg = std::strerror(err);
  (void)!::write(out_fd, "moss sandbox: ", 14);
  (void)!::write(out_fd, what, std::strlen(what));
  (void)!::write(out_fd, ": ", 2);
  (void)!::write(out_fd, msg, std::strlen(msg));
  (void)!::write(out_fd, "\n", 1);
  ::_exit(127);
}

bool WriteProc(const char* path, const std::string& data) {
  const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  ::close(fd);
  return ok;
}

[[noreturn]] void RunChild(const ChildPlan& p, int out_fd) {
  ::dup2(out_fd, 1);
  ::dup2(out_fd, 2);
  int flags = CLONE_NEWUSER | CLONE_NEWNS;
  if (p.isolate_network) flags |= CLONE_NEWNET;
  if (::unshare(flags) != 0) ChildFail(2, "unshare");
  if (!WriteProc("/proc/self/setgroups", "deny")) ChildFail(2, "writing setgroups");
  if (!WriteProc("/proc/self/uid_map", p.uid_map)) ChildFail(2, "writing uid_map");
  if (!WriteProc("/proc/self/gid_map", p.gid_map)) ChildFail(2, "writing gid_map");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    ChildFail(2, "making mounts private");
  }
  const char* new_root = p.root_dir.c_str();
  if (p.sandbox) {
    new_root = p.scratch.c_str();
    if (::mount("tmpfs", p.scratch.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0) {
      ChildFail(2, "mounting the sandbox root");
    }
    if (::mkdir(p.scratch_usr.c_str(), 0755) != 0) ChildFail(2, "mkdir /usr");
    if (::mkdir(p.scratch_tmp.c_str(), 01777) != 0) ChildFail(2, "mkdir /tmp");
    if (::mount(p.usr_dir.c_str(), p.scratch_usr.c_str(), nullptr, MS_BIND | MS_REC, nullptr) !=
        0) {
      ChildFail(2, "binding the staging tree at /usr");
    }
    if (::mount("tmpfs", p.scratch_tmp.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) {
      ChildFail(2, "mounting /tmp");
    }
    const char* links[][2] = {
        {"usr/bin", "bin"}, {"usr/sbin", "sbin"}, {"usr/lib", "lib"}, {"usr/lib64", "lib64"}};
    const int root_fd = ::open(p.scratch.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) ChildFail(2, "opening the sandbox root");
    for (const auto& l : links) {
      if (::symlinkat(l[0], root_fd, l[1]) != 0) ChildFail(2, "creating merged-usr links");
    }
    ::close(root_fd);
    // Read-only from here on: only the /usr and /tmp mounts below stay writable.
    if (::mount(nullptr, p.scratch.c_str(), nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
                nullptr) != 0) {
      ChildFail(2, "making the sandbox root read-only");
    }
  }
  if (::chroot(new_root) != 0) ChildFail(2, "chroot");
  if (::chdir("/") != 0) ChildFail(2, "chdir /");
  ::execve(p.argv_c[0], p.argv_c.data(), p.env_c.data());
  ChildFail(2, "exec");
}

absl::Status Run(ChildPlan plan, std::string* output) {
  plan.uid_map = StrCat("0 ", ::geteuid(), " 1\n");
  plan.gid_map = StrCat("0 ", ::getegid(), " 1\n");
  for (auto& a : plan.argv) plan.argv_c.push_back(a.data());
  plan.argv_c.push_back(nullptr);
  plan.env = {"PATH=/usr/bin:/usr/sbin", "HOME=/", "LANG=C.UTF-8"};
  for (auto& e : plan.env) plan.env_c.push_back(e.data());
  plan.env_c.push_back(nullptr);
  const std::string what = StrCat("running trigger command '", absl::StrJoin(plan.argv, " "), "'");

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    const int err = errno;
    return Annotate(ErrnoError(err, "pipe2"), what);
  }
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    return Annotate(ErrnoError(err, "fork"), what);
  }
  if (pid == 0) {
    // Our signal mask (the transaction defers SIGINT/SIGTERM) must not leak into the tool.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    RunChild(plan, write_end.get());
  }
  write_end.reset();
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(read_end.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      const int err = errno;
      return Annotate(ErrnoError(err, "waitpid"), what);
    }
  }
  if (output) *output = out;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  // The last few lines are what a person needs to see.
  std::string tail = out;
  if (tail.size() > 2000) tail = tail.substr(tail.size() - 2000);
  while (!tail.empty() && tail.back() == '\n') tail.pop_back();
  const std::string how = WIFEXITED(status) ? StrCat("exit status ", WEXITSTATUS(status))
                                            : StrCat("signal ", WTERMSIG(status));
  return absl::AbortedError(StrCat(what, ": failed with ", how, tail.empty() ? "" : ": ", tail));
}

}  // namespace

absl::Status RunSandboxed(const SandboxSpec& spec, const std::vector<std::string>& argv,
                          std::string* output) {
  ChildPlan plan;
  plan.sandbox = true;
  plan.usr_dir = spec.usr_dir;
  plan.scratch = spec.scratch_dir;
  plan.scratch_usr = spec.scratch_dir + "/usr";
  plan.scratch_tmp = spec.scratch_dir + "/tmp";
  plan.isolate_network = spec.isolate_network;
  plan.argv = argv;
  return Run(std::move(plan), output);
}

absl::Status RunInRoot(const std::string& root_dir, const std::vector<std::string>& argv,
                       std::string* output) {
  ChildPlan plan;
  plan.root_dir = root_dir;
  plan.isolate_network = false;
  plan.argv = argv;
  return Run(std::move(plan), output);
}

}  // namespace onix::moss::triggers
