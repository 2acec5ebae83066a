#include "boot/systemd_boot/install.h"

#include <fcntl.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "boot/bls/entries.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::boot {
namespace {

constexpr long kVfatMagic = 0x4d44;  // MSDOS_SUPER_MAGIC

// Runs argv (execvp) with stdout+stderr captured; error on a non-zero exit.
absl::StatusOr<std::string> RunCaptured(const std::vector<std::string>& argv) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    const int err = errno;
    return ErrnoError(err, "pipe2");
  }
  UniqueFd read_end(pipefd[0]), write_end(pipefd[1]);
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    return ErrnoError(err, "fork");
  }
  if (pid == 0) {
    ::dup2(write_end.get(), 1);
    ::dup2(write_end.get(), 2);
    ::execvp(cargv[0], cargv.data());
    ::_exit(127);
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
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  std::string cmd;
  for (const std::string& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    const int code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    return Internal(StrCat("running ", cmd, ": exit status ", code, ": ", out));
  }
  return out;
}

bool IsVfat(const std::string& dir) {
  struct statfs st;
  return ::statfs(dir.c_str(), &st) == 0 && static_cast<long>(st.f_type) == kVfatMagic;
}

absl::Status CopyEfiBinary(const std::string& src, int esp_fd, std::string_view dir,
                           std::string_view name) {
  ONIX_ASSIGN_OR_RETURN(std::string data, ReadFilePath(src, 16u << 20));
  ONIX_RETURN_IF_ERROR(fs::MkdirAllAt(esp_fd, dir, 0755));
  ONIX_ASSIGN_OR_RETURN(UniqueFd dir_fd, fs::OpenDirAt(esp_fd, dir));
  return fs::WriteFileAtomicAt(dir_fd.get(), name, data, 0644, fs::Durability::kFsync);
}

}  // namespace

bool BootctlAvailable() {
  const char* path = std::getenv("PATH");
  std::string_view rest = path != nullptr ? path : "/usr/bin:/bin";
  while (true) {
    const size_t colon = rest.find(':');
    const std::string candidate = StrCat(rest.substr(0, colon), "/bootctl");
    if (::access(candidate.c_str(), X_OK) == 0) return true;
    if (colon == std::string_view::npos) return false;
    rest.remove_prefix(colon + 1);
  }
}

absl::StatusOr<std::string> RunBootctl(const std::string& esp_dir, const std::string& xbootldr_dir,
                                       const std::vector<std::string>& args) {
  std::vector<std::string> bootctl = {"bootctl", StrCat("--esp-path=", esp_dir)};
  if (!xbootldr_dir.empty()) bootctl.push_back(StrCat("--boot-path=", xbootldr_dir));
  bootctl.push_back("--no-variables");
  bootctl.insert(bootctl.end(), args.begin(), args.end());
  if (IsVfat(esp_dir)) return RunCaptured(bootctl);
  // bootctl insists the ESP is the root of a filesystem: a private mount namespace with the
  // directory bind-mounted onto itself makes it one without touching the host's mounts.
  std::vector<std::string> argv = {"unshare",
                                   "-m",
                                   "sh",
                                   "-c",
                                   "mount --bind \"$1\" \"$1\" && { [ -z \"$2\" ] || mount --bind "
                                   "\"$2\" \"$2\"; } && shift 2 && "
                                   "SYSTEMD_RELAX_ESP_CHECKS=1 exec \"$@\"",
                                   "sh",
                                   esp_dir,
                                   xbootldr_dir};
  argv.insert(argv.end(), bootctl.begin(), bootctl.end());
  return RunCaptured(argv);
}

absl::StatusOr<InstallResult> InstallSystemdBoot(const InstallOptions& options) {
  const std::string context = StrCat("installing systemd-boot into ", options.esp_dir);
  ONIX_ASSIGN_OR_RETURN(UniqueFd esp_fd, fs::OpenDir(options.esp_dir));
  InstallResult result;
  if (options.use_bootctl && BootctlAvailable()) {
    absl::StatusOr<std::string> out =
        RunBootctl(options.esp_dir, options.xbootldr_dir, {"install"});
    ONIX_RETURN_IF_ERROR_CTX(out.status(), context);
    result.used_bootctl = true;
    result.log = *out;
    if (!IsVfat(options.esp_dir)) {
      absl::StatusOr<bool> seed = fs::ExistsAt(esp_fd.get(), "loader/random-seed");
      if (seed.ok() && *seed) {
        ONIX_RETURN_IF_ERROR_CTX(fs::UnlinkAt(esp_fd.get(), "loader/random-seed"), context);
      }
    }
  } else {
    const std::string src = StrCat(options.efi_source_dir, "/systemd-bootx64.efi");
    ONIX_RETURN_IF_ERROR_CTX(CopyEfiBinary(src, esp_fd.get(), "EFI/BOOT", "BOOTX64.EFI"), context);
    ONIX_RETURN_IF_ERROR_CTX(CopyEfiBinary(src, esp_fd.get(), "EFI/systemd", "systemd-bootx64.efi"),
                             context);
    result.log = StrCat("copied ", src, " to EFI/BOOT/BOOTX64.EFI and EFI/systemd/\n");
  }
  const std::string part = options.xbootldr_dir.empty() ? options.esp_dir : options.xbootldr_dir;
  ONIX_ASSIGN_OR_RETURN(UniqueFd part_fd, fs::OpenDir(part));
  ONIX_RETURN_IF_ERROR_CTX(fs::MkdirAllAt(part_fd.get(), "loader/entries", 0755), context);
  ONIX_RETURN_IF_ERROR_CTX(WriteLoaderConf(options.esp_dir), context);
  return result;
}

}  // namespace onix::boot
