// bench/vm_bench: the VM figures of issue 14, through the same tools a user runs:
//   base image build from a warm cache   tools/quarry image stones/profiles/base.yaml   (< 60 s)
//                                        minus its wait for another quarry's lock
//   boot to `onix status`                a UEFI boot of the base test image under QEMU,
//                                        named with the accelerator (KVM or TCG)     (< 120 s)
// Both are absolute figures (no baseline exists); the warm-up run fills the caches (stones,
// repository, the cached test image) and is not counted. Run from the repository root.
//
//   vm_bench --out results.json --workdir DIR [--quick] [--runs N]
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "bench/harness/harness.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::bench {
namespace {

struct Args {
  std::string out, workdir = "build/bench/work";
  int runs = 5;
};

absl::Status Run(const Args& a) {
  std::error_code ec;
  if (::access("tools/quarry", X_OK) != 0 || ::access("stones/profiles/base.yaml", R_OK) != 0) {
    return FailedPrecondition("run vm_bench from the ONIX repository root (tools/bench does)");
  }
  const std::string work = std::filesystem::absolute(StrCat(a.workdir, "/vm"), ec).string();
  std::filesystem::create_directories(work, ec);
  if (ec) return InvalidArgument(StrCat("creating ", work, ": ", ec.message()));

  const std::string image_log = StrCat(work, "/image.log");
  ONIX_ASSIGN_OR_RETURN(
      Figure image, Absolute("VM base image build from a warm cache (tools/quarry image base)", "s",
                             a.runs, 60, [&]() -> absl::StatusOr<double> {
                               ONIX_ASSIGN_OR_RETURN(
                                   ChildRun r,
                                   RunShell(StrCat("tools/quarry image stones/profiles/base.yaml '",
                                                   work, "/base.img' --root '", work,
                                                   "/base-root' >'", image_log, "' 2>&1")));
                               // Waiting for another tools/quarry (whose lock everyone on the
                               // machine shares) is not building; quarry reports the wait.
                               std::ifstream log(image_log);
                               std::string line;
                               double waited = 0;
                               while (std::getline(log, line)) {
                                 const size_t at = line.find("lock wait ");
                                 if (at != std::string::npos)
                                   waited += std::atof(line.c_str() + at + 10);
                               }
                               return r.seconds - waited;
                             }));
  std::printf("%s", FormatTable({image}).c_str());
  std::fflush(stdout);
  // Each figure is kept as soon as it is measured: a failed boot must not lose the image time.
  if (!a.out.empty()) ONIX_RETURN_IF_ERROR(AppendResults(a.out, {image}));

  std::string accel = "?";
  const std::string boot_out = StrCat(work, "/boot.out"), boot_log = StrCat(work, "/boot.log");
  ONIX_ASSIGN_OR_RETURN(
      Figure boot,
      Absolute("VM boot to onix status (UEFI)", "s", a.runs, 120, [&]() -> absl::StatusOr<double> {
        absl::StatusOr<ChildRun> r = RunShell(StrCat("bench/vm_bench/boot_to_status.sh '", work,
                                                     "' >'", boot_out, "' 2>'", boot_log, "'"));
        if (!r.ok()) return Annotate(r.status(), StrCat("see ", boot_log));
        std::ifstream in(boot_out);
        double seconds = 0;
        if (!(in >> seconds >> accel)) return Internal(StrCat("no figure in ", boot_out));
        return seconds;
      }));
  for (char& c : accel) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  boot.name = StrCat("VM boot to onix status (UEFI, ", accel, ")");
  std::printf("%s", FormatTable({boot}).c_str());
  if (!a.out.empty()) ONIX_RETURN_IF_ERROR(AppendResults(a.out, {boot}));
  return absl::OkStatus();
}

}  // namespace
}  // namespace onix::bench

int main(int argc, char** argv) {
  onix::bench::Args args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--out") {
      args.out = next();
    } else if (a == "--workdir") {
      args.workdir = next();
    } else if (a == "--quick") {
      args.runs = 2;
    } else if (a == "--runs") {
      args.runs = std::atoi(next().c_str());
    } else {
      return onix::ReportStatus("vm_bench", onix::InvalidArgument(onix::StrCat(
                                                "unknown argument '", a,
                                                "' (--out F --workdir D [--quick] [--runs N])")));
    }
  }
  if (args.runs < 1) {
    return onix::ReportStatus("vm_bench", onix::InvalidArgument("--runs must be positive"));
  }
  return onix::ReportStatus("vm_bench", onix::bench::Run(args));
}
