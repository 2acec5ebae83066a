// The round trip: a tree with regular files, empty files, duplicates, symlinks,
// directories, odd modes and a 100 MiB file -> stone -> extract -> the same tree, compared
// with an independent walk (std::filesystem + lstat + byte comparison), not the stone reader.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <random>

#include "gtest/gtest.h"
#include "moss/base/fs_at.h"
#include "moss/base/temp_dir.h"
#include "moss/stone/stone.h"
#include "moss/stone/testing.h"

namespace onix::stone {
namespace {

void Put(int dirfd, const std::string& path, std::string_view content, mode_t mode) {
  auto fd = fs::OpenAt(dirfd, path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  ASSERT_TRUE(fd.ok()) << fd.status();
  ASSERT_TRUE(fs::WriteAll(fd->get(), content, path).ok());
  ASSERT_EQ(::fchmod(fd->get(), mode), 0);
}

TEST(StoneRoundTrip, HundredMebibyteTreeExtractsIdentically) {
  auto tmp = TempDir::Make("stone-roundtrip-");
  ASSERT_TRUE(tmp.ok()) << tmp.status();
  for (const char* d : {"tree", "out", "x"}) ASSERT_EQ(::mkdirat(tmp->fd(), d, 0755), 0);
  UniqueFd tree = *fs::OpenDirAt(tmp->fd(), "tree");

  // A half-compressible 100 MiB file: random 4 KiB blocks, each written twice.
  {
    auto fd = fs::OpenAt(tree.get(), "big.bin", O_WRONLY | O_CREAT | O_EXCL, 0644);
    ASSERT_TRUE(fd.ok());
    std::mt19937_64 rng(42);
    std::string block(1 << 20, '\0');
    for (int mib = 0; mib < 100; ++mib) {
      for (size_t i = 0; i < block.size(); i += 8192) {
        for (size_t j = 0; j < 4096; j += 8) {
          uint64_t v = rng();
          std::memcpy(&block[i + j], &v, 8);
        }
        std::memcpy(&block[i + 4096], &block[i], 4096);
      }
      ASSERT_TRUE(fs::WriteAll(fd->get(), block, "big.bin").ok());
    }
  }
  const char* dirs[] = {"bin", "lib", "lib/deep", "lib/deep/er", "share", "sbin"};
  for (const char* d : dirs) ASSERT_EQ(::mkdirat(tree.get(), d, 0755), 0);
  ASSERT_EQ(::fchmodat(tree.get(), "share", 0711, 0), 0);
  Put(tree.get(), "bin/prog",
      "\x7f"
      "ELF fake binary",
      0755);
  Put(tree.get(), "bin/dup-a", "duplicate content\n", 0644);
  Put(tree.get(), "lib/dup-b", "duplicate content\n", 0640);
  Put(tree.get(), "lib/deep/er/dup-c", "duplicate content\n", 0400);
  Put(tree.get(), "empty", "", 0644);
  Put(tree.get(), "lib/empty", "", 0600);
  Put(tree.get(), "sbin/odd", "odd", 01755);
  Put(tree.get(), "share/group-x", "gx", 0710);
  ASSERT_EQ(::symlinkat("prog", tree.get(), "bin/alias"), 0);
  ASSERT_EQ(::symlinkat("../../../bin/prog", tree.get(), "lib/deep/er/up"), 0);
  ASSERT_EQ(::symlinkat("/usr/lib/deep", tree.get(), "lib64"), 0);

  WriteOptions options;
  options.source_date_epoch = 1234567890;
  Meta meta = testing::TestMeta("roundtrip");
  const std::string stone = tmp->path() + "/out/rt.stone";
  ASSERT_TRUE(WriteBinaryStone(meta, tree.get(), stone, options).ok());

  auto r = StoneReader::Open(stone);
  ASSERT_TRUE(r.ok()) << r.status();
  // big.bin, prog, the duplicate, "", odd, gx: the three duplicates are stored once.
  EXPECT_EQ(r->content_index().size(), 6u);
  ASSERT_TRUE(r->Verify().ok());
  // Half the big file repeats, so the stone is well below the tree's size.
  EXPECT_LT(r->file_size(), 60u << 20);

  UniqueFd target = *fs::OpenDirAt(tmp->fd(), "x");
  auto s = r->ExtractTo(target.get());
  ASSERT_TRUE(s.ok()) << s;

  auto want = testing::WalkTree(tmp->path() + "/tree", false);
  auto got = testing::WalkTree(tmp->path() + "/x", false);
  EXPECT_EQ(want.size(), 18u);
  EXPECT_EQ(got, want);  // types, modes, targets, sizes
  for (const auto& [path, node] : want) {
    if (node.type != 'f') continue;
    EXPECT_TRUE(testing::SameFileContent(tmp->path() + "/tree/" + path, tmp->path() + "/x/" + path))
        << path;
  }
}

}  // namespace
}  // namespace onix::stone
