// `moss boot status|sync|install|mark-good`: the machine's /boot as moss owns it (boot/).
#include <string.h>

#include <cstdio>
#include <memory>
#include <string>

#include "boot/bls/booted.h"
#include "boot/bls/entries.h"
#include "boot/bls/states.h"
#include "boot/bls/sync.h"
#include "boot/systemd_boot/install.h"
#include "moss/base/json.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/cli/commands.h"
#include "nlohmann/json.hpp"

namespace onix::moss_cli {
namespace {

struct BootRequest {
  std::string esp;
  std::string xbootldr;
  int retain = 4;
  bool no_boot_counting = false;
  bool no_bootctl = false;
  std::string fstx;
  int tries = 0;  // 0: the machine's (ROOT/etc/kernel/tries, else 3)
  std::string cmdline;
  std::string efivars;
};

// The layout from --esp/--xbootldr, else detected from the root (boot/bls/states.h).
boot::BootConfig ConfigFor(const GlobalOptions& g, const BootRequest& req) {
  boot::BootConfig config = boot::DetectBootConfig(g.root);
  if (!req.esp.empty()) {
    config.esp_dir = req.esp;
    config.xbootldr_dir = req.xbootldr;
  } else if (!req.xbootldr.empty()) {
    config.xbootldr_dir = req.xbootldr;
  }
  config.retain = req.retain;
  config.boot_counting = !req.no_boot_counting;
  if (req.tries != 0) {
    config.boot_tries = req.tries;
    config.boot_tries_source = "--tries";
  }
  return config;
}

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

absl::Status RunStatus(const GlobalOptions& g, const BootRequest& req) {
  const boot::BootConfig config = ConfigFor(g, req);
  const std::string part = boot::EntriesPartition(config);
  ONIX_ASSIGN_OR_RETURN(std::vector<boot::BootEntry> entries, boot::ListOnixEntries(part));
  std::vector<boot::StateBootInfo> states;
  absl::StatusOr<std::vector<boot::StateBootInfo>> found = boot::DiscoverStates(g.root);
  if (found.ok()) states = *found;
  std::string loader = "none";
  for (const char* p : {"/EFI/systemd/systemd-bootx64.efi", "/EFI/BOOT/BOOTX64.EFI"}) {
    if (Exists(StrCat(config.esp_dir, p))) {
      loader = StrCat(config.esp_dir, p);
      break;
    }
  }
  std::string default_line = "none";
  absl::StatusOr<std::string> conf =
      boot::ReadFilePath(StrCat(config.esp_dir, "/loader/loader.conf"), 1 << 20);
  if (conf.ok()) {
    size_t pos = conf->rfind("\ndefault ");
    if (conf->rfind("default ", 0) == 0)
      pos = 0;
    else if (pos != std::string::npos)
      ++pos;
    if (pos != std::string::npos) {
      default_line = conf->substr(pos + 8, conf->find('\n', pos) - pos - 8);
    }
  }
  auto state_of = [&](const std::string& fstx) -> std::string {
    for (const auto& s : states) {
      if (s.fstx == fstx) return s.active ? "active" : "archived";
    }
    return "missing";
  };
  // The entry `default onix-*` resolves to, the way systemd-boot orders the menu: entries with
  // tries left first, then sort-key ascending, then version descending.
  std::string default_entry;
  const boot::BootEntry* best = nullptr;
  for (const auto& e : entries) {
    if (best == nullptr) {
      best = &e;
      continue;
    }
    const bool e_bad = e.name.tries_left == 0, best_bad = best->name.tries_left == 0;
    if (e_bad != best_bad) {
      if (!e_bad) best = &e;
    } else if (e.sort_key != best->sort_key) {
      if (e.sort_key < best->sort_key) best = &e;
    } else if (::strverscmp(e.version.c_str(), best->version.c_str()) > 0) {
      best = &e;
    }
  }
  if (best != nullptr) default_entry = best->file;
  if (g.json) {
    nlohmann::json j;
    j["esp"] = config.esp_dir;
    j["xbootldr"] = config.xbootldr_dir;
    j["loader"] = loader;
    j["default"] = default_line;
    j["default_entry"] = default_entry;
    j["entries"] = nlohmann::json::array();
    for (const auto& e : entries) {
      j["entries"].push_back({{"file", e.file},
                              {"fstx", e.name.fstx},
                              {"state", state_of(e.name.fstx)},
                              {"title", e.title},
                              {"linux", e.linux},
                              {"kernel_present", Exists(StrCat(part, e.linux))},
                              {"tries_left", e.name.tries_left},
                              {"tries_done", e.name.tries_done},
                              {"options", e.options}});
    }
    std::printf("%s\n", DumpJson(j, 2).c_str());
    return absl::OkStatus();
  }
  std::printf("ESP:       %s\n", config.esp_dir.c_str());
  std::printf("XBOOTLDR:  %s\n", config.xbootldr_dir.empty() ? "(none: entries on the ESP)"
                                                             : config.xbootldr_dir.c_str());
  std::printf("loader:    %s\n", loader.c_str());
  std::printf("default:   %s -> %s\n", default_line.c_str(),
              default_entry.empty() ? "(no entry)" : default_entry.c_str());
  std::printf("entries:   %zu\n", entries.size());
  for (const auto& e : entries) {
    std::string tries = "good";
    if (e.name.tries_left >= 0) {
      tries = e.name.tries_left == 0 ? "bad" : StrCat(e.name.tries_left, " tries left");
    }
    std::printf("  %-28s boots %s (%s), %s%s\n", e.file.c_str(), e.name.fstx.c_str(),
                state_of(e.name.fstx).c_str(), tries.c_str(),
                Exists(StrCat(part, e.linux)) ? "" : ", KERNEL MISSING");
  }
  return absl::OkStatus();
}

absl::Status RunSync(const GlobalOptions& g, const BootRequest& req) {
  const boot::BootConfig config = ConfigFor(g, req);
  ONIX_ASSIGN_OR_RETURN(std::vector<boot::StateBootInfo> states, boot::DiscoverStates(g.root));
  if (g.dry_run) {
    for (const auto& s : states) {
      std::printf("would sync state %s%s\n", s.fstx.c_str(), s.active ? " (active)" : "");
    }
    return absl::OkStatus();
  }
  ONIX_RETURN_IF_ERROR(boot::SyncBootEntries(config, states));
  ONIX_ASSIGN_OR_RETURN(std::vector<boot::BootEntry> entries,
                        boot::ListOnixEntries(boot::EntriesPartition(config)));
  std::printf("synced %zu boot entries in %s\n", entries.size(),
              boot::EntriesPartition(config).c_str());
  return absl::OkStatus();
}

absl::Status RunInstall(const GlobalOptions& g, const BootRequest& req) {
  const boot::BootConfig config = ConfigFor(g, req);
  boot::InstallOptions opts;
  opts.esp_dir = config.esp_dir;
  opts.xbootldr_dir = config.xbootldr_dir;
  opts.use_bootctl = !req.no_bootctl;
  ONIX_ASSIGN_OR_RETURN(boot::InstallResult result, boot::InstallSystemdBoot(opts));
  std::printf("installed systemd-boot into %s (%s)\n", config.esp_dir.c_str(),
              result.used_bootctl ? "bootctl install" : "copied the EFI binary");
  return absl::OkStatus();
}

absl::Status RunMarkGood(const GlobalOptions& g, const BootRequest& req) {
  const boot::BootConfig config = ConfigFor(g, req);
  // The running machine describes its boot in /proc and efivarfs; another --root does not,
  // unless a test hands in its own files.
  boot::BootedSources sources;
  if (g.root == "/") sources = boot::LiveBootedSources();
  if (!req.cmdline.empty()) sources.cmdline_path = req.cmdline;
  if (!req.efivars.empty()) sources.efivars_dir = req.efivars;
  ONIX_ASSIGN_OR_RETURN(boot::MarkGoodResult r, boot::MarkBootedGood(config, req.fstx, sources));
  std::printf("marked the boot entry of state %s good (booted: %s)\n", r.fstx.c_str(),
              r.source.c_str());
  if (r.fell_back) {
    std::printf("this boot fell back to state %s: it is the default entry again\n", r.fstx.c_str());
  }
  for (const std::string& bad : r.bad_entries) {
    std::printf("bad entry (boot tries used up): %s\n", bad.c_str());
  }
  return absl::OkStatus();
}

void AddLayoutOptions(CLI::App* cmd, BootRequest* req) {
  cmd->add_option("--esp", req->esp,
                  "ESP directory (default: ROOT/efi if it is one, else ROOT/boot)");
  cmd->add_option("--xbootldr", req->xbootldr, "XBOOTLDR directory holding entries and kernels");
}

}  // namespace

void AddBootCommand(CLI::App& app, Context& ctx) {
  auto req = std::make_shared<BootRequest>();
  CLI::App* boot = app.add_subcommand("boot", "Boot entries, systemd-boot and boot assessment");
  boot->require_subcommand(1);

  CLI::App* status = boot->add_subcommand("status", "Show ESP, XBOOTLDR, loader and entries");
  DryRunSafe(ctx, status);
  AddLayoutOptions(status, req.get());
  status->add_flag("--json", ctx.global.json, "Machine-readable output");
  status->callback(
      [&ctx, req] { ctx.action = [&ctx, req] { return RunStatus(ctx.global, *req); }; });

  CLI::App* sync = boot->add_subcommand("sync", "Regenerate boot entries from the states");
  DryRunSafe(ctx, sync);
  AddLayoutOptions(sync, req.get());
  sync->add_option("--retain", req->retain, "Archived states that keep an entry")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sync->add_flag("--no-boot-counting", req->no_boot_counting, "Write new entries without +N");
  sync->add_option("--tries", req->tries,
                   "Boot tries of new entries (default: ROOT/etc/kernel/tries, else 3)")
      ->check(CLI::Range(1, 99));
  sync->callback([&ctx, req] { ctx.action = [&ctx, req] { return RunSync(ctx.global, *req); }; });

  CLI::App* install = boot->add_subcommand("install", "Install systemd-boot into the ESP");
  AddLayoutOptions(install, req.get());
  install->add_flag("--no-bootctl", req->no_bootctl, "Copy the EFI binary instead of bootctl");
  install->callback(
      [&ctx, req] { ctx.action = [&ctx, req] { return RunInstall(ctx.global, *req); }; });

  CLI::App* good = boot->add_subcommand("mark-good", "Mark the booted state's entry good");
  AddLayoutOptions(good, req.get());
  good->add_option("--fstx", req->fstx,
                   "State whose entry to mark (default: the booted one, which must be active)");
  good->add_option("--cmdline", req->cmdline,
                   "Kernel command line file naming the booted moss.fstx= (default on /: "
                   "/proc/cmdline)");
  good->add_option("--efivars", req->efivars,
                   "efivarfs directory with LoaderEntrySelected (default on /: "
                   "/sys/firmware/efi/efivars)");
  good->callback(
      [&ctx, req] { ctx.action = [&ctx, req] { return RunMarkGood(ctx.global, *req); }; });
}

}  // namespace onix::moss_cli
