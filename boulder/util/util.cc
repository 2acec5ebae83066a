#include "boulder/util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <system_error>

#include "boost/filesystem.hpp"
#include "moss/base/fd.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::boulder {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    const int err = errno;
    return ErrnoError(err, StrCat("opening ", path));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("stat ", path));
  }
  if (!S_ISREG(st.st_mode)) return FailedPrecondition(StrCat(path, " is not a regular file"));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return ErrnoError(err, StrCat("reading ", path));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

absl::Status WriteFile(const std::string& path, std::string_view data, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) {
    const int err = errno;
    return ErrnoError(err, StrCat("creating ", path));
  }
  ONIX_RETURN_IF_ERROR(fs::WriteAll(fd.get(), data, path));
  if (::fchmod(fd.get(), mode) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("chmod ", path));
  }
  return absl::OkStatus();
}

absl::Status MakeDirs(const std::string& path, mode_t mode) {
  boost::system::error_code ec;
  boost::filesystem::create_directories(path, ec);
  if (ec) return ErrnoError(ec.value(), StrCat("creating directory ", path));
  return absl::OkStatus();
}

absl::Status RemoveTree(const std::string& path) {
  boost::system::error_code ec;
  boost::filesystem::remove_all(path, ec);
  if (ec) return ErrnoError(ec.value(), StrCat("removing ", path));
  return absl::OkStatus();
}

std::string ShellJoin(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) {
    if (!out.empty()) out += ' ';
    if (a.find_first_of(" \t\n'\"$") == std::string::npos && !a.empty()) {
      out += a;
    } else {
      out += '\'';
      for (char c : a) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
      out += '\'';
    }
  }
  return out;
}

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         const std::string& cwd) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    const int err = errno;
    return ErrnoError(err, "pipe2");
  }
  UniqueFd rd(pipefd[0]), wr(pipefd[1]);
  // Everything the child needs is built before fork: the child only makes syscalls.
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    return ErrnoError(err, "fork");
  }
  if (pid == 0) {
    ::dup2(wr.get(), 1);
    ::dup2(wr.get(), 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  wr.reset();
  CommandResult result;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.output.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    const int err = errno;
    if (err != EINTR) return ErrnoError(err, "waitpid");
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (result.exit_code == 127 && result.output.empty()) {
    return NotFound(StrCat("running ", argv[0], ": command not found"));
  }
  return result;
}

absl::StatusOr<std::string> RunCommandOk(const std::vector<std::string>& argv,
                                         const std::string& cwd) {
  ONIX_ASSIGN_OR_RETURN(CommandResult r, RunCommand(argv, cwd));
  if (r.exit_code != 0) {
    std::string out = r.output;
    if (out.size() > 2000) out = "..." + out.substr(out.size() - 2000);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return Internal(StrCat("running ", ShellJoin(argv), ": exit status ", r.exit_code, ": ", out));
  }
  return r.output;
}

}  // namespace onix::boulder
