#include "boot/bls/sync.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>

#include "boot/bls/entries.h"
#include "moss/base/file_lock.h"
#include "moss/base/fs_at.h"
#include "moss/base/sha256.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::boot {

const char* const kBootSyncCrashPoints[] = {
    "boot-sync-kernel-staged",  "boot-sync-kernels-published",
    "boot-sync-entry-written",  "boot-sync-entries-written",
    "boot-sync-loader-written", "boot-sync-stale-entries-removed",
    "boot-sync-done",
};
const size_t kBootSyncCrashPointCount = sizeof(kBootSyncCrashPoints) / sizeof(char*);

namespace {

constexpr std::string_view kKernelDir = "onix";
constexpr std::string_view kTmpPrefix = ".tmp-";
// Room for the entry files, loader.conf and filesystem metadata on top of the kernels.
constexpr uint64_t kMetadataSlack = 64 * 1024;

// What one retained state's entry needs.
struct PlannedEntry {
  const StateBootInfo* state = nullptr;
  StateKernel kernel;
  std::string key;  // <part>/onix/<key>
  uint64_t bytes = 0;
  std::string contents;
};

uint64_t RoundUp(uint64_t n) { return (n + 4095) / 4096 * 4096; }

std::string UtcDate(int64_t unix_time) {
  const time_t t = static_cast<time_t>(unix_time);
  struct tm tm_utc;
  if (::gmtime_r(&t, &tm_utc) == nullptr) return "unknown date";
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M", &tm_utc);
  return buf;
}

// Copies the regular file `src` into `dst_name` below `dst_dirfd` (created, must not exist)
// and fsyncs it.
absl::Status CopyFileInto(const std::string& src, int dst_dirfd, std::string_view dst_name) {
  const std::string context = StrCat("copying ", src, " to ", fs::FdPath(dst_dirfd), "/", dst_name);
  const int in_raw = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (in_raw < 0) {
    const int err = errno;
    return Annotate(ErrnoError(err, StrCat("open(", src, ")")), context);
  }
  UniqueFd in(in_raw);
  ONIX_ASSIGN_OR_RETURN(UniqueFd out,
                        fs::OpenAt(dst_dirfd, dst_name, O_WRONLY | O_CREAT | O_EXCL, 0644));
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(in.get(), buf, sizeof(buf));
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return Annotate(ErrnoError(err, StrCat("read(", src, ")")), context);
    }
    if (n == 0) break;
    ONIX_RETURN_IF_ERROR_CTX(
        fs::WriteAll(out.get(), std::string_view(buf, static_cast<size_t>(n)), dst_name), context);
  }
  ONIX_RETURN_IF_ERROR_CTX(fs::FsyncFd(out.get(), dst_name), context);
  return absl::OkStatus();
}

absl::StatusOr<Digest> HashPath(const std::string& path, uint64_t* size) {
  const int raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (raw < 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("open(", path, ")"));
  }
  UniqueFd fd(raw);
  absl::StatusOr<Digest> digest = Sha256Fd(fd.get(), size);
  if (!digest.ok()) return Annotate(digest.status(), StrCat("hashing ", path));
  return digest;
}

absl::StatusOr<uint64_t> FreeBytes(int dirfd, std::string_view what) {
  struct statvfs st;
  if (::fstatvfs(dirfd, &st) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("fstatvfs(", what, ")"));
  }
  return static_cast<uint64_t>(st.f_bavail) * static_cast<uint64_t>(st.f_frsize);
}

// Bytes a kernel directory occupies (allocated blocks, what removing it frees).
uint64_t TreeBytes(int dirfd, const std::string& name) {
  absl::StatusOr<UniqueFd> fd = fs::OpenDirAt(dirfd, name);
  if (!fd.ok()) return 0;
  absl::StatusOr<std::vector<std::string>> names = fs::ListDir(fd->get());
  if (!names.ok()) return 0;
  uint64_t total = 0;
  for (const std::string& n : *names) {
    absl::StatusOr<struct stat> st = fs::StatAt(fd->get(), n);
    if (st.ok()) total += static_cast<uint64_t>(st->st_blocks) * 512;
  }
  return total;
}

std::string EntryContents(const BootConfig& config, const PlannedEntry& p,
                          const std::string& cmdline) {
  std::string out = StrCat("# Written by moss boot sync from state ", p.state->fstx,
                           "; regenerated on every sync, do not edit.\n");
  out += StrCat("title ", config.os_name, " ", p.state->fstx, " (", UtcDate(p.state->created_unix),
                ")\n");
  out += StrCat("version ", p.state->fstx, "\n");
  out += StrCat("sort-key ", p.state->active ? "onix-0" : "onix-1", "\n");
  out += StrCat("linux /", kKernelDir, "/", p.key, "/vmlinuz\n");
  if (!p.kernel.initrd.empty()) out += StrCat("initrd /", kKernelDir, "/", p.key, "/initrd\n");
  std::string options = cmdline;
  if (!options.empty()) options += " ";
  options += StrCat("moss.fstx=", p.state->fstx);
  out += StrCat("options ", options, "\n");
  return out;
}

// The key of a kernel directory an entry's `linux` line points at ("" if not ours).
std::string KeyOfLinuxPath(std::string_view linux_path) {
  const std::string prefix = StrCat("/", kKernelDir, "/");
  if (linux_path.substr(0, prefix.size()) != prefix) return "";
  linux_path.remove_prefix(prefix.size());
  return std::string(linux_path.substr(0, linux_path.find('/')));
}

// Publishes <part>/onix/<key> with the kernel files. Commit point: the rename of
// .tmp-<key> to <key>; a crash before it leaves only a .tmp- directory the next sync removes.
absl::Status PublishKernel(int kernels_fd, const PlannedEntry& p) {
  const std::string tmp = StrCat(kTmpPrefix, p.key);
  ONIX_RETURN_IF_ERROR(fs::RemoveTreeAt(kernels_fd, tmp));
  ONIX_RETURN_IF_ERROR(fs::MkdirAt(kernels_fd, tmp, 0755));
  ONIX_ASSIGN_OR_RETURN(UniqueFd tmp_fd, fs::OpenDirAt(kernels_fd, tmp));
  ONIX_RETURN_IF_ERROR(CopyFileInto(p.kernel.vmlinuz, tmp_fd.get(), "vmlinuz"));
  if (!p.kernel.initrd.empty()) {
    ONIX_RETURN_IF_ERROR(CopyFileInto(p.kernel.initrd, tmp_fd.get(), "initrd"));
  }
  ONIX_RETURN_IF_ERROR(fs::FsyncDirAt(tmp_fd.get()));
  CrashPoint("boot-sync-kernel-staged");
  ONIX_RETURN_IF_ERROR(fs::RenameNoReplaceAt(kernels_fd, tmp, kernels_fd, p.key));
  return FsyncNameAt(kernels_fd, p.key);
}

}  // namespace

BootConfig WithDefaults(BootConfig config) {
  if (config.root.empty()) config.root = "/";
  if (config.esp_dir.empty()) {
    config.esp_dir = config.root == "/" ? "/boot" : StrCat(config.root, "/boot");
  }
  return config;
}

std::string EntriesPartition(const BootConfig& config) {
  return config.xbootldr_dir.empty() ? config.esp_dir : config.xbootldr_dir;
}

absl::StatusOr<StateKernel> FindStateKernel(std::string_view usr_dir) {
  const std::string dir = StrCat(usr_dir, "/lib/kernel");
  absl::StatusOr<UniqueFd> fd = fs::OpenDir(dir);
  if (absl::IsNotFound(fd.status())) return NotFound(StrCat("no kernel in ", dir));
  ONIX_RETURN_IF_ERROR_CTX(fd.status(), StrCat("looking for the kernel in ", dir));
  ONIX_ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(fd->get()));
  std::string best;
  for (const std::string& name : names) {
    absl::StatusOr<struct stat> st = fs::StatAt(fd->get(), StrCat(name, "/vmlinuz"));
    if (!st.ok() || !S_ISREG(st->st_mode)) continue;
    if (best.empty() || ::strverscmp(name.c_str(), best.c_str()) > 0) best = name;
  }
  if (best.empty()) return NotFound(StrCat("no kernel in ", dir, " (no <version>/vmlinuz)"));
  StateKernel k;
  k.version = best;
  k.vmlinuz = StrCat(dir, "/", best, "/vmlinuz");
  absl::StatusOr<struct stat> st = fs::StatAt(fd->get(), StrCat(best, "/initrd"));
  if (st.ok() && S_ISREG(st->st_mode)) k.initrd = StrCat(dir, "/", best, "/initrd");
  return k;
}

absl::StatusOr<std::string> DeclaredCmdline(std::string_view root, std::string_view usr_dir) {
  const std::string candidates[] = {
      StrCat(root == "/" ? "" : root, "/etc/kernel/cmdline"),
      StrCat(usr_dir, "/lib/kernel/cmdline"),
  };
  for (const std::string& path : candidates) {
    absl::StatusOr<std::string> text = ReadFilePath(path, 64 * 1024);
    if (absl::IsNotFound(text.status())) continue;
    ONIX_RETURN_IF_ERROR_CTX(text.status(), StrCat("reading the kernel command line ", path));
    std::string out;
    std::string word;
    auto flush = [&] {
      if (!word.empty() && word.rfind("moss.fstx=", 0) != 0) {
        if (!out.empty()) out += " ";
        out += word;
      }
      word.clear();
    };
    for (char c : *text) {
      if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
        flush();
      } else {
        word += c;
      }
    }
    flush();
    return out;
  }
  return std::string();
}

absl::Status SyncBootEntries(const BootConfig& raw_config,
                             const std::vector<StateBootInfo>& states) {
  const BootConfig config = WithDefaults(raw_config);
  const std::string part = EntriesPartition(config);
  const std::string context = StrCat("syncing boot entries in ", part);
  if (config.retain < 0) return InvalidArgument(StrCat(context, ": retain must be >= 0"));
  if (config.boot_counting && (config.boot_tries < 1 || config.boot_tries > 99)) {
    return InvalidArgument(StrCat(
        context, ": ",
        config.boot_tries_source.empty() ? std::string("boot tries") : config.boot_tries_source,
        ": boot tries must be a number from 1 to 99"));
  }

  // Retention: the active state plus the `retain` newest archived ones.
  std::vector<const StateBootInfo*> archived;
  std::vector<const StateBootInfo*> retained;
  for (const StateBootInfo& s : states) {
    if (s.fstx.empty() || s.fstx.find_first_of("/+ \n") != std::string::npos) {
      return InvalidArgument(StrCat(context, ": invalid state id '", s.fstx, "'"));
    }
    (s.active ? retained : archived).push_back(&s);
  }
  if (retained.size() > 1) return InvalidArgument(StrCat(context, ": more than one active state"));
  std::sort(archived.begin(), archived.end(), [](const StateBootInfo* a, const StateBootInfo* b) {
    if (a->created_unix != b->created_unix) return a->created_unix > b->created_unix;
    return ::strverscmp(a->fstx.c_str(), b->fstx.c_str()) > 0;
  });
  for (size_t i = 0; i < archived.size() && i < static_cast<size_t>(config.retain); ++i) {
    retained.push_back(archived[i]);
  }

  // Plan: the kernel of each retained state, keyed by content.
  std::vector<PlannedEntry> plan;
  for (const StateBootInfo* s : retained) {
    absl::StatusOr<StateKernel> kernel = FindStateKernel(s->usr_dir);
    if (absl::IsNotFound(kernel.status())) continue;
    ONIX_RETURN_IF_ERROR_CTX(kernel.status(), StrCat(context, ": state ", s->fstx));
    PlannedEntry p;
    p.state = s;
    p.kernel = *kernel;
    uint64_t size = 0;
    ONIX_ASSIGN_OR_RETURN(Digest kd, HashPath(p.kernel.vmlinuz, &size));
    p.bytes = RoundUp(size);
    std::string initrd_hex;
    if (!p.kernel.initrd.empty()) {
      ONIX_ASSIGN_OR_RETURN(Digest id, HashPath(p.kernel.initrd, &size));
      p.bytes += RoundUp(size);
      initrd_hex = id.Hex();
    }
    p.key = Sha256Of(StrCat(kd.Hex(), ":", initrd_hex)).Hex().substr(0, 16);
    ONIX_ASSIGN_OR_RETURN(std::string cmdline, DeclaredCmdline(config.root, s->usr_dir));
    p.contents = EntryContents(config, p, cmdline);
    plan.push_back(std::move(p));
  }

  // What is on disk now.
  ONIX_ASSIGN_OR_RETURN(UniqueFd part_fd, fs::OpenDir(part));
  ONIX_RETURN_IF_ERROR_CTX(fs::MkdirAllAt(part_fd.get(), "loader/entries", 0755), context);
  ONIX_RETURN_IF_ERROR_CTX(fs::MkdirAllAt(part_fd.get(), kKernelDir, 0755), context);
  // Two syncs at once (a moss hook and a manual `moss boot sync`) would race on the same
  // names; the second waits for the first.
  ONIX_ASSIGN_OR_RETURN(UniqueFd loader_dir_fd, fs::OpenDirAt(part_fd.get(), "loader"));
  ONIX_ASSIGN_OR_RETURN(FileLock lock,
                        FileLock::Acquire(loader_dir_fd.get(), ".moss-boot.lock", LockWait::kWait));
  // Acquire rewrites the lock file (its holder's pid). On vfat the first fsync below would
  // write the FAT with that rewrite's cluster changes but not the file's directory slot, and a
  // power cut then left the slot pointing at a freed cluster (fsck: "Contains a free cluster").
  ONIX_RETURN_IF_ERROR_CTX(FsyncNameAt(loader_dir_fd.get(), ".moss-boot.lock"), context);
  ONIX_ASSIGN_OR_RETURN(UniqueFd entries_fd, fs::OpenDirAt(part_fd.get(), "loader/entries"));
  ONIX_ASSIGN_OR_RETURN(UniqueFd kernels_fd, fs::OpenDirAt(part_fd.get(), kKernelDir));
  ONIX_ASSIGN_OR_RETURN(std::vector<BootEntry> existing, ListOnixEntries(part));
  ONIX_ASSIGN_OR_RETURN(std::vector<std::string> kernel_dirs, fs::ListDir(kernels_fd.get()));

  std::set<std::string> wanted_fstx, wanted_keys;
  for (const PlannedEntry& p : plan) {
    wanted_fstx.insert(p.state->fstx);
    wanted_keys.insert(p.key);
  }
  std::vector<std::string> stale_entries;
  std::set<std::string> keys_of_kept_entries;       // what kept entries reference until rewritten
  std::map<std::string, std::string> current_name;  // fstx -> file name on disk
  for (const BootEntry& e : existing) {
    if (wanted_fstx.count(e.name.fstx) == 0) {
      stale_entries.push_back(e.file);
      continue;
    }
    keys_of_kept_entries.insert(KeyOfLinuxPath(e.linux));
    auto [it, inserted] = current_name.emplace(e.name.fstx, e.file);
    // Two files for one state (a plain and a counted one): keep the plain, drop the other.
    if (!inserted) {
      if (e.name.tries_left < 0) {
        stale_entries.push_back(it->second);
        it->second = e.file;
      } else {
        stale_entries.push_back(e.file);
      }
    }
  }
  std::vector<std::string> stale_kernels;
  std::set<std::string> present_keys;
  uint64_t stale_bytes = 0, safe_stale_bytes = 0;
  for (const std::string& name : kernel_dirs) {
    if (wanted_keys.count(name) != 0) {
      present_keys.insert(name);
      continue;
    }
    stale_kernels.push_back(name);
    const uint64_t bytes = TreeBytes(kernels_fd.get(), name);
    stale_bytes += bytes;
    if (keys_of_kept_entries.count(name) == 0) safe_stale_bytes += bytes;
  }

  // Space, before anything is written.
  uint64_t needed = kMetadataSlack;
  std::set<std::string> counted_keys;
  for (const PlannedEntry& p : plan) {
    if (present_keys.count(p.key) == 0 && counted_keys.insert(p.key).second) needed += p.bytes;
  }
  ONIX_ASSIGN_OR_RETURN(uint64_t free_bytes, FreeBytes(part_fd.get(), part));
  bool prune_first = false;
  if (free_bytes < needed) {
    if (free_bytes + safe_stale_bytes < needed) {
      return absl::ResourceExhaustedError(
          StrCat(context, ": not enough space: the new kernels need ", needed / 1024, " KiB, ",
                 free_bytes / 1024,
                 " KiB are free and removing the kernels of states beyond retention "
                 "frees ",
                 safe_stale_bytes / 1024, " KiB; the old entries are left as they were. Free ",
                 (needed - free_bytes - safe_stale_bytes + 1023) / 1024, " KiB in ", part,
                 " or retain fewer states (moss boot sync --retain N, now ", config.retain, ")"));
    }
    prune_first = true;
  }

  auto remove_stale_entries = [&]() -> absl::Status {
    for (const std::string& name : stale_entries) {
      ONIX_RETURN_IF_ERROR_CTX(fs::UnlinkAt(entries_fd.get(), name),
                               StrCat(context, ": removing stale entry ", name));
    }
    ONIX_RETURN_IF_ERROR(fs::FsyncDirAt(entries_fd.get()));
    stale_entries.clear();
    return absl::OkStatus();
  };
  // Removes the kernel directories no entry on disk references any more (plus .tmp- leftovers).
  auto remove_stale_kernels = [&](const std::set<std::string>& still_referenced) -> absl::Status {
    std::vector<std::string> keep;
    for (const std::string& name : stale_kernels) {
      if (still_referenced.count(name) != 0) {
        keep.push_back(name);
        continue;
      }
      // Renamed aside first so a crash mid-removal never leaves a half directory under a
      // key name an entry could point at.
      const std::string aside = name.rfind(kTmpPrefix, 0) == 0 ? name : StrCat(kTmpPrefix, name);
      if (aside != name) {
        ONIX_RETURN_IF_ERROR(fs::RemoveTreeAt(kernels_fd.get(), aside));
        ONIX_RETURN_IF_ERROR(fs::RenameAt(kernels_fd.get(), name, kernels_fd.get(), aside));
      }
      ONIX_RETURN_IF_ERROR_CTX(fs::RemoveTreeAt(kernels_fd.get(), aside),
                               StrCat(context, ": removing unreferenced kernel ", name));
    }
    ONIX_RETURN_IF_ERROR(fs::FsyncDirAt(kernels_fd.get()));
    stale_kernels = keep;
    return absl::OkStatus();
  };

  if (prune_first) {
    ONIX_RETURN_IF_ERROR(remove_stale_entries());
    ONIX_RETURN_IF_ERROR(remove_stale_kernels(keys_of_kept_entries));
  }

  // 1. Kernels, before any entry references them.
  for (const PlannedEntry& p : plan) {
    if (present_keys.count(p.key) != 0) continue;
    ONIX_RETURN_IF_ERROR_CTX(
        PublishKernel(kernels_fd.get(), p),
        StrCat(context, ": publishing kernel ", p.kernel.version, " of state ", p.state->fstx));
    present_keys.insert(p.key);
  }
  CrashPoint("boot-sync-kernels-published");

  // 2. Entries: an existing one keeps its name (and so its boot-counting state).
  for (const PlannedEntry& p : plan) {
    auto it = current_name.find(p.state->fstx);
    std::string name;
    if (it != current_name.end()) {
      name = it->second;
      absl::StatusOr<std::string> old = fs::ReadFileAt(entries_fd.get(), name, 1 << 20);
      if (old.ok() && *old == p.contents) continue;
    } else {
      name = StrCat("onix-", p.state->fstx,
                    config.boot_counting ? StrCat("+", config.boot_tries) : "", ".conf");
    }
    ONIX_RETURN_IF_ERROR_CTX(
        fs::WriteFileAtomicAt(entries_fd.get(), name, p.contents, 0644, fs::Durability::kFsync),
        StrCat(context, ": writing entry ", name));
    CrashPoint("boot-sync-entry-written");
  }
  CrashPoint("boot-sync-entries-written");

  // 3. loader.conf on the ESP.
  ONIX_RETURN_IF_ERROR_CTX(WriteLoaderConf(config.esp_dir), context);
  CrashPoint("boot-sync-loader-written");

  // 4. Stale entries, then the kernels nothing references any more.
  ONIX_RETURN_IF_ERROR(remove_stale_entries());
  CrashPoint("boot-sync-stale-entries-removed");
  // Leftover temp files of interrupted atomic writes.
  ONIX_ASSIGN_OR_RETURN(std::vector<std::string> entry_files, fs::ListDir(entries_fd.get()));
  for (const std::string& name : entry_files) {
    if (name.rfind(".onix-", 0) == 0 && name.find(".tmp") != std::string::npos) {
      ONIX_RETURN_IF_ERROR(fs::UnlinkAt(entries_fd.get(), name));
    }
  }
  ONIX_RETURN_IF_ERROR(remove_stale_kernels({}));
  // Every step above fsynced what it published; syncfs also flushes what the removals left
  // to writeback (on vfat the freed clusters of deleted kernels), so a power cut soon after
  // a sync finds a FAT that fsck.vfat calls clean.
  ONIX_RETURN_IF_ERROR_CTX(fs::SyncFs(entries_fd.get()), StrCat(context, ": syncfs"));
  CrashPoint("boot-sync-done");
  return absl::OkStatus();
}

}  // namespace onix::boot
