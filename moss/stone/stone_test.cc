#include "moss/stone/stone.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "gtest/gtest.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/base/temp_dir.h"
#include "moss/stone/format.h"
#include "moss/stone/testing.h"

namespace onix::stone {
namespace {

using testing::BinaryParts;
using testing::Craft;
using testing::Dir;
using testing::File;
using testing::Link;
using testing::RawStone;
using testing::TestMeta;

void Put(int dirfd, const std::string& path, std::string_view content, mode_t mode = 0644) {
  auto fd = fs::OpenAt(dirfd, path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  ASSERT_TRUE(fd.ok()) << fd.status();
  ASSERT_TRUE(fs::WriteAll(fd->get(), content, path).ok());
  ASSERT_EQ(::fchmod(fd->get(), mode), 0);
}

void WriteRaw(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string ReadRaw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A fixture with a tree to pack, a place for stones, and an extraction target nested in an
// otherwise empty "jail" directory so a test can prove nothing was written beside it.
class StoneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::Make("stone-test-");
    ASSERT_TRUE(t.ok()) << t.status();
    tmp_ = std::make_unique<TempDir>(*std::move(t));
    for (const char* d : {"tree", "out", "jail", "jail/target"}) {
      ASSERT_EQ(::mkdirat(tmp_->fd(), d, 0755), 0);
    }
    tree_ = *fs::OpenDirAt(tmp_->fd(), "tree");
    target_ = *fs::OpenDirAt(tmp_->fd(), "jail/target");
  }
  std::string P(const std::string& rel) const { return tmp_->path() + "/" + rel; }
  void ExpectJailHoldsOnlyTarget() {
    auto jail = testing::WalkTree(P("jail"), false);
    for (const auto& [path, node] : jail) {
      EXPECT_TRUE(path == "target" || path.rfind("target/", 0) == 0)
          << "written outside the target: jail/" << path;
    }
  }
  // Writes `raw` to out/<name> and opens it.
  absl::StatusOr<StoneReader> OpenCrafted(const std::string& name, const RawStone& raw) {
    WriteRaw(P("out/" + name), Craft(raw));
    return StoneReader::Open(P("out/" + name));
  }

  std::unique_ptr<TempDir> tmp_;
  UniqueFd tree_, target_;
};

TEST_F(StoneTest, RoundTripsSmallTreeWithDuplicatesLinksAndModes) {
  ASSERT_EQ(::mkdirat(tree_.get(), "bin", 0755), 0);
  ASSERT_EQ(::mkdirat(tree_.get(), "lib", 0755), 0);
  ASSERT_EQ(::mkdirat(tree_.get(), "share", 0700), 0);
  ASSERT_EQ(::mkdirat(tree_.get(), "ro", 0755), 0);
  Put(tree_.get(), "bin/tool", "#!/bin/sh\necho hi\n", 0755);
  Put(tree_.get(), "bin/copy1", "same bytes", 0644);
  Put(tree_.get(), "lib/copy2", "same bytes", 0600);
  Put(tree_.get(), "share/copy3", "same bytes", 0444);
  Put(tree_.get(), "empty1", "", 0644);
  Put(tree_.get(), "lib/empty2", "", 0640);
  Put(tree_.get(), "ro/inside", "sealed", 0644);
  ASSERT_EQ(::fchmodat(tree_.get(), "ro", 0555, 0), 0);
  ASSERT_EQ(::symlinkat("tool", tree_.get(), "bin/sh"), 0);
  ASSERT_EQ(::symlinkat("../lib/copy2", tree_.get(), "bin/rel"), 0);
  ASSERT_EQ(::symlinkat("/usr/lib", tree_.get(), "lib64"), 0);
  ASSERT_EQ(::symlinkat("missing-but-inside", tree_.get(), "dangling"), 0);

  ASSERT_TRUE(WriteBinaryStone(TestMeta(), tree_.get(), P("out/demo.stone")).ok());
  auto r = StoneReader::Open(P("out/demo.stone"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type(), StoneType::kBinary);
  EXPECT_EQ(r->meta(), TestMeta());
  // Three unique non-empty contents plus the empty one: duplicates are stored once.
  EXPECT_EQ(r->content_index().size(), 4u);
  std::set<std::string> seen;
  ASSERT_TRUE(r->ForEachContent([&](const Digest& d, std::string_view bytes) {
                 EXPECT_EQ(Sha256Of(bytes), d);
                 EXPECT_TRUE(seen.insert(std::string(bytes)).second);
                 return absl::OkStatus();
               }).ok());
  EXPECT_EQ(seen, (std::set<std::string>{"", "same bytes", "sealed", "#!/bin/sh\necho hi\n"}));

  ASSERT_TRUE(r->ExtractTo(target_.get()).ok());
  auto want = testing::WalkTree(P("tree"));
  auto got = testing::WalkTree(P("jail/target"));
  EXPECT_EQ(want.size(), 15u);
  EXPECT_EQ(got, want);
  ExpectJailHoldsOnlyTarget();
  ::fchmodat(target_.get(), "ro", 0755, 0);
  ::fchmodat(tree_.get(), "ro", 0755, 0);
}

TEST_F(StoneTest, SameTreeAndMetaGiveByteIdenticalStones) {
  // Two trees with the same content created in different orders at different times.
  ASSERT_EQ(::mkdirat(tmp_->fd(), "tree2", 0755), 0);
  UniqueFd tree2 = *fs::OpenDirAt(tmp_->fd(), "tree2");
  ASSERT_EQ(::mkdirat(tree_.get(), "a", 0755), 0);
  Put(tree_.get(), "a/x", "x", 0644);
  Put(tree_.get(), "z", "zz", 0755);
  Put(tree2.get(), "z", "zz", 0755);
  ASSERT_EQ(::mkdirat(tree2.get(), "a", 0755), 0);
  Put(tree2.get(), "a/x", "x", 0644);
  WriteOptions o;
  o.source_date_epoch = 1700000000;
  ASSERT_TRUE(WriteBinaryStone(TestMeta(), tree_.get(), P("out/one.stone"), o).ok());
  ASSERT_TRUE(WriteBinaryStone(TestMeta(), tree2.get(), P("out/two.stone"), o).ok());
  EXPECT_EQ(ReadRaw(P("out/one.stone")), ReadRaw(P("out/two.stone")));
  o.source_date_epoch = 1700000001;
  ASSERT_TRUE(WriteBinaryStone(TestMeta(), tree_.get(), P("out/three.stone"), o).ok());
  EXPECT_NE(ReadRaw(P("out/one.stone")), ReadRaw(P("out/three.stone")));
  auto r = StoneReader::Open(P("out/three.stone"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->source_date_epoch(), 1700000001u);
}

TEST_F(StoneTest, ScanTreePlusWriteFromEqualsWriteFromTree) {
  ASSERT_EQ(::mkdirat(tree_.get(), "bin", 0755), 0);
  Put(tree_.get(), "bin/b", std::string(300000, 'b'), 0755);
  Put(tree_.get(), "bin/a", "aaa", 0644);
  Put(tree_.get(), "c", "aaa", 0600);
  ASSERT_EQ(::symlinkat("bin/a", tree_.get(), "l"), 0);
  auto layout = ScanTree(tree_.get());
  ASSERT_TRUE(layout.ok()) << layout.status();
  ASSERT_EQ(layout->size(), 5u);
  EXPECT_EQ((*layout)[0].path, "bin");
  EXPECT_EQ((*layout)[1].path, "bin/a");
  EXPECT_EQ((*layout)[1].digest, Sha256Of("aaa"));
  EXPECT_EQ((*layout)[2].size, 300000u);
  EXPECT_EQ((*layout)[3].mode, 0600u);
  EXPECT_EQ((*layout)[4].target, "bin/a");
  ASSERT_TRUE(WriteBinaryStone(TestMeta(), tree_.get(), P("out/tree.stone")).ok());
  int tree = tree_.get();
  ASSERT_TRUE(
      WriteBinaryStoneFrom(
          TestMeta(), *layout,
          [tree](const LayoutEntry& e, const std::function<absl::Status(std::string_view)>& emit) {
            auto bytes = fs::ReadFileAt(tree, e.path);
            if (!bytes.ok()) return bytes.status();
            // Odd chunk sizes: the stone must not depend on how bytes arrive.
            for (size_t i = 0; i < bytes->size(); i += 7777) {
              ONIX_RETURN_IF_ERROR(emit(std::string_view(*bytes).substr(i, 7777)));
            }
            return absl::OkStatus();
          },
          P("out/from.stone"))
          .ok());
  EXPECT_EQ(ReadRaw(P("out/tree.stone")), ReadRaw(P("out/from.stone")));
}

// Packs the tree at `tree` through ScanTree + WriteBinaryStoneFrom, which reads files in
// the sorted layout's order, to compare with WriteBinaryStone's walk.
absl::Status WriteFromScan(int tree, const std::string& out, const WriteOptions& options) {
  auto layout = ScanTree(tree, options);
  if (!layout.ok()) return layout.status();
  return WriteBinaryStoneFrom(
      TestMeta(), *layout,
      [tree](const LayoutEntry& e, const std::function<absl::Status(std::string_view)>& emit) {
        auto bytes = fs::ReadFileAt(tree, e.path);
        if (!bytes.ok()) return bytes.status();
        return emit(*bytes);
      },
      out, options);
}

TEST_F(StoneTest, WalkingWriterStoresContentInPathOrderWhateverTheNames) {
  // Names sorting before and after "/" ('-' '.' '+' '0' 'Z'), a directory whose name is a
  // prefix of files beside it, and non-ASCII bytes: the walk must still give files in the
  // order of their full paths, the order of Content.
  for (const char* d : {"a", "a/c", "a.d", "lib", "lib/x", "lib+", "Z", "caf\xc3\xa9"}) {
    ASSERT_EQ(::mkdirat(tree_.get(), d, 0755), 0) << d;
  }
  int n = 0;
  for (const char* f : {"a-b", "a/c/f", "a/c-f", "a/c.f", "a.d/e", "a0", "lib.so", "lib/x/y",
                        "lib/x-y", "lib+/z", "lib-", "Z/1", "caf\xc3\xa9/\xff", "zz", "A"}) {
    // Distinct contents, so any reordering changes the stone.
    Put(tree_.get(), f, StrCat("file ", f, " #", ++n, "\n"));
  }
  Put(tree_.get(), "lib/x/dup", "file a-b #1\n");
  ASSERT_EQ(::symlinkat("x/y", tree_.get(), "lib/l"), 0);
  ASSERT_TRUE(WriteBinaryStone(TestMeta(), tree_.get(), P("out/walk.stone")).ok());
  ASSERT_TRUE(WriteFromScan(tree_.get(), P("out/scan.stone"), {}).ok());
  EXPECT_EQ(ReadRaw(P("out/walk.stone")), ReadRaw(P("out/scan.stone")));

  auto r = StoneReader::Open(P("out/walk.stone"));
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<Digest> first_seen;
  for (const LayoutEntry& e : r->layout()) {
    if (e.kind != FileKind::kRegular) continue;
    if (std::find(first_seen.begin(), first_seen.end(), e.digest) == first_seen.end()) {
      first_seen.push_back(e.digest);
    }
  }
  ASSERT_EQ(r->content_index().size(), first_seen.size());
  for (size_t i = 0; i < first_seen.size(); ++i) {
    EXPECT_EQ(r->content_index()[i].digest, first_seen[i]) << "content record " << i;
  }
  EXPECT_EQ(r->layout().size(), 25u);
}

TEST_F(StoneTest, MultithreadedContentIsIdenticalForEveryThreadCount) {
  // Past kMultithreadThreshold (zstd workers) in files of mixed compressibility; the walk
  // decides the mode before it has seen the whole tree.
  ASSERT_EQ(::mkdirat(tree_.get(), "d", 0755), 0);
  std::string block;
  uint64_t x = 88172645463325252ull;
  uint64_t total = 0;
  for (int i = 0; total < kMultithreadThreshold + (1u << 20); ++i) {
    block.clear();
    const size_t size = 300000 + static_cast<size_t>(i) * 7919;
    while (block.size() < size) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;  // xorshift: random words between text
      block += StrCat("line ", i, " of a fairly repetitive file ", x % 1000, "\n");
    }
    Put(tree_.get(), StrCat(i % 3 ? "d/" : "", "f", i), block);
    total += block.size();
  }
  WriteOptions o;
  o.source_date_epoch = 1;
  std::string first;
  for (int threads : {1, 2, 4}) {
    o.threads = threads;
    const std::string out = P(StrCat("out/t", threads, ".stone"));
    ASSERT_TRUE(WriteBinaryStone(TestMeta(), tree_.get(), out, o).ok());
    if (first.empty()) {
      first = ReadRaw(out);
    } else {
      EXPECT_TRUE(ReadRaw(out) == first) << threads << " threads gave other bytes";
    }
  }
  o.threads = 0;
  ASSERT_TRUE(WriteFromScan(tree_.get(), P("out/scan.stone"), o).ok());
  EXPECT_TRUE(ReadRaw(P("out/scan.stone")) == first) << "the walking writer differs from ScanTree";
  auto r = StoneReader::Open(P("out/t1.stone"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->Verify().ok());
  EXPECT_EQ(r->payloads()[1].plain_length, total);
}

TEST_F(StoneTest, WalkingWriterRefusesLayoutRuleBreaksAndLeavesNoFile) {
  ASSERT_EQ(::mkdirat(tree_.get(), "bin", 0755), 0);
  Put(tree_.get(), "bin/a", "a");
  Put(tree_.get(), "bin/su", "su", 04755);
  auto s = WriteBinaryStone(TestMeta(), tree_.get(), P("out/su.stone"));
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("setuid/setgid"), std::string::npos) << s;
  ASSERT_EQ(::unlinkat(tree_.get(), "bin/su", 0), 0);
  ASSERT_EQ(::symlinkat("../../etc/shadow", tree_.get(), "bin/escape"), 0);
  s = WriteBinaryStone(TestMeta(), tree_.get(), P("out/escape.stone"));
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("bin/escape"), std::string::npos) << s;
  EXPECT_TRUE(testing::WalkTree(P("out")).empty());
}

TEST_F(StoneTest, WriterRefusesFifosAndSocketsAndLeavesNoFile) {
  Put(tree_.get(), "ok", "fine");
  ASSERT_EQ(::mkfifoat(tree_.get(), "pipe", 0644), 0);
  auto s = WriteBinaryStone(TestMeta(), tree_.get(), P("out/bad.stone"));
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("'pipe' is a device node, fifo or socket"), std::string::npos) << s;
  ASSERT_EQ(::unlinkat(tree_.get(), "pipe", 0), 0);

  int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string sock_path = P("tree/sock");
  if (sock_path.size() < sizeof(addr.sun_path)) {
    std::strcpy(addr.sun_path, sock_path.c_str());
    ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_TRUE(
        absl::IsInvalidArgument(WriteBinaryStone(TestMeta(), tree_.get(), P("out/bad.stone"))));
  }
  ::close(sock);
  EXPECT_TRUE(testing::WalkTree(P("out")).empty());
}

TEST_F(StoneTest, WriterFromLayoutRefusesLyingContentAndLeavesNoFile) {
  std::vector<LayoutEntry> layout = {Dir("bin"), File("bin/a", "aaaa")};
  auto s = WriteBinaryStoneFrom(
      TestMeta(), layout,
      [](const LayoutEntry&, const std::function<absl::Status(std::string_view)>& emit) {
        return emit("bbbb");
      },
      P("out/lie.stone"));
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(s.message().find("content changed"), std::string::npos) << s;
  EXPECT_TRUE(testing::WalkTree(P("out")).empty());
}

TEST_F(StoneTest, SetuidNeedsAllowSetidInMeta) {
  std::vector<LayoutEntry> layout = {Dir("bin"), File("bin/su", "su", 04755)};
  auto source = [](const LayoutEntry&, const std::function<absl::Status(std::string_view)>& emit) {
    return emit("su");
  };
  auto s = WriteBinaryStoneFrom(TestMeta(), layout, source, P("out/su.stone"));
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_NE(s.message().find("setuid/setgid"), std::string::npos) << s;
  Meta m = TestMeta();
  m.allow_setid = true;
  ASSERT_TRUE(WriteBinaryStoneFrom(m, layout, source, P("out/su.stone")).ok());
  auto r = StoneReader::Open(P("out/su.stone"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->layout()[1].mode, 04755u);
}

TEST_F(StoneTest, ManifestAndIndexStonesRoundTrip) {
  std::vector<LayoutEntry> layout = {File("b", "b"), Dir("a"), Link("a/l", "../b")};
  ASSERT_TRUE(WriteManifestStone(TestMeta(), layout, P("out/m.stone")).ok());
  auto m = StoneReader::Open(P("out/m.stone"));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->type(), StoneType::kManifest);
  ASSERT_EQ(m->layout().size(), 3u);
  EXPECT_EQ(m->layout()[0].path, "a");
  EXPECT_EQ(m->layout()[1].target, "../b");
  EXPECT_FALSE(m->ExtractTo(target_.get()).ok());

  IndexRecord r1{TestMeta("zlib"), Sha256Of("z"), 123, "zlib-1.0-2-1-x86_64.stone"};
  IndexRecord r2{TestMeta("bash"), Sha256Of("b"), 456, "bash-1.0-2-1-x86_64.stone"};
  ASSERT_TRUE(WriteIndexStone({r1, r2}, P("out/index.stone")).ok());
  auto i = StoneReader::Open(P("out/index.stone"));
  ASSERT_TRUE(i.ok()) << i.status();
  EXPECT_EQ(i->type(), StoneType::kIndex);
  ASSERT_EQ(i->index_records().size(), 2u);
  EXPECT_EQ(i->index_records()[0], r2);  // sorted by name
  EXPECT_EQ(i->index_records()[1], r1);
}

TEST(ValidateLayout, EnforcesPathRules) {
  struct Case {
    std::vector<LayoutEntry> layout;
    std::string why;
  };
  const std::vector<Case> cases = {
      {{File("../evil", "x")}, "'..' component"},
      {{File("/etc/passwd", "x")}, "absolute path"},
      {{Dir("a"), File("a//b", "x")}, "empty path component"},
      {{Dir("a"), File("a/./b", "x")}, "'.' component"},
      {{File(std::string("a\0b", 3), "x")}, "NUL"},
      {{File("a", "x"), File("a", "y")}, "duplicate path"},
      {{File("b", "x"), File("a", "y")}, "not sorted"},
      {{File("a/b", "x")}, "parent directory is not in the layout"},
      {{Link("l", "d"), Dir("d"), File("l/f", "x")}, "not sorted"},
      {{Dir("d"), Link("l", "d"), File("l/f", "x")}, "parent is not a directory"},
      {{Dir("lib"), Link("lib/x", "../../etc")}, "resolves outside /usr"},
      {{Link("x", "/etc/shadow")}, "outside /usr"},
      {{Link("a", "."), Link("b", "a/..")}, "resolves outside /usr"},
      {{Link("a", "b"), Link("b", "a")}, "too many levels"},
      {{File("s", "x", 02755)}, "setuid/setgid"},
  };
  for (const auto& c : cases) {
    auto s = ValidateLayout(c.layout, false);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << c.why;
    EXPECT_NE(s.message().find(c.why), std::string::npos) << s << " (wanted: " << c.why << ")";
  }
  EXPECT_TRUE(ValidateLayout({Dir("lib"), Link("lib/x", "../bin/y"), Link("y", "/usr/lib/x"),
                              Link("z", "/usr")},
                             false)
                  .ok());
}

// Issue 30: paths moss owns inside /usr and owners chown cannot express. (Paths are bytes:
// non-UTF-8 names stay valid, see WalkingWriterStoresContentInPathOrderWhateverTheNames.)
TEST(ValidateLayout, RefusesReservedPathsAndTheNoOwnerId) {
  auto owned = [](LayoutEntry e, uint32_t uid, uint32_t gid) {
    e.uid = uid;
    e.gid = gid;
    return e;
  };
  struct Case {
    std::vector<LayoutEntry> layout;
    std::string why;
  };
  const std::vector<Case> cases = {
      {{File(".fstx", "1-abcd\ntoken\n")}, "reserved path: moss owns /usr/.fstx"},
      {{Dir(".fstx")}, "reserved path"},
      {{Link(".fstx", "bin/x")}, "reserved path"},
      {{File(".fstx.tmp-123", "x")}, "reserved path"},
      {{Dir("bin"), File("bin/.moss-repair-sh", "x")}, "reserved name"},
      {{File(".moss-anything", "x")}, "reserved name"},
      {{owned(File("f", "x"), 0xFFFFFFFFu, 0)}, "owner 4294967295"},
      {{owned(File("f", "x"), 0, 0xFFFFFFFFu)}, "owner 4294967295"},
  };
  for (const auto& c : cases) {
    auto s = ValidateLayout(c.layout, false);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << c.why;
    EXPECT_NE(s.message().find(c.why), std::string::npos) << s << " (wanted: " << c.why << ")";
  }
  // Lookalikes are ordinary paths, and a control character is quoted escaped in the message.
  EXPECT_TRUE(ValidateLayout({File(".fstxx", "z"), File("caf\xc3\xa9", "w"), Dir("d"),
                              File("d/.fstx", "x"), File("fstx", "y")},
                             false)
                  .ok());
  auto s = ValidateLayout({File("a\x1b[2J", "x"), File("a\x1b[2J", "y")}, false);
  EXPECT_NE(s.message().find("layout path 'a\\x1b[2J': duplicate path"), std::string::npos) << s;
}

TEST_F(StoneTest, AStoneShippingFstxIsRefusedByTheReaderAndTheWriter) {
  auto r = OpenCrafted("fstx.stone",
                       BinaryParts(TestMeta(), {File(".fstx", "9-ffff\nt\n")}, {"9-ffff\nt\n"}));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
  EXPECT_NE(r.status().message().find("reserved path"), std::string::npos) << r.status();
  Put(tree_.get(), ".fstx", "9-ffff\nt\n");
  absl::Status w = WriteBinaryStone(TestMeta(), tree_.get(), P("out/w.stone"));
  EXPECT_TRUE(absl::IsInvalidArgument(w)) << w;
  EXPECT_FALSE(std::filesystem::exists(P("out/w.stone")));
}

// --- hostile stones, crafted byte by byte -----------------------------------------------

TEST_F(StoneTest, RefusesPathTraversalNamingFileAndPayload) {
  auto raw = BinaryParts(TestMeta(), {File("../escape", "pwned")}, {"pwned"});
  auto r = OpenCrafted("traversal.stone", raw);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
  const std::string msg(r.status().message());
  EXPECT_NE(msg.find(P("out/traversal.stone")), std::string::npos) << msg;
  EXPECT_NE(msg.find("payload 2 (layout)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'..' component"), std::string::npos) << msg;
  ExpectJailHoldsOnlyTarget();
}

TEST_F(StoneTest, RefusesSymlinkEscapesAndPathsBelowSymlinks) {
  std::vector<std::vector<LayoutEntry>> layouts = {
      {Dir("lib"), Link("lib/up", "../../../etc")},
      {Link("abs", "/etc")},
      {Dir("d"), Link("l", "d"), File("l/f", "x")},
      {Link("a", "."), Link("b", "a/.."), File("c", "x")},
  };
  for (size_t i = 0; i < layouts.size(); ++i) {
    auto r = OpenCrafted("link.stone", BinaryParts(TestMeta(), layouts[i], {"x"}));
    ASSERT_FALSE(r.ok()) << "layout " << i;
    EXPECT_NE(r.status().message().find("payload 2 (layout)"), std::string::npos) << r.status();
  }
  ExpectJailHoldsOnlyTarget();
}

TEST_F(StoneTest, RefusesOverlappingIndexRanges) {
  auto raw = BinaryParts(TestMeta(), {File("a", "aaaa"), File("b", "bbbb")}, {"aaaa", "bbbb"});
  std::vector<ContentRange> index = {{Sha256Of("aaaa"), 0, 4}, {Sha256Of("bbbb"), 2, 4}};
  raw.payloads[internal::kBinaryIndex].stored = internal::EncodeIndex(index);
  auto r = OpenCrafted("overlap.stone", raw);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("overlapping or gapped"), std::string::npos) << r.status();

  // The same digest twice: two ranges that would both claim one path's bytes.
  raw = BinaryParts(TestMeta(), {File("a", "aaaa")}, {"aaaa", "aaaa"});
  r = OpenCrafted("repeat.stone", raw);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("repeats"), std::string::npos) << r.status();
}

TEST_F(StoneTest, RefusesLyingLengths) {
  const auto base = BinaryParts(TestMeta(), {File("a", "hello")}, {"hello"});
  {  // The header claims a bigger file (as after truncation).
    auto raw = base;
    raw.file_size = 100000;
    auto r = OpenCrafted("size.stone", raw);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("header declares 100000 bytes"), std::string::npos)
        << r.status();
  }
  {  // A truncated real stone.
    std::string bytes = Craft(base);
    for (size_t cut : {size_t{0}, size_t{10}, size_t{40}, bytes.size() / 2, bytes.size() - 1}) {
      WriteRaw(P("out/cut.stone"), bytes.substr(0, cut));
      auto r = StoneReader::Open(P("out/cut.stone"));
      EXPECT_FALSE(r.ok()) << "cut at " << cut;
    }
  }
  {  // The layout says 5 records but holds one.
    auto raw = base;
    raw.payloads[internal::kBinaryLayout].record_count = 5;
    auto r = OpenCrafted("count.stone", raw);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("declares 5 records"), std::string::npos) << r.status();
  }
  {  // The layout claims the file is 6 bytes; its range holds 5.
    auto raw = base;
    auto e = File("a", "hello");
    e.size = 6;
    raw.payloads[internal::kBinaryLayout].stored = internal::EncodeLayout({e});
    auto r = OpenCrafted("entry.stone", raw);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("has size 6"), std::string::npos) << r.status();
  }
  {  // A compressed layout declaring far more plain bytes than its frame decodes to.
    auto raw = base;
    auto& layout = raw.payloads[internal::kBinaryLayout];
    layout.plain_length = static_cast<int64_t>(layout.stored.size()) * 1000;
    layout.stored = *internal::ZstdCompress(layout.stored, 3);
    layout.compression = Compression::kZstd;
    auto r = OpenCrafted("short-frame.stone", raw);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("payload 2 (layout): decompresses to"), std::string::npos)
        << r.status();
  }
  {  // Uncompressed payload whose plain length disagrees with its stored length.
    auto raw = base;
    raw.payloads[internal::kBinaryContent].plain_length = 4;
    auto r = OpenCrafted("plain.stone", raw);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("payload header 1"), std::string::npos) << r.status();
  }
}

TEST_F(StoneTest, RefusesZipBombSizedContent) {
  {  // Declared size above the reader's limit: refused at Open, before any decompression.
    auto raw = BinaryParts(TestMeta(), {File("a", "x")}, {"x"});
    raw.payloads[internal::kBinaryContent].compression = Compression::kZstd;
    raw.payloads[internal::kBinaryContent].stored = std::string(ZSTD_compressBound(1), 'x');
    raw.payloads[internal::kBinaryContent].plain_length = int64_t{1} << 40;
    auto r = OpenCrafted("bomb.stone", raw);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("above the limit"), std::string::npos) << r.status();
  }
  {  // Content that decompresses to far more than declared: stopped at the declared length.
    const std::string small(4096, '\0');
    auto raw = BinaryParts(TestMeta(), {File("a", small)}, {small});
    std::string big(64 << 20, '\0');
    raw.payloads[internal::kBinaryContent].compression = Compression::kZstd;
    raw.payloads[internal::kBinaryContent].stored = *internal::ZstdCompress(big, 3);
    raw.payloads[internal::kBinaryContent].plain_length = 4096;
    auto r = OpenCrafted("bomb2.stone", raw);
    ASSERT_TRUE(r.ok()) << r.status();
    auto s = r->ExtractTo(target_.get());
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("content"), std::string::npos) << s;
    struct stat st;
    if (::fstatat(target_.get(), "a", &st, AT_SYMLINK_NOFOLLOW) == 0) {
      EXPECT_LE(st.st_size, 4096);
    }
    EXPECT_FALSE(r->Verify().ok());
  }
  ExpectJailHoldsOnlyTarget();
}

TEST_F(StoneTest, DetectsCorruptionWithDataLoss) {
  ASSERT_EQ(::mkdirat(tree_.get(), "d", 0755), 0);
  Put(tree_.get(), "d/f", std::string(100000, 'q'));
  ASSERT_TRUE(WriteBinaryStone(TestMeta(), tree_.get(), P("out/ok.stone")).ok());
  std::string bytes = ReadRaw(P("out/ok.stone"));
  {  // A flipped bit in the content payload: Open succeeds, Verify fails.
    auto good = StoneReader::Open(P("out/ok.stone"));
    ASSERT_TRUE(good.ok());
    const PayloadInfo& content = good->payloads()[internal::kBinaryContent];
    ASSERT_EQ(content.kind, PayloadKind::kContent);
    std::string bad = bytes;
    bad[content.file_offset + content.stored_length / 2] ^= 0x10;
    WriteRaw(P("out/flip.stone"), bad);
    auto r = StoneReader::Open(P("out/flip.stone"));
    ASSERT_TRUE(r.ok()) << r.status();
    auto s = r->Verify();
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("payload 1 (content)"), std::string::npos) << s;
  }
  {  // A flipped checksum of the meta payload.
    auto raw = BinaryParts(TestMeta(), {File("a", "x")}, {"x"});
    raw.payloads[0].corrupt_checksum = true;
    auto r = OpenCrafted("meta.stone", raw);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(absl::IsDataLoss(r.status())) << r.status();
    EXPECT_NE(r.status().message().find("payload 0 (meta): checksum mismatch"), std::string::npos)
        << r.status();
  }
  {  // Content bytes that do not hash to their digest.
    auto raw = BinaryParts(TestMeta(), {File("a", "good")}, {"good"});
    raw.payloads[internal::kBinaryContent].stored = "evil";
    auto r = OpenCrafted("digest.stone", raw);
    ASSERT_TRUE(r.ok()) << r.status();
    auto s = r->ExtractTo(target_.get());
    EXPECT_TRUE(absl::IsDataLoss(s)) << s;
    EXPECT_NE(s.message().find("does not match its digest"), std::string::npos) << s;
  }
}

TEST_F(StoneTest, MetaRoundTripsEveryFieldAndRefusesMalformedRecords) {
  Meta m = TestMeta("full");
  m.description = "long text\nwith lines";
  m.homepage = "https://example.org";
  m.licenses = {"MIT", "Apache-2.0"};
  m.source_id = "full-src";
  m.depends.push_back({DepKind::kPkgconfig, "zlib", VersionOp::kGreaterEqual, "1.3"});
  m.conflicts = {{DepKind::kName, "other", VersionOp::kLess, "2"}};
  m.replaces = {{DepKind::kName, "old-full", VersionOp::kAny, ""}};
  m.allow_setid = true;
  std::vector<LayoutEntry> layout = {File("f", "x", 04755)};
  WriteOptions o;
  o.source_date_epoch = 42;
  ASSERT_TRUE(WriteBinaryStoneFrom(
                  m, layout,
                  [](const LayoutEntry&, const std::function<absl::Status(std::string_view)>& e) {
                    return e("x");
                  },
                  P("out/full.stone"), o)
                  .ok());
  auto r = StoneReader::Open(P("out/full.stone"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->meta(), m);
  EXPECT_EQ(r->source_date_epoch(), 42u);

  internal::ByteWriter w;  // name twice
  for (int i = 0; i < 2; ++i) {
    w.U16(1);
    w.U8(1);
    w.U8(0);
    w.U32(3);
    w.Bytes("abc");
  }
  auto raw = BinaryParts(TestMeta(), {File("a", "x")}, {"x"});
  raw.payloads[internal::kBinaryMeta].stored = w.str();
  auto bad = OpenCrafted("twice.stone", raw);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("payload 0 (meta): meta record 1 at offset 11: repeated"),
            std::string::npos)
      << bad.status();
  // A record whose length runs past the payload.
  raw.payloads[internal::kBinaryMeta].stored = w.str().substr(0, 9);
  bad = OpenCrafted("short.stone", raw);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("runs past the payload"), std::string::npos)
      << bad.status();
}

TEST_F(StoneTest, RefusesDeviceNodeRecordsAndUnknownKinds) {
  auto raw = BinaryParts(TestMeta(), {File("a", "x")}, {"x"});
  raw.payloads[internal::kBinaryLayout].stored[0] = 4;  // the record's file type byte
  auto r = OpenCrafted("dev.stone", raw);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown file type 4"), std::string::npos) << r.status();
  raw = BinaryParts(TestMeta(), {File("a", "x")}, {"x"});
  std::swap(raw.payloads[0], raw.payloads[1]);
  r = OpenCrafted("order.stone", raw);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("payload 0 is content"), std::string::npos) << r.status();
}

TEST_F(StoneTest, ExtractNeverReplacesExistingEntriesOrFollowsPlantedSymlinks) {
  // A symlink planted in the target where the layout has a directory must not be followed.
  ASSERT_EQ(::symlinkat(P("jail").c_str(), target_.get(), "bin"), 0);
  std::vector<LayoutEntry> layout = {Dir("bin"), File("bin/x", "x")};
  ASSERT_TRUE(WriteBinaryStoneFrom(
                  TestMeta(), layout,
                  [](const LayoutEntry&, const std::function<absl::Status(std::string_view)>& e) {
                    return e("x");
                  },
                  P("out/plant.stone"))
                  .ok());
  auto r = StoneReader::Open(P("out/plant.stone"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->ExtractTo(target_.get()).ok());
  ExpectJailHoldsOnlyTarget();
  struct stat st;
  EXPECT_NE(::stat(P("jail/x").c_str(), &st), 0);
}

TEST_F(StoneTest, TruncationsAndBitFlipsNeverCrash) {
  ASSERT_EQ(::mkdirat(tree_.get(), "d", 0755), 0);
  Put(tree_.get(), "d/f", "content of f");
  ASSERT_EQ(::symlinkat("d/f", tree_.get(), "l"), 0);
  ASSERT_TRUE(WriteBinaryStone(TestMeta(), tree_.get(), P("out/ok.stone")).ok());
  const std::string bytes = ReadRaw(P("out/ok.stone"));
  for (size_t i = 0; i < bytes.size(); i += 7) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x41);
    WriteRaw(P("out/fuzz.stone"), bad);
    auto r = StoneReader::Open(P("out/fuzz.stone"));
    if (r.ok()) (void)r->Verify();  // must not crash; either outcome is acceptable
  }
  auto r = StoneReader::Open(P("out/ok.stone"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->Verify().ok());
}

}  // namespace
}  // namespace onix::stone
