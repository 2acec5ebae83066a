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

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i < n) return false;
    for (size_t k = 1; k < n; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

namespace {

absl::Status ValidateToken(std::string_view what, std::string_view text, std::string_view extra) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument(StrCat("bad ", what, " '", EscapeControl(text), "': ", why));
  };
  if (text.empty()) return bad("empty");
  if (text.size() > kMaxNameLength) {
    return bad(StrCat(text.size(), " bytes, more than ", kMaxNameLength));
  }
  if (!std::isalnum(static_cast<unsigned char>(text[0]))) {
    return bad("must start with an ASCII letter or digit");
  }
  for (char c : text) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && extra.find(c) == std::string_view::npos) {
      return bad(StrCat("only ASCII letters, digits and \"", extra, "\" are allowed"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidatePackageName(std::string_view name) {
  return ValidateToken("package name", name, "._+-");
}

absl::Status ValidateVersion(std::string_view version) {
  return ValidateToken("version", version, "._+~:^-");
}

absl::Status ValidateMetaString(std::string_view field, std::string_view value, size_t max_bytes,
                                bool multiline) {
  if (value.size() > max_bytes) {
    return InvalidArgument(
        StrCat(field, " is ", value.size(), " bytes, more than the limit of ", max_bytes));
  }
  if (!IsValidUtf8(value)) return InvalidArgument(StrCat(field, " is not valid UTF-8"));
  for (size_t i = 0; i < value.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    const bool c1 = c == 0xC2 && i + 1 < value.size() &&
                    static_cast<unsigned char>(value[i + 1]) >= 0x80 &&
                    static_cast<unsigned char>(value[i + 1]) <= 0x9F;
    if ((c < 0x20 && !(multiline && (c == '\n' || c == '\t'))) || c == 0x7f || c1) {
      return InvalidArgument(StrCat(field, " contains a control character at byte ", i));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateMeta(const Meta& meta) {
  ONIX_RETURN_IF_ERROR(ValidatePackageName(meta.name));
  ONIX_RETURN_IF_ERROR(ValidateVersion(meta.version));
  if (!meta.source_id.empty()) {
    ONIX_RETURN_IF_ERROR_CTX(ValidatePackageName(meta.source_id), "source id");
  }
  ONIX_RETURN_IF_ERROR(ValidateMetaString("architecture", meta.architecture, kMaxMetaStringLength));
  ONIX_RETURN_IF_ERROR(ValidateMetaString("summary", meta.summary, kMaxMetaStringLength));
  ONIX_RETURN_IF_ERROR(
      ValidateMetaString("description", meta.description, kMaxDescriptionLength, true));
  ONIX_RETURN_IF_ERROR(ValidateMetaString("homepage", meta.homepage, kMaxMetaStringLength));
  for (const auto& l : meta.licenses) {
    ONIX_RETURN_IF_ERROR(ValidateMetaString("license", l, kMaxMetaStringLength));
  }
  for (const auto& in : meta.inputs) {
    ONIX_RETURN_IF_ERROR(ValidateMetaString("input", in, kMaxMetaStringLength));
  }
  for (const auto* list : {&meta.depends, &meta.provides, &meta.conflicts, &meta.replaces}) {
    for (const Dependency& d : *list) {
      ONIX_RETURN_IF_ERROR(ValidateMetaString("dependency name", d.name, kMaxMetaStringLength));
      ONIX_RETURN_IF_ERROR(
          ValidateMetaString("dependency version", d.version, kMaxMetaStringLength));
    }
  }
  return absl::OkStatus();
}

std::string Meta::Nvr() const {
  return StrCat(name, " ", version, "-", source_release, "-", build_release);
}

}  // namespace onix::stone
