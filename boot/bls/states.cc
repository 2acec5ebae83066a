#include "boot/bls/states.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "boot/bls/entries.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::boot {
namespace {

std::string RootPath(std::string_view root, std::string_view rel) {
  return root == "/" ? StrCat("/", rel) : StrCat(root, "/", rel);
}

int64_t MtimeOf(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_mtime);
}

}  // namespace

absl::StatusOr<std::string> ReadTreeFstx(std::string_view usr_dir) {
  const std::string path = StrCat(usr_dir, "/.fstx");
  absl::StatusOr<std::string> read = ReadFilePath(path, 4096);
  if (!read.ok()) return Annotate(read.status(), StrCat("reading ", path));
  // moss writes the fstx on the first line and the tree's durable token on the second.
  std::string text = read->substr(0, read->find('\n'));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) {
    text.pop_back();
  }
  if (text.empty() || text.find_first_of("/+ \n") != std::string::npos) {
    return FailedPrecondition(StrCat("reading ", path, ": not a state id: '", text, "'"));
  }
  return text;
}

absl::StatusOr<std::vector<StateBootInfo>> DiscoverStates(std::string_view root) {
  std::vector<StateBootInfo> out;
  const std::string usr = RootPath(root, "usr");
  absl::StatusOr<std::string> active = ReadTreeFstx(usr);
  if (!active.ok()) {
    return FailedPrecondition(
        StrCat("finding the active state of ", root, ": ", active.status().message()));
  }
  out.push_back(StateBootInfo{*active, usr, MtimeOf(usr), true});
  const std::string archive = RootPath(root, ".moss/root");
  absl::StatusOr<UniqueFd> fd = fs::OpenDir(archive);
  if (absl::IsNotFound(fd.status())) return out;
  ONIX_RETURN_IF_ERROR_CTX(fd.status(), StrCat("listing archived states in ", archive));
  ONIX_ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(fd->get()));
  for (const std::string& name : names) {
    if (name == "staging" || name.front() == '.') continue;
    const std::string tree = StrCat(archive, "/", name, "/usr");
    absl::StatusOr<std::string> fstx = ReadTreeFstx(tree);
    if (!fstx.ok() || *fstx == *active) continue;
    out.push_back(StateBootInfo{*fstx, tree, MtimeOf(tree), false});
  }
  return out;
}

BootConfig DetectBootConfig(std::string_view root) {
  BootConfig config;
  config.root = std::string(root);
  const std::string efi = RootPath(root, "efi");
  struct stat st;
  if (::stat(StrCat(efi, "/EFI").c_str(), &st) == 0 ||
      ::stat(StrCat(efi, "/loader").c_str(), &st) == 0) {
    config.esp_dir = efi;
    config.xbootldr_dir = RootPath(root, "boot");
  } else {
    config.esp_dir = RootPath(root, "boot");
  }
  // systemd kernel-install's file: the machine's number of boot tries for new entries.
  const std::string tries_path = RootPath(root, "etc/kernel/tries");
  absl::StatusOr<std::string> tries = ReadFilePath(tries_path, 64);
  if (tries.ok()) {
    config.boot_tries_source = tries_path;
    std::string text = *tries;
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    int n = 0;
    bool digits = !text.empty() && text.size() <= 2;
    for (char c : text) {
      digits = digits && c >= '0' && c <= '9';
      if (digits) n = n * 10 + (c - '0');
    }
    config.boot_tries = digits ? n : 0;
  }
  return config;
}

}  // namespace onix::boot
