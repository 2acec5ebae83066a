#include "moss/stone/types.h"

#include <cctype>

#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::stone {
namespace {

struct KindName {
  DepKind kind;
  std::string_view name;
};
constexpr KindName kKinds[] = {{DepKind::kName, "name"},
                               {DepKind::kSoname, "soname"},
                               {DepKind::kPkgconfig, "pkgconfig"},
                               {DepKind::kBinary, "binary"},
                               {DepKind::kSysbinary, "sysbinary"}};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view DepKindName(DepKind kind) {
  for (const auto& k : kKinds) {
    if (k.kind == kind) return k.name;
  }
  return "unknown";
}

std::string Dependency::ToString() const {
  std::string out = StrCat(DepKindName(kind), "(", name, ")");
  switch (op) {
    case VersionOp::kAny:
      break;
    case VersionOp::kGreaterEqual:
      out += StrCat(" >= ", version);
      break;
    case VersionOp::kEqual:
      out += StrCat(" = ", version);
      break;
    case VersionOp::kLess:
      out += StrCat(" < ", version);
      break;
  }
  return out;
}

absl::StatusOr<Dependency> Dependency::Parse(std::string_view text) {
  const std::string original(text);
  auto bad = [&](std::string_view why) {
    return InvalidArgument(StrCat("bad dependency '", original, "': ", why));
  };
  text = Trim(text);
  if (text.empty()) return bad("empty");
  Dependency dep;
  // Split off a version constraint: the last " >= ", " = " or " < ".
  struct OpText {
    std::string_view text;
    VersionOp op;
  };
  constexpr OpText kOps[] = {
      {">=", VersionOp::kGreaterEqual}, {"=", VersionOp::kEqual}, {"<", VersionOp::kLess}};
  const size_t close = text.rfind(')');
  const size_t search_from = close == std::string_view::npos ? 0 : close + 1;
  for (const auto& o : kOps) {
    size_t at = text.find(o.text, search_from);
    if (at == std::string_view::npos) continue;
    dep.op = o.op;
    dep.version = std::string(Trim(text.substr(at + o.text.size())));
    if (dep.version.empty()) return bad("version constraint without a version");
    if (dep.version.find_first_of(" \t<>=()") != std::string::npos) return bad("malformed version");
    text = Trim(text.substr(0, at));
    break;
  }
  const size_t open = text.find('(');
  if (open == std::string_view::npos) {
    if (text.find_first_of(" \t)") != std::string_view::npos) return bad("malformed name");
    dep.kind = DepKind::kName;
    dep.name = std::string(text);
    return dep;
  }
  if (text.back() != ')') return bad("missing closing ')'");
  std::string_view kind = text.substr(0, open);
  std::string_view name = text.substr(open + 1, text.size() - open - 2);
  bool known = false;
  for (const auto& k : kKinds) {
    if (k.name == kind) {
      dep.kind = k.kind;
      known = true;
    }
  }
  if (!known)
    return bad(StrCat("unknown kind '", kind, "' (name, soname, pkgconfig, binary, sysbinary)"));
  if (name.empty()) return bad("empty name");
  int depth = 0;
  for (char c : name) {
    if (c == '(') ++depth;
    if (c == ')' && --depth < 0) return bad("unbalanced parentheses");
    if (std::isspace(static_cast<unsigned char>(c))) return bad("whitespace in name");
  }
  if (depth != 0) return bad("unbalanced parentheses");
  dep.name = std::string(name);
  return dep;
}

std::string Meta::Nvr() const {
  return StrCat(name, " ", version, "-", source_release, "-", build_release);
}

}  // namespace onix::stone
