// bench/stone_bench: packs and unpacks a generated /usr-like tree as a stone and compares, in
// the same run and interleaved, with `tar -c | zstd -T0 -3` and `zstd -d | tar -x` of the
// same tree. Targets (issue 3): pack <= 1.2x, unpack <= 1.2x.
//
//   stone_bench --out results.json --workdir DIR [--quick] [--size-mib N] [--runs N]
//               [--figures pack,unpack]
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "bench/harness/harness.h"
#include "bench/lib/usr_tree.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/stone/stone.h"

namespace onix::bench {
namespace {

struct Args {
  std::string out, workdir;
  uint64_t size_mib = 500;
  int runs = 5;
  // --figures: only these groups (pack: pack and size; unpack); all when empty. Unpack needs
  // the stone and tar.zst a pack run left in --workdir.
  std::set<std::string> figures;
  bool Want(const std::string& group) const { return figures.empty() || figures.count(group); }
};

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU seconds (user + sys) of this process (all threads) or of its waited-for children: on a
// loaded machine wall time favours a multi-process pipeline, CPU time does not.
double CpuSeconds(int who) {
  struct rusage ru;
  ::getrusage(who, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

absl::StatusOr<uint64_t> FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("stat(", path, ")"));
  }
  return static_cast<uint64_t>(st.st_size);
}

// Removes `name` below `dirfd` (whatever it is) and creates it as an empty directory.
absl::Status FreshDir(int dirfd, const std::string& name) {
  ONIX_RETURN_IF_ERROR(fs::RemoveTreeAt(dirfd, name));
  return fs::MkdirAt(dirfd, name, 0755);
}

absl::Status Run(const Args& args) {
  std::error_code ec;
  std::filesystem::create_directories(args.workdir, ec);
  if (ec) return InvalidArgument(StrCat("creating ", args.workdir, ": ", ec.message()));
  ONIX_ASSIGN_OR_RETURN(UniqueFd work, fs::OpenDir(args.workdir));
  UsrTreeSpec spec;
  spec.total_bytes = args.size_mib << 20;
  const std::string tree_name = StrCat("stone-tree-", args.size_mib);
  const std::string stamp = UsrTreeStamp(spec);
  auto old = fs::ReadFileAt(work.get(), tree_name + ".stamp");
  if (!old.ok() || *old != stamp) {
    std::printf("generating a %llu MiB /usr-like tree in %s/%s\n",
                static_cast<unsigned long long>(args.size_mib), args.workdir.c_str(),
                tree_name.c_str());
    // A stale stamp must not outlive an interrupted regeneration.
    (void)fs::UnlinkAt(work.get(), tree_name + ".stamp");
    ONIX_RETURN_IF_ERROR(FreshDir(work.get(), tree_name));
    ONIX_ASSIGN_OR_RETURN(UniqueFd tfd, fs::OpenDirAt(work.get(), tree_name));
    ONIX_ASSIGN_OR_RETURN(UsrTreeStats st, GenerateUsrTree(tfd.get(), spec));
    std::printf(
        "tree: %llu files, %llu directories, %llu symlinks, %llu duplicates, %llu bytes\n",
        static_cast<unsigned long long>(st.files), static_cast<unsigned long long>(st.directories),
        static_cast<unsigned long long>(st.symlinks),
        static_cast<unsigned long long>(st.duplicates), static_cast<unsigned long long>(st.bytes));
    ONIX_RETURN_IF_ERROR(fs::WriteFileAtomicAt(work.get(), tree_name + ".stamp", stamp, 0644,
                                               fs::Durability::kNone));
  }
  const std::string w = args.workdir;
  const std::string tree = StrCat(w, "/", tree_name);
  ONIX_ASSIGN_OR_RETURN(UniqueFd tree_fd, fs::OpenDir(tree));
  const std::string stone_path = StrCat(w, "/bench.stone");
  const std::string tzst = StrCat(w, "/bench.tar.zst");

  stone::Meta meta;
  meta.name = "bench";
  meta.version = "1";
  stone::WriteOptions options;
  options.zstd_level = 3;
  options.fsync = false;  // the baseline does not fsync either

  ONIX_RETURN_IF_ERROR(WarmTree(tree));
  // Each side as a function of `cpu`: wall seconds, or CPU seconds (user + sys) of the
  // measured work only, ours from RUSAGE_SELF (all threads), the pipeline's from
  // RUSAGE_CHILDREN. Setup (removing the previous output) is never measured.
  // Both sides write a new file: publishing over the previous output would time ext4's
  // auto_da_alloc (a rename over an existing file starts writeback of the new one, and the
  // next rename then waits for the old one's pages to leave writeback: 25 ms to several
  // hundred under I/O load), which `zstd -f` (unlink + create) never meets.
  auto remove_output = [&](const std::string& name) -> absl::Status {
    absl::Status s = fs::UnlinkAt(work.get(), name);
    return absl::IsNotFound(s) ? absl::OkStatus() : s;
  };
  // The size of every output packed, by both sides: packing is deterministic, so every run
  // gives the same size, which the size figure's min and max show.
  std::vector<double> stone_sizes, tzst_sizes;
  auto onix_pack = [&](bool cpu) -> absl::StatusOr<double> {
    ONIX_RETURN_IF_ERROR(remove_output("bench.stone"));
    const double t0 = cpu ? CpuSeconds(RUSAGE_SELF) : Now();
    ONIX_RETURN_IF_ERROR(stone::WriteBinaryStone(meta, tree_fd.get(), stone_path, options));
    const double t = (cpu ? CpuSeconds(RUSAGE_SELF) : Now()) - t0;
    ONIX_ASSIGN_OR_RETURN(uint64_t bytes, FileSize(stone_path));
    stone_sizes.push_back(static_cast<double>(bytes) / (1 << 20));
    return t;
  };
  auto tar_pack = [&](bool cpu) -> absl::StatusOr<double> {
    ONIX_RETURN_IF_ERROR(remove_output("bench.tar.zst"));
    const double c0 = CpuSeconds(RUSAGE_CHILDREN);
    ONIX_ASSIGN_OR_RETURN(
        ChildRun r,
        RunShell(StrCat("tar -C '", tree, "' -cf - . | zstd -q -T0 -3 -f -o '", tzst, "'")));
    const double t = cpu ? CpuSeconds(RUSAGE_CHILDREN) - c0 : r.seconds;
    ONIX_ASSIGN_OR_RETURN(uint64_t bytes, FileSize(tzst));
    tzst_sizes.push_back(static_cast<double>(bytes) / (1 << 20));
    return t;
  };
  auto onix_unpack = [&](bool cpu) -> absl::StatusOr<double> {
    ONIX_RETURN_IF_ERROR(FreshDir(work.get(), "x-stone"));
    ONIX_ASSIGN_OR_RETURN(UniqueFd x, fs::OpenDirAt(work.get(), "x-stone"));
    const double t0 = cpu ? CpuSeconds(RUSAGE_SELF) : Now();
    ONIX_ASSIGN_OR_RETURN(stone::StoneReader r, stone::StoneReader::Open(stone_path));
    ONIX_RETURN_IF_ERROR(r.ExtractTo(x.get()));
    return (cpu ? CpuSeconds(RUSAGE_SELF) : Now()) - t0;
  };
  auto tar_unpack = [&](bool cpu) -> absl::StatusOr<double> {
    ONIX_RETURN_IF_ERROR(FreshDir(work.get(), "x-tar"));
    const double c0 = CpuSeconds(RUSAGE_CHILDREN);
    ONIX_ASSIGN_OR_RETURN(
        ChildRun r, RunShell(StrCat("zstd -q -d -c '", tzst, "' | tar -C '", w, "/x-tar' -xf -")));
    return cpu ? CpuSeconds(RUSAGE_CHILDREN) - c0 : r.seconds;
  };
  auto as = [](auto& fn, bool cpu) -> Trial { return [&fn, cpu] { return fn(cpu); }; };
  const std::string size = StrCat(args.size_mib, " MiB /usr tree");
  std::vector<Figure> figs;
  for (bool cpu : {false, true}) {
    const char* suffix = cpu ? " (cpu)" : "";
    Comparison pack{StrCat("stone pack ", size, suffix), "s", "tar -c | zstd -T0 -3", 1.2,
                    args.runs};
    if (args.Want("pack")) {
      ONIX_ASSIGN_OR_RETURN(Figure f, Compare(pack, as(onix_pack, cpu), as(tar_pack, cpu)));
      figs.push_back(f);
    }
    Comparison unpack{StrCat("stone unpack ", size, suffix), "s", "zstd -d | tar -x", 1.2,
                      args.runs};
    if (args.Want("unpack")) {
      ONIX_ASSIGN_OR_RETURN(Figure g, Compare(unpack, as(onix_unpack, cpu), as(tar_unpack, cpu)));
      figs.push_back(g);
    }
  }

  if (args.Want("pack")) {
    // Every pack of both sides above, the warm-ups included (all must be the same size).
    Figure size_fig;
    size_fig.name = StrCat("stone size ", args.size_mib, " MiB /usr tree");
    size_fig.unit = "MiB";
    size_fig.baseline = "tar.zst -3";
    size_fig.value = Median(stone_sizes);
    size_fig.baseline_value = Median(tzst_sizes);
    size_fig.ratio = size_fig.value / size_fig.baseline_value;
    size_fig.target = "<= 1.05x";
    size_fig.pass = size_fig.ratio <= 1.05;
    size_fig.runs = static_cast<int>(stone_sizes.size());
    size_fig.min = *std::min_element(stone_sizes.begin(), stone_sizes.end());
    size_fig.max = *std::max_element(stone_sizes.begin(), stone_sizes.end());
    figs.push_back(size_fig);
  }
  std::printf("%s", FormatTable(figs).c_str());
  ONIX_RETURN_IF_ERROR(FreshDir(work.get(), "x-stone"));
  ONIX_RETURN_IF_ERROR(FreshDir(work.get(), "x-tar"));
  if (!args.out.empty()) ONIX_RETURN_IF_ERROR(AppendResults(args.out, figs));
  return absl::OkStatus();
}

}  // namespace
}  // namespace onix::bench

int main(int argc, char** argv) {
  onix::bench::Args args;
  args.workdir = "build/bench/work";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--out") {
      args.out = next();
    } else if (a == "--workdir") {
      args.workdir = next();
    } else if (a == "--quick") {
      args.size_mib = 64;
      args.runs = 5;
    } else if (a == "--size-mib") {
      args.size_mib = std::strtoull(next().c_str(), nullptr, 10);
    } else if (a == "--runs") {
      args.runs = std::atoi(next().c_str());
    } else if (a == "--figures") {
      const std::string list = next();
      size_t start = 0;
      for (;;) {
        const size_t comma = list.find(',', start);
        const std::string group = list.substr(start, comma - start);
        if (group != "pack" && group != "unpack") {
          return onix::ReportStatus(
              "stone_bench", onix::InvalidArgument(onix::StrCat("--figures: unknown group '", group,
                                                                "' (pack, unpack)")));
        }
        args.figures.insert(group);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else {
      return onix::ReportStatus("stone_bench",
                                onix::InvalidArgument(onix::StrCat(
                                    "unknown argument '", a,
                                    "' (--out F --workdir D [--quick] [--size-mib N] [--runs N] "
                                    "[--figures pack,unpack])")));
    }
  }
  if (args.size_mib == 0 || args.runs < 1) {
    return onix::ReportStatus("stone_bench",
                              onix::InvalidArgument("--size-mib and --runs must be positive"));
  }
  return onix::ReportStatus("stone_bench", onix::bench::Run(args));
}
