// A stand-in for ldconfig and depmod in trigger tests. Linked statically so it runs inside a
// sandbox whose /usr holds nothing but a test package.
//
//   fake_trigger_tool ldconfig          writes /usr/lib/ld.so.cache: every *.so* below /usr/lib
//   fake_trigger_tool depmod            writes /usr/lib/modules/<v>/modules.dep: every *.ko
//   fake_trigger_tool write PATH TEXT   writes TEXT to PATH (to probe what is writable)
//   fake_trigger_tool fail              prints a message and exits 3
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

int WriteAtomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", tmp.c_str());
      return 1;
    }
    out << text;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::fprintf(stderr, "cannot rename %s: %s\n", tmp.c_str(), ec.message().c_str());
    return 1;
  }
  return 0;
}

std::vector<std::string> Find(const fs::path& dir, const std::string& needle) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.find(needle) != std::string::npos && !it->is_directory()) {
      out.push_back(fs::relative(it->path(), dir).string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "ldconfig") {
    std::string text;
    for (const auto& lib : Find("/usr/lib", ".so")) {
      if (lib != "ld.so.cache") text += lib + "\n";
    }
    return WriteAtomically("/usr/lib/ld.so.cache", text);
  }
  if (mode == "depmod") {
    std::error_code ec;
    for (const auto& kernel : fs::directory_iterator("/usr/lib/modules", ec)) {
      std::string text;
      for (const auto& ko : Find(kernel.path(), ".ko")) text += ko + ":\n";
      if (int rc = WriteAtomically(kernel.path() / "modules.dep", text)) return rc;
    }
    return 0;
  }
  if (mode == "write" && argc == 4) return WriteAtomically(argv[2], argv[3]);
  if (mode == "fail") {
    std::fprintf(stderr, "fake trigger failing on purpose\n");
    return 3;
  }
  std::fprintf(stderr, "usage: fake_trigger_tool ldconfig|depmod|write PATH TEXT|fail\n");
  return 2;
}
