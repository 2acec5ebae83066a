// `moss inspect FILE.stone [--json] [--layout] [--check]`: header, meta, dependencies,
// payload sizes and compression ratio; optionally the layout and a full verification.
#include <cstdio>
#include <string>

#include "moss/base/json.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/cli/commands.h"
#include "moss/stone/stone.h"
#include "nlohmann/json.hpp"

namespace onix::moss_cli {
namespace {

struct InspectRequest {
  std::string file;
  bool json = false;
  bool layout = false;
  bool check = false;
};

std::string_view CompressionName(stone::Compression c) {
  return c == stone::Compression::kZstd ? "zstd" : "none";
}

char KindChar(stone::FileKind k) {
  switch (k) {
    case stone::FileKind::kRegular:
      return 'f';
    case stone::FileKind::kSymlink:
      return 'l';
    case stone::FileKind::kDirectory:
      return 'd';
  }
  return '?';
}

nlohmann::json DepsJson(const std::vector<stone::Dependency>& deps) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& d : deps) out.push_back(d.ToString());
  return out;
}

nlohmann::json MetaJson(const stone::Meta& m) {
  return {{"name", m.name},
          {"version", m.version},
          {"source_release", m.source_release},
          {"build_release", m.build_release},
          {"architecture", m.architecture},
          {"summary", m.summary},
          {"description", m.description},
          {"homepage", m.homepage},
          {"licenses", m.licenses},
          {"source_id", m.source_id},
          {"depends", DepsJson(m.depends)},
          {"provides", DepsJson(m.provides)},
          {"conflicts", DepsJson(m.conflicts)},
          {"replaces", DepsJson(m.replaces)},
          {"allow_setid", m.allow_setid},
          {"inputs", m.inputs}};
}

std::string Mode(uint32_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", mode);
  return buf;
}

void PrintDeps(const char* label, const std::vector<stone::Dependency>& deps) {
  if (deps.empty()) return;
  std::printf("%s:\n", label);
  for (const auto& d : deps) std::printf("  %s\n", EscapeControl(d.ToString()).c_str());
}

void PrintMeta(const stone::Meta& m) {
  std::printf("name:          %s\n", EscapeControl(m.name).c_str());
  std::printf("version:       %s-%llu-%llu\n", EscapeControl(m.version).c_str(),
              static_cast<unsigned long long>(m.source_release),
              static_cast<unsigned long long>(m.build_release));
  if (!m.architecture.empty())
    std::printf("architecture:  %s\n", EscapeControl(m.architecture).c_str());
  if (!m.summary.empty()) std::printf("summary:       %s\n", EscapeControl(m.summary).c_str());
  if (!m.description.empty())
    std::printf("description:   %s\n", EscapeLines(m.description, 15).c_str());
  if (!m.homepage.empty()) std::printf("homepage:      %s\n", EscapeControl(m.homepage).c_str());
  if (!m.licenses.empty()) {
    std::string l;
    for (const auto& x : m.licenses) l += (l.empty() ? "" : ", ") + x;
    std::printf("licenses:      %s\n", EscapeControl(l).c_str());
  }
  if (!m.source_id.empty()) std::printf("source id:     %s\n", EscapeControl(m.source_id).c_str());
  if (m.allow_setid) std::printf("allow setid:   yes\n");
  PrintDeps("depends", m.depends);
  PrintDeps("provides", m.provides);
  PrintDeps("conflicts", m.conflicts);
  PrintDeps("replaces", m.replaces);
  if (!m.inputs.empty()) {
    std::printf("inputs:\n");
    for (const auto& in : m.inputs) std::printf("  %s\n", EscapeControl(in).c_str());
  }
}

absl::Status RunInspect(const InspectRequest& req) {
  ONIX_ASSIGN_OR_RETURN(stone::StoneReader r, stone::StoneReader::Open(req.file));
  uint64_t regular = 0, dirs = 0, links = 0, installed = 0;
  for (const auto& e : r.layout()) {
    if (e.kind == stone::FileKind::kRegular) {
      ++regular;
      installed += e.size;
    }
    dirs += e.kind == stone::FileKind::kDirectory;
    links += e.kind == stone::FileKind::kSymlink;
  }
  uint64_t stored = 0, plain = 0;
  for (const auto& p : r.payloads()) {
    stored += p.stored_length;
    plain += p.plain_length;
  }
  const double ratio = stored == 0 ? 1.0 : static_cast<double>(plain) / static_cast<double>(stored);
  absl::Status check = absl::OkStatus();
  if (req.check) check = r.Verify();

  if (req.json) {
    nlohmann::json j;
    j["file"] = req.file;
    j["type"] = std::string(stone::StoneTypeName(r.type()));
    j["format_version"] = r.format_version();
    j["size"] = r.file_size();
    nlohmann::json payloads = nlohmann::json::array();
    for (const auto& p : r.payloads()) {
      payloads.push_back({{"kind", std::string(stone::PayloadKindName(p.kind))},
                          {"compression", std::string(CompressionName(p.compression))},
                          {"records", p.record_count},
                          {"stored_length", p.stored_length},
                          {"plain_length", p.plain_length},
                          {"checksum", p.checksum.Hex()}});
    }
    j["payloads"] = payloads;
    j["compression_ratio"] = ratio;
    if (r.type() == stone::StoneType::kIndex) {
      nlohmann::json recs = nlohmann::json::array();
      for (const auto& rec : r.index_records()) {
        recs.push_back({{"meta", MetaJson(rec.meta)},
                        {"file_name", rec.file_name},
                        {"stone_size", rec.stone_size},
                        {"stone_digest", rec.stone_digest.Hex()}});
      }
      j["packages"] = recs;
    } else {
      j["meta"] = MetaJson(r.meta());
      if (r.source_date_epoch() != 0) j["source_date_epoch"] = r.source_date_epoch();
      j["files"] = {{"regular", regular},
                    {"directories", dirs},
                    {"symlinks", links},
                    {"unique_contents", r.content_index().size()},
                    {"installed_size", installed}};
      if (req.layout) {
        nlohmann::json layout = nlohmann::json::array();
        for (const auto& e : r.layout()) {
          nlohmann::json x = {{"path", e.path},
                              {"type", std::string(1, KindChar(e.kind))},
                              {"mode", Mode(e.mode)},
                              {"uid", e.uid},
                              {"gid", e.gid}};
          if (e.kind == stone::FileKind::kRegular) {
            x["size"] = e.size;
            x["digest"] = e.digest.Hex();
          }
          if (e.kind == stone::FileKind::kSymlink) x["target"] = e.target;
          layout.push_back(x);
        }
        j["layout"] = layout;
      }
    }
    if (req.check) {
      j["check"] = check.ok() ? "ok" : std::string(check.message());
    }
    // Meta strings come from the file: replace invalid UTF-8 instead of throwing.
    std::printf("%s\n", DumpJson(j, 2).c_str());
    return check;
  }

  std::printf("file:          %s\n", EscapeControl(req.file).c_str());
  std::printf("type:          %s stone, format v%u, %llu bytes\n",
              std::string(stone::StoneTypeName(r.type())).c_str(), r.format_version(),
              static_cast<unsigned long long>(r.file_size()));
  if (r.type() == stone::StoneType::kIndex) {
    std::printf("packages:      %zu\n", r.index_records().size());
    for (const auto& rec : r.index_records()) {
      std::printf("  %s  %s  %llu bytes  %s\n", rec.meta.Nvr().c_str(),
                  EscapeControl(rec.file_name).c_str(),
                  static_cast<unsigned long long>(rec.stone_size), rec.stone_digest.Hex().c_str());
    }
  } else {
    PrintMeta(r.meta());
    if (r.source_date_epoch() != 0) {
      std::printf("build time:    %llu (SOURCE_DATE_EPOCH)\n",
                  static_cast<unsigned long long>(r.source_date_epoch()));
    }
    std::printf(
        "files:         %llu regular, %llu directories, %llu symlinks; %zu unique "
        "contents, %llu bytes installed\n",
        static_cast<unsigned long long>(regular), static_cast<unsigned long long>(dirs),
        static_cast<unsigned long long>(links), r.content_index().size(),
        static_cast<unsigned long long>(installed));
  }
  std::printf("payloads:\n");
  for (const auto& p : r.payloads()) {
    std::printf("  %-9s %-4s %8u records %12llu stored %12llu plain\n",
                std::string(stone::PayloadKindName(p.kind)).c_str(),
                std::string(CompressionName(p.compression)).c_str(), p.record_count,
                static_cast<unsigned long long>(p.stored_length),
                static_cast<unsigned long long>(p.plain_length));
  }
  std::printf("compression:   %.2fx (%llu plain / %llu stored bytes)\n", ratio,
              static_cast<unsigned long long>(plain), static_cast<unsigned long long>(stored));
  if (req.layout) {
    std::printf("layout:\n");
    for (const auto& e : r.layout()) {
      std::string extra;
      if (e.kind == stone::FileKind::kRegular) extra = StrCat(" ", e.size, " ", e.digest.Hex());
      if (e.kind == stone::FileKind::kSymlink) extra = StrCat(" -> ", EscapeControl(e.target));
      std::printf("  %c %s %u:%u /usr/%s%s\n", KindChar(e.kind), Mode(e.mode).c_str(), e.uid, e.gid,
                  EscapeControl(e.path).c_str(), extra.c_str());
    }
  }
  if (req.check) {
    if (!check.ok()) return check;
    std::printf("check:         ok (all checksums and %zu content digests verified)\n",
                r.content_index().size());
  }
  return absl::OkStatus();
}

}  // namespace

void AddInspectCommand(CLI::App& app, Context& ctx) {
  auto req = std::make_shared<InspectRequest>();
  CLI::App* cmd = app.add_subcommand("inspect", "Show a stone's header, metadata and sizes");
  DryRunSafe(ctx, cmd);
  cmd->add_option("file", req->file, "The .stone file")->required();
  cmd->add_flag("--json", req->json, "Machine-readable output");
  cmd->add_flag("--layout", req->layout, "List every path of the layout");
  cmd->add_flag("--check", req->check,
                "Verify every checksum and content digest; exit non-zero on mismatch");
  cmd->callback([&ctx, req] {
    ctx.action = [&ctx, req] {
      InspectRequest r = *req;
      r.json = r.json || ctx.global.json;
      return RunInspect(r);
    };
  });
}

}  // namespace onix::moss_cli
