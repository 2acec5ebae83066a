#include "boot/bls/booted.h"

#include "boot/bls/entries.h"
#include "boot/bls/states.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::boot {
namespace {

constexpr std::string_view kLoaderEntrySelected =
    "LoaderEntrySelected-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f";

std::string UnderRoot(std::string_view root, std::string_view rel) {
  return root == "/" ? StrCat("/", rel) : StrCat(root, "/", rel);
}

// The last moss.fstx= of a command line (the kernel's rule for repeated parameters).
std::string FstxFromCmdline(std::string_view cmdline) {
  std::string found;
  size_t pos = 0;
  while (pos < cmdline.size()) {
    size_t start = cmdline.find_first_not_of(" \t\n", pos);
    if (start == std::string_view::npos) break;
    size_t end = cmdline.find_first_of(" \t\n", start);
    if (end == std::string_view::npos) end = cmdline.size();
    std::string_view word = cmdline.substr(start, end - start);
    if (word.substr(0, 10) == "moss.fstx=") found = std::string(word.substr(10));
    pos = end;
  }
  return found;
}

}  // namespace

BootedSources LiveBootedSources() { return {"/proc/cmdline", "/sys/firmware/efi/efivars"}; }

absl::StatusOr<std::string> ReadLoaderEntrySelected(std::string_view efivars_dir) {
  const std::string path = StrCat(efivars_dir, "/", kLoaderEntrySelected);
  ONIX_ASSIGN_OR_RETURN(std::string raw, ReadFilePath(path, 4096));
  if (raw.size() < 4 || raw.size() % 2 != 0) {
    return InvalidArgument(StrCat("reading ", path, ": not a UTF-16 EFI variable"));
  }
  std::string id;
  for (size_t i = 4; i + 1 < raw.size(); i += 2) {
    const unsigned c = static_cast<unsigned char>(raw[i]) |
                       (static_cast<unsigned>(static_cast<unsigned char>(raw[i + 1])) << 8);
    if (c == 0) break;
    // Entry ids are file names; ONIX's are ASCII. Anything else is kept visible, not decoded.
    id.push_back(c < 0x80 ? static_cast<char>(c) : '?');
  }
  return id;
}

absl::StatusOr<BootedState> FindBootedState(std::string_view root, const BootedSources& sources) {
  if (!sources.efivars_dir.empty()) {
    absl::StatusOr<std::string> id = ReadLoaderEntrySelected(sources.efivars_dir);
    if (id.ok()) {
      if (std::optional<EntryName> name = ParseEntryFileName(*id)) {
        return BootedState{name->fstx, StrCat("LoaderEntrySelected=", *id)};
      }
    } else if (!absl::IsNotFound(id.status())) {
      return id.status();
    }
  }
  if (!sources.cmdline_path.empty()) {
    absl::StatusOr<std::string> cmdline = ReadFilePath(sources.cmdline_path, 1 << 16);
    if (!cmdline.ok() && !absl::IsNotFound(cmdline.status())) return cmdline.status();
    if (cmdline.ok()) {
      std::string fstx = FstxFromCmdline(*cmdline);
      if (!fstx.empty()) {
        return BootedState{fstx, StrCat("moss.fstx= in ", sources.cmdline_path)};
      }
    }
  }
  ONIX_ASSIGN_OR_RETURN(std::string active, ReadTreeFstx(UnderRoot(root, "usr")));
  return BootedState{active, "the active state (no boot information)"};
}

absl::StatusOr<MarkGoodResult> MarkBootedGood(const BootConfig& raw_config, std::string_view fstx,
                                              const BootedSources& sources) {
  const BootConfig config = WithDefaults(raw_config);
  MarkGoodResult result;
  if (!fstx.empty()) {
    result.fstx = std::string(fstx);
    result.source = "--fstx";
  } else {
    ONIX_ASSIGN_OR_RETURN(BootedState booted, FindBootedState(config.root, sources));
    ONIX_ASSIGN_OR_RETURN(std::string active, ReadTreeFstx(UnderRoot(config.root, "usr")));
    if (booted.fstx != active) {
      return FailedPrecondition(
          StrCat("marking the booted entry good: this boot started state ", booted.fstx, " (",
                 booted.source, ") but the active state is ", active,
                 ": the initrd did not activate it (does its initramfs run onix-select-fstx?); "
                 "nothing was marked"));
    }
    result.fstx = booted.fstx;
    result.source = booted.source;
  }
  const std::string part = EntriesPartition(config);
  ONIX_RETURN_IF_ERROR(MarkEntryGood(part, result.fstx));

  ONIX_ASSIGN_OR_RETURN(std::vector<BootEntry> entries, ListOnixEntries(part));
  for (const BootEntry& e : entries) {
    if (e.name.tries_left == 0) {
      result.bad_entries.push_back(e.file);
      if (e.sort_key == "onix-0" && e.name.fstx != result.fstx) result.fell_back = true;
    }
  }
  if (result.fell_back) {
    // systemd-boot skipped the bad entry and started the next one, whose moss.fstx= the initrd
    // made active. Regenerating the entries makes that state the one `default onix-*` picks by
    // sort-key, so the machine stays healed (and `onix status` agrees) after this boot too.
    ONIX_ASSIGN_OR_RETURN(std::vector<StateBootInfo> states, DiscoverStates(config.root));
    ONIX_RETURN_IF_ERROR_CTX(SyncBootEntries(config, states),
                             StrCat("making state ", result.fstx, " the default after a fallback"));
  }
  return result;
}

}  // namespace onix::boot
