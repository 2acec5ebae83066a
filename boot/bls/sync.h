// Boot entries from machine states: regenerates the BLS Type #1 entries, loader.conf and the
// content-addressed kernel copies of /boot (and the ESP) from the list of moss states.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace onix::boot {

// One machine state as the boot layer sees it.
struct StateBootInfo {
  std::string fstx;  // "2-bbbb"
  // Absolute path of that state's usr tree: ROOT/usr for the active one,
  // ROOT/.moss/root/<fstx>/usr for archived ones.
  std::string usr_dir;
  int64_t created_unix = 0;  // orders the archived states for retention (newest first)
  bool active = false;       // exactly one state should be active
};

struct BootConfig {
  std::string root;          // machine root ("/" on a real machine, a temp dir in tests)
  std::string esp_dir;       // default: <root>/boot (ESP == /boot); or <root>/efi with XBOOTLDR
  std::string xbootldr_dir;  // empty when /boot is the ESP
  int retain = 4;            // entries for the active state + the last N retained states
  std::string os_name = "ONIX";
  bool boot_counting = true;  // new entries written as onix-<fstx>+<boot_tries>.conf
  // Boot tries of a new entry (systemd-boot boot assessment), 1..99. DetectBootConfig reads it
  // from ROOT/etc/kernel/tries (systemd kernel-install's file) when that exists.
  int boot_tries = 3;
  // Where boot_tries came from, for error messages ("" = the default).
  std::string boot_tries_source;
};

// Where a state's kernel lives inside its usr tree (docs/boot.md): the highest version
// directory usr/lib/kernel/<version>/ holding a `vmlinuz` (and optionally an `initrd`).
struct StateKernel {
  std::string version;  // "6.1.0-56-amd64"
  std::string vmlinuz;  // absolute path
  std::string initrd;   // absolute path, empty when the state ships none
};

// Finds the kernel of the usr tree `usr_dir`; NotFound when the tree has none.
absl::StatusOr<StateKernel> FindStateKernel(std::string_view usr_dir);

// The kernel command line declared for a state: ROOT/etc/kernel/cmdline (the admin's) if it
// exists, else <usr_dir>/lib/kernel/cmdline, else empty; whitespace collapsed to single
// spaces and any moss.fstx= token dropped (sync appends its own).
absl::StatusOr<std::string> DeclaredCmdline(std::string_view root, std::string_view usr_dir);

// The directory that holds entries and kernels: XBOOTLDR when configured, else the ESP.
std::string EntriesPartition(const BootConfig& config);

// Returns `config` with esp_dir defaulted to <root>/boot when empty.
BootConfig WithDefaults(BootConfig config);

// Regenerates /boot from the states:
//  * kernel+initrd of each retained state with a kernel are copied by content to
//    <part>/onix/<key>/{vmlinuz,initrd} (key = first 16 hex digits of a SHA-256 over both
//    files' digests), so states with the same kernel share one copy;
//  * one Type #1 entry <part>/loader/entries/onix-<fstx>[+3].conf per retained state that has
//    a kernel (the active state + the `retain` newest archived ones). An entry that exists
//    keeps its file name (and so its boot-counting state); new ones get "+<boot_tries>" when
//    boot_counting is set (InvalidArgument, before anything is written, when boot_tries is
//    not 1..99). The active entry gets sort-key "onix-0", the others "onix-1", so
//    it is the top of the menu and the one `default onix-*` picks, while a state that failed
//    its boot tries sorts last and the next one boots instead (automatic fallback);
//  * <esp>/loader/loader.conf gets "default onix-*" (other lines the admin set are kept);
//  * stale onix-* entries and unreferenced <part>/onix/<key> directories are removed.
// States without a kernel in their tree get no entry (not an error).
//
// Space: before anything is written, the bytes of the new kernel copies are checked against
// the free space of <part> plus what removing the stale kernels frees. If they do not fit,
// nothing is touched and ResourceExhausted names the sizes and what to prune. If they fit only
// after pruning, stale entries and then their kernels are removed first.
//
// Crash behaviour: every file is written atomically (temp + fsync + rename + directory fsync)
// and in an order that keeps the set consistent at every instant: kernel directories are
// published (renamed from .tmp-<key>) before an entry references them, entries are written
// before loader.conf, and stale entries are removed before the kernels they reference. A
// crash leaves the old set, the new set, or a mix in which every entry's files exist and the
// default matches an entry; leftover .tmp-* files are removed by the next sync.
// `MOSS_CRASH_AT=<point>` in the environment SIGKILLs the process at that point (the crash
// tests' switch; see kBootSyncCrashPoints).
//
// Pre-conditions: the states' usr trees are not modified during the call (moss holds its root
// lock). Concurrent syncs of one partition serialize on flock(<part>/loader/.moss-boot.lock).
absl::Status SyncBootEntries(const BootConfig& config, const std::vector<StateBootInfo>& states);

// The MOSS_CRASH_AT points SyncBootEntries honours, in the order it passes them.
extern const char* const kBootSyncCrashPoints[];
extern const size_t kBootSyncCrashPointCount;

}  // namespace onix::boot
