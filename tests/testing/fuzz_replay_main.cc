// The main of every fuzz target's replay test: feeds each seed of the corpus directories (and
// files) named on the command line, and evenly spaced prefixes of it, to the target's
// LLVMFuzzerTestOneInput, built with gcc under -Werror. The target keeps compiling and every
// committed seed stays clean (a target aborts on a broken invariant). The real fuzzing runs
// with clang from the same corpora (docs/testing.md).
#include <dirent.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (DIR* d = ::opendir(arg.c_str())) {
      while (struct dirent* e = ::readdir(d)) {
        if (e->d_name[0] != '.') files.push_back(arg + "/" + e->d_name);
      }
      ::closedir(d);
    } else {
      files.push_back(arg);
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR|FILE...\n", argv[0]);
    return 2;
  }
  for (const std::string& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot read %s\n", f.c_str());
      return 1;
    }
    std::stringstream bytes;
    bytes << in.rdbuf();
    const std::string data = bytes.str();
    // Prefixes too: truncated input is the commonest bad input.
    for (size_t n = 0; n <= data.size(); n += 1 + data.size() / 64) {
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()), n);
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()), data.size());
  }
  if (files.size() < 2) {
    std::fprintf(stderr, "only %zu seed: a corpus proves little\n", files.size());
    return 1;
  }
  std::printf("replayed %zu seeds\n", files.size());
  return 0;
}
