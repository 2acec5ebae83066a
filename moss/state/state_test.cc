#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "moss/base/fs_at.h"
#include "moss/base/temp_dir.h"
#include "moss/state/fstx.h"
#include "moss/state/layout.h"
#include "moss/state/manifest.h"
#include "moss/state/tree.h"

namespace onix::moss::state {
namespace {

stone::LayoutEntry Dir(std::string path) {
  stone::LayoutEntry e;
  e.path = std::move(path);
  e.kind = stone::FileKind::kDirectory;
  e.mode = 0755;
  return e;
}

stone::LayoutEntry File(std::string path, std::string_view content, uint32_t mode = 0644) {
  stone::LayoutEntry e;
  e.path = std::move(path);
  e.kind = stone::FileKind::kRegular;
  e.mode = mode;
  e.digest = Sha256Of(content);
  e.size = content.size();
  return e;
}

TEST(Fstx, ParsesWithAndWithoutSuffixAndRejectsGarbage) {
  auto full = Fstx::Parse("6649-A17C");
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->ToString(), "6649-a17c");
  auto bare = Fstx::Parse("6649");
  ASSERT_TRUE(bare.ok());
  EXPECT_TRUE(bare->Names(*full));
  EXPECT_FALSE(Fstx::Parse("6649-a17").ok());
  EXPECT_FALSE(Fstx::Parse("x-a17c").ok());
  EXPECT_FALSE(Fstx::Parse("").ok());
  EXPECT_TRUE(absl::IsInvalidArgument(Fstx::Parse("-1").status()));
  EXPECT_FALSE((Fstx{6649, "0000"}.Names(*full)));
}

TEST(Manifest, JsonRoundTripsAndDigestIsStable) {
  Manifest m;
  PackageRecord p;
  p.meta.name = "zlib";
  p.meta.version = "1.3";
  p.meta.source_release = 2;
  p.meta.depends.push_back(*stone::Dependency::Parse("soname(libc.so.6(x86_64))"));
  p.stone_digest = Sha256Of("stone");
  p.layout_digest = Sha256Of("layout");
  m.packages.push_back(p);
  m.layout_digest = Sha256Of("all");
  auto back = Manifest::FromJson(m.ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->packages, m.packages);
  EXPECT_EQ(back->ContentDigest(), m.ContentDigest());
  EXPECT_EQ(VersionRelease(p.meta), "1.3-2");
  EXPECT_FALSE(Manifest::FromJson("{").ok());
}

TEST(MergeLayouts, SharedDirectoriesMergeAndFileConflictNamesBothPackages) {
  std::vector<stone::LayoutEntry> a = {Dir("bin"), File("bin/tool", "a")};
  std::vector<stone::LayoutEntry> b = {Dir("bin"), File("bin/other", "b")};
  std::vector<stone::LayoutEntry> c = {Dir("bin"), File("bin/tool", "c")};
  auto ok = MergeLayouts({{"a", &a}, {"b", &b}});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->size(), 3u);
  auto bad = MergeLayouts({{"a", &a}, {"c", &c}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("/usr/bin/tool"), std::string::npos);
  EXPECT_NE(bad.status().message().find("both a and c"), std::string::npos);
}

TEST(MergeLayouts, SortsByPathAndTheFirstPackageOwnsASharedDirectory) {
  stone::LayoutEntry lib_b = Dir("lib");
  lib_b.mode = 0700;
  std::vector<stone::LayoutEntry> a = {Dir("lib"), File("lib/z", "a")};
  std::vector<stone::LayoutEntry> b = {Dir("bin"), File("bin/b", "b"), lib_b};
  std::vector<stone::LayoutEntry> c = {Dir("lib"), File("lib/a", "c")};
  auto m = MergeLayouts({{"a", &a}, {"b", &b}, {"c", &c}});
  ASSERT_TRUE(m.ok()) << m.status();
  std::vector<std::string> paths;
  for (const auto& e : *m) paths.push_back(e.entry.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"bin", "bin/b", "lib", "lib/a", "lib/z"}));
  EXPECT_EQ((*m)[2].package, "a");
  EXPECT_EQ((*m)[2].entry.mode, 0755u);
  EXPECT_EQ((*m)[3].package, "c");
  std::vector<stone::LayoutEntry> d = {File("lib", "not a dir")};
  auto bad = MergeLayouts({{"a", &a}, {"b", &b}, {"d", &d}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("/usr/lib is shipped by both a and d"), std::string::npos)
      << bad.status();
}

TEST(DiffLayouts, UnsortedInputsGiveSortedLists) {
  std::vector<stone::LayoutEntry> from = {File("z", "1"), File("a", "1"), File("m", "1")};
  std::vector<stone::LayoutEntry> to = {File("m", "2"), File("b", "1"), File("a", "1")};
  LayoutDiff d = DiffLayouts(from, to);
  EXPECT_EQ(d.added, std::vector<std::string>{"b"});
  EXPECT_EQ(d.removed, std::vector<std::string>{"z"});
  EXPECT_EQ(d.changed, std::vector<std::string>{"m"});
}

TEST(DiffLayouts, ReportsAddedRemovedChanged) {
  std::vector<stone::LayoutEntry> from = {File("a", "1"), File("b", "1")};
  std::vector<stone::LayoutEntry> to = {File("b", "2"), File("c", "1")};
  LayoutDiff d = DiffLayouts(from, to);
  EXPECT_EQ(d.added, std::vector<std::string>{"c"});
  EXPECT_EQ(d.removed, std::vector<std::string>{"a"});
  EXPECT_EQ(d.changed, std::vector<std::string>{"b"});
}

TEST(BuildTree, HardlinksStoreObjectsStripsWriteBitsAndCheckFindsDamage) {
  auto tmp = TempDir::Make("tree-test");
  ASSERT_TRUE(tmp.ok());
  auto store = store::Store::Open(tmp->fd());
  ASSERT_TRUE(store.ok());
  std::vector<stone::LayoutEntry> layout = {Dir("bin"), File("bin/a", "same", 0755),
                                            File("bin/b", "same", 0644), Dir("lib"),
                                            File("lib/c", "same", 0644)};
  stone::LayoutEntry link;
  link.path = "lib/link";
  link.kind = stone::FileKind::kSymlink;
  link.target = "c";
  layout.push_back(link);
  for (const auto& e : layout) {
    if (e.kind == stone::FileKind::kRegular) {
      ASSERT_TRUE(store->Put(KeyOf(e), "same").ok());
    }
  }
  ASSERT_TRUE(fs::MkdirAt(tmp->fd(), "usr", 0755).ok());
  auto usr = fs::OpenDirAt(tmp->fd(), "usr");
  ASSERT_TRUE(usr.ok());
  ASSERT_TRUE(BuildTree(*store, layout, usr->get()).ok());

  auto a = fs::StatAt(usr->get(), "bin/a");
  auto b = fs::StatAt(usr->get(), "bin/b");
  auto c = fs::StatAt(usr->get(), "lib/c");
  EXPECT_EQ(a->st_mode & 07777, 0555u);
  EXPECT_EQ(b->st_mode & 07777, 0444u);
  EXPECT_NE(a->st_ino, b->st_ino);  // different modes cannot share an inode
  EXPECT_EQ(b->st_ino, c->st_ino);  // same content and mode: one inode
  EXPECT_EQ(*fs::ReadLinkAt(usr->get(), "lib/link"), "c");

  auto all_ok = [](const store::ObjectKey&) { return true; };
  auto problems = CheckTree(*store, layout, usr->get(), all_ok);
  ASSERT_TRUE(problems.ok());
  EXPECT_TRUE(problems->empty());

  ASSERT_TRUE(fs::UnlinkAt(usr->get(), "lib/c").ok());
  problems = CheckTree(*store, layout, usr->get(), all_ok);
  ASSERT_EQ(problems->size(), 1u);
  EXPECT_EQ((*problems)[0].path, "lib/c");
  ASSERT_TRUE(RepairEntry(*store, layout[4], usr->get()).ok());
  EXPECT_TRUE(CheckTree(*store, layout, usr->get(), all_ok)->empty());
}

TEST(BuildTree, DirectoryModesMkdirCannotGiveAreAppliedAfterFilling) {
  auto tmp = TempDir::Make("tree-test");
  ASSERT_TRUE(tmp.ok());
  auto store = store::Store::Open(tmp->fd());
  ASSERT_TRUE(store.ok());
  stone::LayoutEntry ro = Dir("ro"), priv = Dir("ro/priv"), open = Dir("open");
  ro.mode = 0555;
  priv.mode = 0700;
  open.mode = 0775;  // umask 022 would drop the group write bit at mkdir
  std::vector<stone::LayoutEntry> layout = {open, File("open/f", "x"), ro, priv,
                                            File("ro/priv/f", "x")};
  ASSERT_TRUE(store->Put(KeyOf(layout[1]), "x").ok());
  ASSERT_TRUE(fs::MkdirAt(tmp->fd(), "usr", 0755).ok());
  auto usr = fs::OpenDirAt(tmp->fd(), "usr");
  ASSERT_TRUE(usr.ok());
  ASSERT_TRUE(BuildTree(*store, layout, usr->get()).ok());
  EXPECT_EQ(fs::StatAt(usr->get(), "ro")->st_mode & 07777, 0555u);
  EXPECT_EQ(fs::StatAt(usr->get(), "ro/priv")->st_mode & 07777, 0700u);
  EXPECT_EQ(fs::StatAt(usr->get(), "open")->st_mode & 07777, 0775u);
  EXPECT_TRUE(fs::StatAt(usr->get(), "ro/priv/f").ok());
  auto all_ok = [](const store::ObjectKey&) { return true; };
  EXPECT_TRUE(CheckTree(*store, layout, usr->get(), all_ok)->empty());
}

TEST(BuildTree, ManyDirectoriesFromSeveralWorkersMatchTheLayoutAndKeepNoPlacementFlag) {
  auto tmp = TempDir::Make("tree-test");
  ASSERT_TRUE(tmp.ok());
  auto store = store::Store::Open(tmp->fd());
  ASSERT_TRUE(store.ok());
  // Four levels, so directories below the spread depth and above it are both made, with
  // files and symlinks at every level; one read-only directory deep down.
  std::vector<stone::LayoutEntry> layout = {Dir("usr")};
  auto add_file = [&](const std::string& path, const std::string& content, uint32_t mode) {
    layout.push_back(File(path, content, mode));
    ASSERT_TRUE(store->Put(KeyOf(layout.back()), content).ok()) << path;
  };
  for (int a = 0; a < 6; ++a) {
    const std::string da = "usr/d" + std::to_string(a);
    layout.push_back(Dir(da));
    add_file(da + "/f", "a" + std::to_string(a), 0755);
    for (int b = 0; b < 5; ++b) {
      const std::string db = da + "/e" + std::to_string(b);
      layout.push_back(Dir(db));
      stone::LayoutEntry link;
      link.path = db + "/up";
      link.kind = stone::FileKind::kSymlink;
      link.target = "../f";
      layout.push_back(link);
      for (int c = 0; c < 3; ++c) {
        stone::LayoutEntry dc = Dir(db + "/g" + std::to_string(c));
        if (a == 5 && b == 4 && c == 2) dc.mode = 0555;
        layout.push_back(dc);
        add_file(dc.path + "/x", "x" + std::to_string(c), 0644);
      }
    }
  }
  std::sort(layout.begin(), layout.end(),
            [](const auto& x, const auto& y) { return x.path < y.path; });
  ASSERT_TRUE(fs::MkdirAt(tmp->fd(), "tree", 0755).ok());
  auto tree = fs::OpenDirAt(tmp->fd(), "tree");
  ASSERT_TRUE(tree.ok());
  ASSERT_TRUE(BuildTree(*store, layout, tree->get(), {.threads = 4}).ok());
  auto all_ok = [](const store::ObjectKey&) { return true; };
  auto problems = CheckTree(*store, layout, tree->get(), all_ok);
  ASSERT_TRUE(problems.ok());
  EXPECT_TRUE(problems->empty()) << (*problems)[0].path << ": " << (*problems)[0].problem;
  EXPECT_EQ(fs::StatAt(tree->get(), "usr/d5/e4/g2")->st_mode & 07777, 0555u);
  // The allocator hint set while the top levels were made is gone again (where the
  // filesystem has inode flags at all).
  for (const std::string dir : {".", "usr", "usr/d0", "usr/d0/e0"}) {
    auto fd = fs::OpenDirAt(tree->get(), dir);
    ASSERT_TRUE(fd.ok());
    int flags = 0;
    if (::ioctl(fd->get(), FS_IOC_GETFLAGS, &flags) == 0) {
      EXPECT_EQ(flags & FS_TOPDIR_FL, 0) << dir;
    }
  }
}

TEST(BuildTree, RejectsAnEntryWhoseParentIsNotADirectoryOfTheLayout) {
  auto tmp = TempDir::Make("tree-test");
  ASSERT_TRUE(tmp.ok());
  auto store = store::Store::Open(tmp->fd());
  ASSERT_TRUE(store.ok());
  stone::LayoutEntry lib;
  lib.path = "lib";
  lib.kind = stone::FileKind::kSymlink;
  lib.target = "bin";
  for (const auto& layout : std::vector<std::vector<stone::LayoutEntry>>{
           {File("orphan/f", "x")}, {Dir("bin"), lib, File("lib/f", "x")}}) {
    ASSERT_TRUE(store->Put(KeyOf(layout.back()), "x").ok());
    ASSERT_TRUE(fs::MkdirAt(tmp->fd(), "tree", 0755).ok());
    auto tree = fs::OpenDirAt(tmp->fd(), "tree");
    ASSERT_TRUE(tree.ok());
    absl::Status s = BuildTree(*store, layout, tree->get());
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_NE(s.message().find(layout.back().path), std::string::npos) << s;
    // Nothing was made: the layout is checked before the first mkdir.
    auto left = fs::StatAt(tree->get(), "bin");
    EXPECT_FALSE(left.ok());
    ASSERT_TRUE(RemoveTree(tmp->fd(), "tree").ok());
  }
}

TEST(RemoveTree, RemovesEverythingIncludingReadOnlyDirsAndNeverFollowsLinks) {
  auto tmp = TempDir::Make("tree-test");
  ASSERT_TRUE(tmp.ok());
  auto write = [&](const std::string& dir, const std::string& name, mode_t mode) {
    auto fd = fs::OpenDirAt(tmp->fd(), dir);
    ASSERT_TRUE(fd.ok()) << fd.status();
    ASSERT_TRUE(fs::WriteFileAtomicAt(fd->get(), name, "keep", mode, fs::Durability::kNone).ok());
  };
  write(".", "outside", 0644);
  ASSERT_TRUE(fs::MkdirAt(tmp->fd(), "outdir", 0755).ok());
  write("outdir", "f", 0644);
  ASSERT_TRUE(fs::MkdirAt(tmp->fd(), "t", 0755).ok());
  ASSERT_TRUE(fs::MkdirAt(tmp->fd(), "t/usr", 0755).ok());
  for (const char* d : {"a", "b", "c", "d", "e"}) {
    const std::string dir = std::string("t/usr/") + d;
    ASSERT_TRUE(fs::MkdirAt(tmp->fd(), dir, 0755).ok());
    ASSERT_TRUE(fs::MkdirAt(tmp->fd(), dir + "/deep", 0755).ok());
    write(dir, "x", 0444);
    write(dir, "y", 0444);
    write(dir + "/deep", "z", 0444);
    ASSERT_EQ(::fchmodat(tmp->fd(), (dir + "/deep").c_str(), 0555, 0), 0);
  }
  ASSERT_TRUE(fs::SymlinkAt("../../../outside", tmp->fd(), "t/usr/a/file-link").ok());
  ASSERT_TRUE(fs::SymlinkAt("../../../outdir", tmp->fd(), "t/usr/b/dir-link").ok());
  ASSERT_EQ(::fchmodat(tmp->fd(), "t/usr/c", 0555, 0), 0);
  ASSERT_TRUE(RemoveTree(tmp->fd(), "t").ok());
  EXPECT_TRUE(absl::IsNotFound(fs::StatAt(tmp->fd(), "t").status()));
  EXPECT_EQ(*fs::ReadFileAt(tmp->fd(), "outside"), "keep");
  auto outdir = fs::OpenDirAt(tmp->fd(), "outdir");
  ASSERT_TRUE(outdir.ok());
  EXPECT_EQ(*fs::ReadFileAt(outdir->get(), "f"), "keep");
  EXPECT_TRUE(RemoveTree(tmp->fd(), "t").ok()) << "a missing tree is already removed";
}

TEST(TreeId, RoundTrips) {
  auto tmp = TempDir::Make("tree-test");
  ASSERT_TRUE(tmp.ok());
  EXPECT_TRUE(absl::IsNotFound(ReadTreeId(tmp->fd()).status()));
  const std::string token = NewToken();
  EXPECT_EQ(token.size(), 16u);
  ASSERT_TRUE(WriteTreeId(tmp->fd(), {"3-abcd", token}).ok());
  auto id = ReadTreeId(tmp->fd());
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->fstx, "3-abcd");
  EXPECT_EQ(id->token, token);
}

}  // namespace
}  // namespace onix::moss::state
