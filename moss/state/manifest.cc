#include "moss/state/manifest.h"

#include <algorithm>
#include <cstdio>

#include "moss/base/json.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::moss::state {
namespace {

nlohmann::json DepsToJson(const std::vector<stone::Dependency>& deps) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& d : deps) out.push_back(d.ToString());
  return out;
}

absl::StatusOr<std::vector<stone::Dependency>> DepsFromJson(const nlohmann::json& j,
                                                            const char* key) {
  std::vector<stone::Dependency> out;
  if (!j.contains(key)) return out;
  for (const auto& item : j.at(key)) {
    ONIX_ASSIGN_OR_RETURN(stone::Dependency dep, stone::Dependency::Parse(item.get<std::string>()));
    out.push_back(std::move(dep));
  }
  return out;
}

}  // namespace

std::string VersionRelease(const stone::Meta& meta) {
  return StrCat(meta.version, "-", meta.source_release);
}

nlohmann::json MetaToJson(const stone::Meta& m) {
  nlohmann::json j;
  j["name"] = m.name;
  j["version"] = m.version;
  j["source_release"] = m.source_release;
  j["build_release"] = m.build_release;
  j["architecture"] = m.architecture;
  j["summary"] = m.summary;
  j["description"] = m.description;
  j["homepage"] = m.homepage;
  j["licenses"] = m.licenses;
  j["source_id"] = m.source_id;
  j["depends"] = DepsToJson(m.depends);
  j["provides"] = DepsToJson(m.provides);
  j["conflicts"] = DepsToJson(m.conflicts);
  j["replaces"] = DepsToJson(m.replaces);
  j["allow_setid"] = m.allow_setid;
  // Only when present, so the manifests (and fstx digests) of packages without provenance
  // are byte-identical to the ones written before tag 17 existed.
  if (!m.inputs.empty()) j["inputs"] = m.inputs;
  return j;
}

absl::StatusOr<stone::Meta> MetaFromJson(const nlohmann::json& j) {
  stone::Meta m;
  try {
    m.name = j.at("name").get<std::string>();
    m.version = j.at("version").get<std::string>();
    m.source_release = j.at("source_release").get<uint64_t>();
    m.build_release = j.at("build_release").get<uint64_t>();
    m.architecture = j.value("architecture", "");
    m.summary = j.value("summary", "");
    m.description = j.value("description", "");
    m.homepage = j.value("homepage", "");
    m.licenses = j.value("licenses", std::vector<std::string>{});
    m.source_id = j.value("source_id", "");
    m.allow_setid = j.value("allow_setid", false);
    m.inputs = j.value("inputs", std::vector<std::string>{});
    ONIX_ASSIGN_OR_RETURN(m.depends, DepsFromJson(j, "depends"));
    ONIX_ASSIGN_OR_RETURN(m.provides, DepsFromJson(j, "provides"));
    ONIX_ASSIGN_OR_RETURN(m.conflicts, DepsFromJson(j, "conflicts"));
    ONIX_ASSIGN_OR_RETURN(m.replaces, DepsFromJson(j, "replaces"));
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(StrCat("reading package metadata: ", e.what()));
  }
  return m;
}

std::string Manifest::ToJson() const {
  std::vector<PackageRecord> sorted = packages;
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.meta.name < b.meta.name; });
  nlohmann::json j;
  j["format"] = 1;
  j["layout_digest"] = layout_digest.Hex();
  j["packages"] = nlohmann::json::array();
  for (const auto& p : sorted) {
    nlohmann::json pj;
    pj["meta"] = MetaToJson(p.meta);
    pj["stone_digest"] = p.stone_digest.Hex();
    pj["explicit"] = p.is_explicit;
    pj["layout_digest"] = p.layout_digest.Hex();
    j["packages"].push_back(std::move(pj));
  }
  // nlohmann::json objects keep keys sorted, so dump() is canonical.
  return DumpJson(j, 2) + "\n";
}

absl::StatusOr<Manifest> Manifest::FromJson(std::string_view text) {
  Manifest m;
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    if (j.value("format", 0) != 1) return InvalidArgument("reading manifest: unknown format");
    ONIX_ASSIGN_OR_RETURN(m.layout_digest,
                          Digest::FromHex(j.at("layout_digest").get<std::string>()));
    for (const auto& pj : j.at("packages")) {
      PackageRecord p;
      ONIX_ASSIGN_OR_RETURN(p.meta, MetaFromJson(pj.at("meta")));
      ONIX_ASSIGN_OR_RETURN(p.stone_digest,
                            Digest::FromHex(pj.at("stone_digest").get<std::string>()));
      ONIX_ASSIGN_OR_RETURN(p.layout_digest,
                            Digest::FromHex(pj.at("layout_digest").get<std::string>()));
      p.is_explicit = pj.at("explicit").get<bool>();
      m.packages.push_back(std::move(p));
    }
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(StrCat("reading manifest: ", e.what()));
  }
  return m;
}

Digest Manifest::ContentDigest() const { return Sha256Of(ToJson()); }

const PackageRecord* Manifest::Find(std::string_view name) const {
  for (const auto& p : packages) {
    if (p.meta.name == name) return &p;
  }
  return nullptr;
}

std::string LayoutText(const std::vector<stone::LayoutEntry>& layout) {
  std::string out;
  for (const auto& e : layout) {
    char mode[16];
    std::snprintf(mode, sizeof(mode), "%04o", e.mode);
    const char* kind = e.kind == stone::FileKind::kRegular   ? "file"
                       : e.kind == stone::FileKind::kSymlink ? "link"
                                                             : "dir";
    std::string what = e.kind == stone::FileKind::kRegular   ? e.digest.Hex()
                       : e.kind == stone::FileKind::kSymlink ? e.target
                                                             : "-";
    out +=
        StrCat(e.path, " ", kind, " ", mode, " ", e.uid, " ", e.gid, " ", what, " ", e.size, "\n");
  }
  return out;
}

Digest LayoutDigest(const std::vector<stone::LayoutEntry>& layout) {
  std::vector<stone::LayoutEntry> sorted = layout;
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.path < b.path; });
  return Sha256Of(LayoutText(sorted));
}

}  // namespace onix::moss::state
