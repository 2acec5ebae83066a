// Reading and renaming ONIX's BLS Type #1 entries (onix-<fstx>[+LEFT[-DONE]].conf) and the
// crash-point switch shared by the boot publish steps.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace onix::boot {

// A parsed entry file name. tries_left/tries_done are -1 when the name has no counter
// (a plain onix-<fstx>.conf: assessed good, or written with boot counting off).
struct EntryName {
  std::string fstx;
  int tries_left = -1;
  int tries_done = -1;
};

// Parses "onix-<fstx>.conf", "onix-<fstx>+3.conf" and "onix-<fstx>+1-2.conf" (the names
// systemd-boot's boot assessment produces). Returns nullopt for anything else.
std::optional<EntryName> ParseEntryFileName(std::string_view file);

// One entry file on disk with the keys ONIX writes.
struct BootEntry {
  std::string file;  // file name in loader/entries
  EntryName name;
  std::string title, version, sort_key, linux, initrd, options;
};

// Parses the "key value" lines of an entry ('#' comments and unknown keys ignored).
BootEntry ParseEntry(std::string file, std::string_view text);

// Lists every onix-*.conf entry in <partition>/loader/entries, sorted by file name. A missing
// entries directory is an empty list.
absl::StatusOr<std::vector<BootEntry>> ListOnixEntries(std::string_view partition);

// Marks the entry of `fstx` in <partition>/loader/entries as good: renames
// onix-<fstx>+L[-D].conf to onix-<fstx>.conf (renameat2 RENAME_NOREPLACE, then directory
// fsync). Already plain is OK. NotFound when the state has no entry. Commit point: the
// rename; a crash leaves either the counted name or the plain one, never both or neither.
absl::Status MarkEntryGood(std::string_view partition, std::string_view fstx);

// Writes <esp_dir>/loader/loader.conf with "default onix-*" (the active state's entry sorts
// first, see SyncBootEntries), keeping every other line the admin set, or "timeout 3" and
// "editor no" when there were none. Atomic (temp + fsync + rename + directory fsync); a crash
// leaves the old file or the new one. Unchanged content is not rewritten.
absl::Status WriteLoaderConf(std::string_view esp_dir);

// Reads the whole regular file at the absolute (or cwd-relative) `path`, opening its directory
// first so fs::ReadFileAt's checks apply to the last component. NotFound when missing.
absl::StatusOr<std::string> ReadFilePath(const std::string& path, size_t max_size = 64u << 20);

// Makes `name` (a file or directory in `dirfd`) durable as it is now, after a rename or a
// rewrite: fsyncs `name` itself, then `dirfd`. The first matters on vfat (the ESP): its
// directory slot (start cluster, size) is written only with the file's inode, which fsync of
// the directory leaves dirty, while any fsync on that filesystem writes the whole FAT; a power
// cut in between leaves the name pointing at clusters the FAT calls free (0 bytes after fsck).
absl::Status FsyncNameAt(int dirfd, std::string_view name);

// SIGKILLs the calling process when $MOSS_CRASH_AT equals `point`; does nothing otherwise.
// The crash tests use it to prove each publish step leaves a consistent set.
void CrashPoint(std::string_view point);

}  // namespace onix::boot
