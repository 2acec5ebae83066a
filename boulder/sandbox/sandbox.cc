#include "boulder/sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "moss/base/fd.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/base/temp_dir.h"

namespace onix::boulder {

namespace {

// The child reports a setup failure as one line on this pipe, then exits 127. The pipe is
// close-on-exec, so a successful exec reads as EOF.
[[noreturn]] void Die(int report_fd, const std::string& what) {
  const int err = errno;
  const std::string msg = StrCat(what, ": ", ::strerror(err));
  ssize_t n = ::write(report_fd, msg.data(), msg.size());
  (void)n;
  ::_exit(127);
}

bool WriteProcFile(const std::string& path, const std::string& data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return false;
  return ::write(fd.get(), data.data(), data.size()) == static_cast<ssize_t>(data.size());
}

// mkdir -p inside the child; errors surface at the mount that needs the directory.
void MkdirP(const std::string& path, mode_t mode) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') (void)::mkdir(path.substr(0, i).c_str(), mode);
  }
}

void TouchFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0) ::close(fd);
}

bool WriteSmallFile(const std::string& path, const std::string& data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  return fd && ::write(fd.get(), data.data(), data.size()) == static_cast<ssize_t>(data.size());
}

// Bind-mounts `src` onto `dst` (created as a directory or file to match) and makes it
// read-only unless `writable`. The remount keeps the source's locked flags (nosuid, nodev,
// noexec), which an unprivileged remount may not clear.
void Bind(int report_fd, const std::string& src, const std::string& dst, bool writable) {
  struct stat st;
  if (::stat(src.c_str(), &st) != 0) Die(report_fd, StrCat("binding ", src));
  if (S_ISDIR(st.st_mode)) {
    MkdirP(dst, 0755);
  } else {
    MkdirP(dst.substr(0, dst.rfind('/')), 0755);
    TouchFile(dst);
  }
  if (::mount(src.c_str(), dst.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    Die(report_fd, StrCat("bind-mounting ", src, " on ", dst));
  }
  if (writable) return;
  struct statvfs vfs;
  unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY;
  if (::statvfs(dst.c_str(), &vfs) == 0) {
    if (vfs.f_flag & ST_NOSUID) flags |= MS_NOSUID;
    if (vfs.f_flag & ST_NODEV) flags |= MS_NODEV;
    if (vfs.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
    if (vfs.f_flag & ST_NOATIME) flags |= MS_NOATIME;
    if (vfs.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
    if (vfs.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  }
  if (::mount(nullptr, dst.c_str(), nullptr, flags, nullptr) != 0) {
    Die(report_fd, StrCat("making ", dst, " read-only"));
  }
}

void BringUpLoopback(int report_fd) {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) Die(report_fd, "socket for loopback");
  struct ifreq ifr;
  ::memset(&ifr, 0, sizeof ifr);
  ::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(s, SIOCGIFFLAGS, &ifr) != 0) Die(report_fd, "reading lo flags");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
  if (::ioctl(s, SIOCSIFFLAGS, &ifr) != 0) Die(report_fd, "bringing lo up");
  ::close(s);
}

// Drops every capability from the bounding, ambient, effective, permitted and inheritable
// sets, so neither a root build nor uid 0 of the user namespace can remount, mknod, or
// reach around the read-only binds.
void DropCapabilities(int report_fd) {
  int last = CAP_LAST_CAP;
  if (FILE* f = ::fopen("/proc/sys/kernel/cap_last_cap", "re")) {
    if (::fscanf(f, "%d", &last) != 1) last = CAP_LAST_CAP;
    ::fclose(f);
  }
  for (int cap = 0; cap <= last; ++cap) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      Die(report_fd, "dropping bounding capabilities");
    }
  }
  (void)::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  ::memset(data, 0, sizeof data);
  if (::syscall(SYS_capset, &hdr, data) != 0) Die(report_fd, "clearing capabilities");
}

void SetLimit(int report_fd, int resource, uint64_t value, const char* name) {
  if (value == 0) return;
  struct rlimit rl = {value, value};
  if (::setrlimit(resource, &rl) != 0) Die(report_fd, StrCat("setrlimit ", name));
}

// Pid 1 of the new PID namespace: assembles the root, pivots into it and execs the build.
[[noreturn]] void RunInit(const SandboxConfig& cfg, const std::string& root, int report_fd) {
  if (::mount("tmpfs", root.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64m") != 0) {
    Die(report_fd, StrCat("mounting the root tmpfs on ", root));
  }
  for (const char* d : {"/dev", "/proc", "/tmp", "/etc", "/root", "/mason"}) {
    MkdirP(root + d, 0755);
  }
  for (const BindMount& b : cfg.binds) Bind(report_fd, b.source, root + b.target, b.writable);
  for (const auto& [link, target] : cfg.symlinks) {
    MkdirP((root + link).substr(0, (root + link).rfind('/')), 0755);
    if (::symlink(target.c_str(), (root + link).c_str()) != 0 && errno != EEXIST) {
      Die(report_fd, StrCat("creating symlink ", link));
    }
  }
  // A minimal /dev: the harmless character devices, bound from the host (mknod is not
  // allowed in a user namespace).
  for (const char* dev : {"null", "zero", "full", "random", "urandom", "tty"}) {
    const std::string src = StrCat("/dev/", dev);
    if (::access(src.c_str(), F_OK) != 0) continue;
    Bind(report_fd, src, StrCat(root, "/dev/", dev), /*writable=*/true);
  }
  MkdirP(root + "/dev/shm", 01777);
  if (::mount("tmpfs", (root + "/dev/shm").c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
              "mode=1777,size=64m") != 0) {
    Die(report_fd, "mounting /dev/shm");
  }
  for (const auto& [link, target] :
       std::vector<std::pair<std::string, std::string>>{{"fd", "/proc/self/fd"},
                                                        {"stdin", "/proc/self/fd/0"},
                                                        {"stdout", "/proc/self/fd/1"},
                                                        {"stderr", "/proc/self/fd/2"}}) {
    // Shells need /dev/fd for process substitution; a sandbox without it is broken.
    if (::symlink(target.c_str(), StrCat(root, "/dev/", link).c_str()) != 0) {
      Die(report_fd, StrCat("linking /dev/", link));
    }
  }
  if (::mount("proc", (root + "/proc").c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              nullptr) != 0) {
    Die(report_fd, "mounting /proc");
  }
  if (::mount("tmpfs", (root + "/tmp").c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) {
    Die(report_fd, "mounting the private /tmp");
  }
  if (!WriteSmallFile(
          root + "/etc/passwd",
          "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n") ||
      !WriteSmallFile(root + "/etc/group", "root:x:0:\nnogroup:x:65534:\n") ||
      !WriteSmallFile(root + "/etc/hosts", "127.0.0.1 localhost\n::1 localhost\n")) {
    Die(report_fd, "writing /etc");
  }
  BringUpLoopback(report_fd);
  if (::sethostname(cfg.hostname.data(), cfg.hostname.size()) != 0) Die(report_fd, "sethostname");
  // Everything outside the binds becomes read-only: a build can write only to its writable
  // binds, /tmp and /dev/shm.
  if (::mount(nullptr, root.c_str(), nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
              nullptr) != 0) {
    Die(report_fd, "making the root read-only");
  }
  if (::chdir(root.c_str()) != 0) Die(report_fd, "chdir to the new root");
  if (::syscall(SYS_pivot_root, ".", ".") != 0) Die(report_fd, "pivot_root");
  if (::umount2(".", MNT_DETACH) != 0) Die(report_fd, "detaching the old root");
  if (::chdir(cfg.cwd.c_str()) != 0) Die(report_fd, StrCat("chdir ", cfg.cwd));
  ::umask(022);
  SetLimit(report_fd, RLIMIT_FSIZE, cfg.max_file_size, "RLIMIT_FSIZE");
  SetLimit(report_fd, RLIMIT_NOFILE, cfg.max_open_files, "RLIMIT_NOFILE");
  SetLimit(report_fd, RLIMIT_CPU, cfg.max_cpu_seconds, "RLIMIT_CPU");
  struct rlimit core = {0, 0};
  (void)::setrlimit(RLIMIT_CORE, &core);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) Die(report_fd, "PR_SET_NO_NEW_PRIVS");
  DropCapabilities(report_fd);
  std::vector<char*> argv, envp;
  for (const std::string& a : cfg.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const std::string& e : cfg.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  ::execve(argv[0], argv.data(), envp.data());
  Die(report_fd, StrCat("executing ", cfg.argv[0]));
}

int WaitExit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return 127;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

absl::StatusOr<int> RunSandboxed(const SandboxConfig& cfg) {
  if (cfg.argv.empty() || cfg.argv[0].empty() || cfg.argv[0][0] != '/') {
    return InvalidArgument("sandbox: argv[0] must be an absolute path");
  }
  for (const BindMount& b : cfg.binds) {
    if (b.target.empty() || b.target[0] != '/' || b.target == "/") {
      return InvalidArgument(StrCat("sandbox: bind target '", b.target, "' must be absolute"));
    }
  }
  ONIX_ASSIGN_OR_RETURN(TempDir mountpoint, TempDir::Make("boulder-root-", cfg.scratch_dir));
  const std::string root = mountpoint.path();
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    const int err = errno;
    return ErrnoError(err, "pipe2");
  }
  UniqueFd report_rd(pipefd[0]), report_wr(pipefd[1]);
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  const bool need_userns = uid != 0;

  pid_t outer = ::fork();
  if (outer < 0) {
    const int err = errno;
    return ErrnoError(err, "fork");
  }
  if (outer == 0) {
    const int wr = report_wr.get();
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (!cfg.inherit_stdin) {
      int devnull = ::open("/dev/null", O_RDONLY);
      if (devnull >= 0) ::dup2(devnull, 0);
    }
    int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
    if (need_userns) flags |= CLONE_NEWUSER;
    if (::unshare(flags) != 0) Die(wr, "creating namespaces (unshare)");
    if (need_userns) {
      // A process that changed its uid (su, setuid) is not dumpable, which makes
      // /proc/self/*_map root-owned and unwritable for it.
      (void)::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
      if (!WriteProcFile("/proc/self/setgroups", "deny") ||
          !WriteProcFile("/proc/self/uid_map", StrCat("0 ", uid, " 1\n")) ||
          !WriteProcFile("/proc/self/gid_map", StrCat("0 ", gid, " 1\n"))) {
        Die(wr, "writing the user namespace id maps");
      }
    }
    // Nothing we mount may propagate back to the host.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      Die(wr, "making mounts private");
    }
    pid_t init = ::fork();
    if (init < 0) Die(wr, "forking pid 1");
    if (init == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
      RunInit(cfg, root, wr);
    }
    report_wr.reset();
    ::_exit(WaitExit(init));
  }
  report_wr.reset();
  std::string report;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(report_rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    report.append(buf, static_cast<size_t>(n));
  }
  const int code = WaitExit(outer);
  if (!report.empty()) return Internal(StrCat("setting up the build sandbox: ", report));
  return code;
}

}  // namespace onix::boulder
