#include "boot/bls/entries.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/state/fstx.h"

namespace onix::boot {
namespace {

constexpr std::string_view kPrefix = "onix-";
constexpr std::string_view kSuffix = ".conf";

bool ParseCount(std::string_view s, int* out) {
  if (s.empty() || s.size() > 4) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// loader.conf with "default onix-*" and every non-default line the admin set kept.
std::string LoaderConf(std::string_view old) {
  std::string out =
      "# moss: the active state's entry has sort-key onix-0, so it is the first onix-* entry;\n"
      "# moss: an entry that used up its boot tries sorts last, the next state boots instead.\n"
      "default onix-*\n";
  bool had_other = false;
  while (!old.empty()) {
    const size_t nl = old.find('\n');
    std::string_view line = old.substr(0, nl);
    old = nl == std::string_view::npos ? std::string_view() : old.substr(nl + 1);
    if (line.substr(0, 7) == "default" || line.substr(0, 7) == "# moss:") {
      continue;
    }
    if (line.empty()) continue;
    out += StrCat(line, "\n");
    had_other = true;
  }
  if (!had_other) out += "timeout 3\neditor no\n";
  return out;
}

}  // namespace

std::optional<EntryName> ParseEntryFileName(std::string_view file) {
  if (file.size() <= kPrefix.size() + kSuffix.size() || file.substr(0, kPrefix.size()) != kPrefix ||
      file.substr(file.size() - kSuffix.size()) != kSuffix) {
    return std::nullopt;
  }
  std::string_view stem =
      file.substr(kPrefix.size(), file.size() - kPrefix.size() - kSuffix.size());
  EntryName name;
  const size_t plus = stem.rfind('+');
  if (plus != std::string_view::npos) {
    std::string_view counter = stem.substr(plus + 1);
    stem = stem.substr(0, plus);
    const size_t dash = counter.find('-');
    if (dash == std::string_view::npos) {
      if (!ParseCount(counter, &name.tries_left)) return std::nullopt;
    } else if (!ParseCount(counter.substr(0, dash), &name.tries_left) ||
               !ParseCount(counter.substr(dash + 1), &name.tries_done)) {
      return std::nullopt;
    }
  }
  // A state id is "<number>-<hex>"; anything else on the ESP or in LoaderEntrySelected is
  // not ours. moss's one state-id rule (Fstx::ParseExact, which the journal also applies)
  // keeps a hostile name from becoming a path, a '+' counter or a line.
  if (!moss::state::Fstx::ParseExact(stem).ok()) return std::nullopt;
  name.fstx = std::string(stem);
  return name;
}

BootEntry ParseEntry(std::string file, std::string_view text) {
  BootEntry entry;
  if (auto name = ParseEntryFileName(file)) entry.name = *name;
  entry.file = std::move(file);
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    const size_t sp = line.find_first_of(" \t");
    std::string_view key = line.substr(0, sp);
    std::string_view value = sp == std::string_view::npos ? "" : line.substr(sp + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\r')) value.remove_suffix(1);
    if (key == "title")
      entry.title = value;
    else if (key == "version")
      entry.version = value;
    else if (key == "sort-key")
      entry.sort_key = value;
    else if (key == "linux")
      entry.linux = value;
    else if (key == "initrd")
      entry.initrd = value;
    else if (key == "options")
      entry.options = value;
  }
  return entry;
}

absl::StatusOr<std::vector<BootEntry>> ListOnixEntries(std::string_view partition) {
  std::vector<BootEntry> out;
  const std::string dir = StrCat(partition, "/loader/entries");
  absl::StatusOr<UniqueFd> fd = fs::OpenDir(dir);
  if (absl::IsNotFound(fd.status())) return out;
  ONIX_RETURN_IF_ERROR_CTX(fd.status(), StrCat("listing boot entries in ", dir));
  ONIX_ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(fd->get()));
  for (std::string& name : names) {
    if (!ParseEntryFileName(name)) continue;
    absl::StatusOr<std::string> text = fs::ReadFileAt(fd->get(), name, 1 << 20);
    ONIX_RETURN_IF_ERROR_CTX(text.status(), StrCat("reading boot entry ", dir, "/", name));
    out.push_back(ParseEntry(std::move(name), *text));
  }
  return out;
}

absl::Status MarkEntryGood(std::string_view partition, std::string_view fstx) {
  const std::string dir = StrCat(partition, "/loader/entries");
  const std::string context = StrCat("marking the boot entry of state ", fstx, " good in ", dir);
  absl::StatusOr<UniqueFd> fd = fs::OpenDir(dir);
  ONIX_RETURN_IF_ERROR_CTX(fd.status(), context);
  ONIX_ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(fd->get()));
  const std::string plain = StrCat(kPrefix, fstx, kSuffix);
  std::string counted;
  bool has_plain = false;
  for (const std::string& name : names) {
    std::optional<EntryName> parsed = ParseEntryFileName(name);
    if (!parsed || parsed->fstx != fstx) continue;
    if (parsed->tries_left < 0) {
      has_plain = true;
    } else {
      counted = name;
    }
  }
  if (counted.empty()) {
    if (has_plain) return absl::OkStatus();
    return NotFound(StrCat(context, ": no entry onix-", fstx, "*.conf"));
  }
  if (has_plain) {
    // Both names exist only if a sync wrote the plain one after a counted one was left
    // behind; the plain (assessed good) one wins and the counted duplicate goes.
    ONIX_RETURN_IF_ERROR_CTX(fs::UnlinkAt(fd->get(), counted), context);
  } else {
    ONIX_RETURN_IF_ERROR_CTX(fs::RenameNoReplaceAt(fd->get(), counted, fd->get(), plain), context);
    return Annotate(FsyncNameAt(fd->get(), plain), context);
  }
  ONIX_RETURN_IF_ERROR_CTX(fs::FsyncDirAt(fd->get()), context);
  return absl::OkStatus();
}

absl::Status FsyncNameAt(int dirfd, std::string_view name) {
  ONIX_ASSIGN_OR_RETURN(UniqueFd fd, fs::OpenAt(dirfd, name, O_RDONLY | O_NOFOLLOW));
  ONIX_RETURN_IF_ERROR(fs::FsyncFd(fd.get(), name));
  return fs::FsyncDirAt(dirfd);
}

absl::Status WriteLoaderConf(std::string_view esp_dir) {
  const std::string context = StrCat("writing ", esp_dir, "/loader/loader.conf");
  ONIX_ASSIGN_OR_RETURN(UniqueFd esp_fd, fs::OpenDir(std::string(esp_dir)));
  ONIX_RETURN_IF_ERROR_CTX(fs::MkdirAllAt(esp_fd.get(), "loader", 0755), context);
  ONIX_ASSIGN_OR_RETURN(UniqueFd loader_fd, fs::OpenDirAt(esp_fd.get(), "loader"));
  absl::StatusOr<std::string> old = fs::ReadFileAt(loader_fd.get(), "loader.conf", 1 << 20);
  if (!old.ok() && !absl::IsNotFound(old.status())) return Annotate(old.status(), context);
  const std::string conf = LoaderConf(old.ok() ? *old : "");
  if (old.ok() && *old == conf) return absl::OkStatus();
  return Annotate(
      fs::WriteFileAtomicAt(loader_fd.get(), "loader.conf", conf, 0644, fs::Durability::kFsync),
      context);
}

absl::StatusOr<std::string> ReadFilePath(const std::string& path, size_t max_size) {
  const size_t slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  ONIX_ASSIGN_OR_RETURN(UniqueFd fd, fs::OpenDir(dir));
  return fs::ReadFileAt(fd.get(), base, max_size);
}

void CrashPoint(std::string_view point) {
  const char* env = std::getenv("MOSS_CRASH_AT");
  if (env == nullptr || point != env) return;
  // SIGKILL, not abort(): no handler, no flush, exactly what a power cut leaves.
  ::kill(::getpid(), SIGKILL);
  ::pause();
}

}  // namespace onix::boot
