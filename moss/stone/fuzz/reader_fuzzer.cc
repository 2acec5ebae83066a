// libFuzzer target for the stone reader: any bytes -> Open, and for what opens, content
// verification and extraction into a scratch directory. Built with clang by
// tests/suites/stone_fuzz.sh (-fsanitize=fuzzer,address); Bazel's toolchain is gcc.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "moss/base/fs_at.h"
#include "moss/stone/stone.h"

namespace {

// One scratch directory per fuzzing process; each input extracts into a fresh child of it.
const std::string& Scratch() {
  static const std::string dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/stone-fuzz-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    return tmpl;
  }();
  return dir;
}

// Layouts may carry read-only directories; make the tree removable again.
void MakeWritable(int dirfd) {
  (void)::fchmod(dirfd, 0700);
  auto names = onix::fs::ListDir(dirfd);
  if (!names.ok()) return;
  for (const auto& name : *names) {
    struct stat st;
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) {
      continue;
    }
    auto sub = onix::fs::OpenDirAt(dirfd, name);
    if (sub.ok()) MakeWritable(sub->get());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int fd = ::memfd_create("stone", MFD_CLOEXEC);
  if (fd < 0) return 0;
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::write(fd, data + done, size - done);
    if (n <= 0) {
      ::close(fd);
      return 0;
    }
    done += static_cast<size_t>(n);
  }
  // Small limits keep the fuzzer's memory bounded; the logic under test is the same.
  onix::stone::ReadLimits limits;
  limits.max_metadata_payload = 1 << 20;
  limits.max_content = 16 << 20;
  limits.max_records = 1 << 16;
  auto reader = onix::stone::StoneReader::OpenFd(onix::UniqueFd(fd), "fuzz-input", limits);
  if (!reader.ok()) return 0;
  (void)reader->Verify();
  (void)reader->ForEachContent(
      [](const onix::Digest&, std::string_view) { return absl::OkStatus(); });
  auto root = onix::fs::OpenDir(Scratch());
  if (!root.ok()) std::abort();
  (void)onix::fs::RemoveTreeAt(root->get(), "x");
  if (::mkdirat(root->get(), "x", 0700) != 0) std::abort();
  auto target = onix::fs::OpenDirAt(root->get(), "x");
  if (!target.ok()) std::abort();
  (void)reader->ExtractTo(target->get());
  // Anything but "x" in the scratch directory was written outside the target: a bug.
  auto names = onix::fs::ListDir(root->get());
  if (!names.ok() || names->size() != 1) std::abort();
  MakeWritable(target->get());
  return 0;
}
