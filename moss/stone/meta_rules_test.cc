// The spec's Meta rules as the reader, the writer and the index decoder enforce them: one
// name/version rule, UTF-8 without control characters, string and size caps, the declared
// record count, and tag 17 (input).
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "moss/base/str_cat.h"
#include "moss/base/temp_dir.h"
#include "moss/stone/format.h"
#include "moss/stone/stone.h"
#include "moss/stone/testing.h"
#include "moss/stone/types.h"

namespace onix::stone {
namespace {

using onix::EscapeControl;
using onix::StrCat;
using testing::BinaryParts;
using testing::Craft;
using testing::File;
using testing::RawStone;
using testing::TestMeta;

// Names (and versions) that would be a path, a hidden or special git tree entry, a forged
// line on a terminal, or an unbounded string.
const std::vector<std::string>& HostileNames() {
  static const std::vector<std::string> names = {"",           ".",
                                                 "..",         ".git",
                                                 "../..",      "/",
                                                 "a/b",        "-rf",
                                                 "a b",        "a\nb",
                                                 "a\x1b[2Jb",  std::string("a\0b", 3),
                                                 "a\x7f",      std::string(129, 'a'),
                                                 "caf\xc3\xa9"};
  return names;
}

class MetaRulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::Make("meta-rules-");
    ASSERT_TRUE(t.ok()) << t.status();
    tmp_ = std::make_unique<TempDir>(*std::move(t));
  }
  absl::StatusOr<StoneReader> Open(const RawStone& raw) {
    const std::string path = tmp_->path() + "/s" + std::to_string(n_++) + ".stone";
    std::ofstream(path, std::ios::binary) << Craft(raw);
    return StoneReader::Open(path);
  }
  absl::Status Write(const Meta& m) {
    return WriteBinaryStoneFrom(
        m, {File("f", "x")},
        [](const LayoutEntry&, const std::function<absl::Status(std::string_view)>& e) {
          return e("x");
        },
        tmp_->path() + "/w" + std::to_string(n_++) + ".stone");
  }
  std::unique_ptr<TempDir> tmp_;
  int n_ = 0;
};

TEST(ValidatePackageName, AcceptsTheNamesOfTheStoneSet) {
  const std::vector<std::string> names = {
      "busybox",     "onix-nix-integration", "libstdc++", "gcc-libs", "zstd",
      "mesa-bridge", "python3.11",           "a",         "0ad",      std::string(128, 'x')};
  for (const std::string& n : names) {
    EXPECT_TRUE(ValidatePackageName(n).ok()) << n;
  }
  for (const char* v : {"1.2.3", "1:1.35.0-4+deb12u1", "2.8.0~rc1", "0.1", "6.1.192", "1.0^git1"}) {
    EXPECT_TRUE(ValidateVersion(v).ok()) << v;
  }
}

TEST(ValidatePackageName, RefusesPathsDotsControlCharactersAndLongNames) {
  for (const std::string& n : HostileNames()) {
    absl::Status s = ValidatePackageName(n);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << EscapeControl(n);
    // The message quotes the name with its control characters escaped.
    EXPECT_EQ(std::string(s.message()).find_first_of(std::string("\n\x1b\x7f\0", 4)),
              std::string::npos)
        << s;
    EXPECT_TRUE(absl::IsInvalidArgument(ValidateVersion(n))) << EscapeControl(n);
  }
}

TEST(IsValidUtf8, RefusesMalformedOverlongSurrogateAndOutOfRangeSequences) {
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  for (const char* bad : {"\xff", "\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
                          "\xf4\x90\x80\x80", "\x80", "a\xe2\x82"}) {
    EXPECT_FALSE(IsValidUtf8(bad)) << EscapeControl(bad);
  }
}

TEST_F(MetaRulesTest, ReaderAndWriterRefuseHostileNamesAndVersions) {
  for (const std::string& n : HostileNames()) {
    if (n.empty() || n.find('\0') != std::string::npos) continue;  // "no name", "NUL": other rules
    Meta m = TestMeta();
    m.name = n;
    auto r = Open(BinaryParts(m, {File("f", "x")}, {"x"}));
    ASSERT_FALSE(r.ok()) << EscapeControl(n);
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
    EXPECT_NE(r.status().message().find("payload 0 (meta)"), std::string::npos) << r.status();
    EXPECT_TRUE(absl::IsInvalidArgument(Write(m))) << EscapeControl(n);

    m = TestMeta();
    m.version = n;
    r = Open(BinaryParts(m, {File("f", "x")}, {"x"}));
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << EscapeControl(n);
    EXPECT_TRUE(absl::IsInvalidArgument(Write(m))) << EscapeControl(n);
  }
}

TEST_F(MetaRulesTest, IndexRecordsWithHostileNamesAreRefused) {
  IndexRecord rec;
  rec.meta = TestMeta("..");
  rec.file_name = "x.stone";
  RawStone raw;
  raw.type = StoneType::kIndex;
  raw.payloads.push_back(
      {PayloadKind::kPackages, Compression::kNone, 1, internal::EncodePackages({rec})});
  auto r = Open(raw);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  EXPECT_NE(r.status().message().find("package record 0"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("bad package name '..'"), std::string::npos) << r.status();
}

TEST_F(MetaRulesTest, ReaderRefusesInvalidUtf8AndControlCharactersInStrings) {
  for (const char* text : {"bad \xff byte", "overlong \xc0\xaf", "esc \x1b[31m", "line\nbreak"}) {
    Meta m = TestMeta();
    m.summary = text;
    auto r = Open(BinaryParts(m, {File("f", "x")}, {"x"}));
    ASSERT_FALSE(r.ok()) << EscapeControl(text);
    EXPECT_NE(r.status().message().find("summary"), std::string::npos) << r.status();
    EXPECT_TRUE(absl::IsInvalidArgument(Write(m)));
  }
  Meta m = TestMeta();
  m.description = "bad \xfe";
  EXPECT_FALSE(Open(BinaryParts(m, {File("f", "x")}, {"x"})).ok());
  m.description = "two\nlines\tand a tab";  // the description may be multi-line
  EXPECT_TRUE(Open(BinaryParts(m, {File("f", "x")}, {"x"})).ok());
  m = TestMeta();
  m.depends.push_back({DepKind::kName, "dep\xff", VersionOp::kAny, ""});
  EXPECT_FALSE(Open(BinaryParts(m, {File("f", "x")}, {"x"})).ok());
}

TEST_F(MetaRulesTest, MetaRecordCountMustEqualTheRecordsThere) {
  auto honest = BinaryParts(TestMeta(), {File("f", "x")}, {"x"});
  ASSERT_TRUE(Open(honest).ok());
  const uint32_t n = honest.payloads[internal::kBinaryMeta].record_count;
  for (uint32_t lie : {0u, n - 1, n + 1, 1000000u}) {
    auto raw = honest;
    raw.payloads[internal::kBinaryMeta].record_count = lie;
    auto r = Open(raw);
    ASSERT_FALSE(r.ok()) << lie;
    EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
    EXPECT_NE(r.status().message().find(StrCat("declares ", lie, " records but holds ", n)),
              std::string::npos)
        << r.status();
  }
}

TEST_F(MetaRulesTest, MetaStringsAndTheWholeMetaAreCapped) {
  Meta m = TestMeta();
  m.description = std::string(kMaxDescriptionLength, 'd');
  EXPECT_TRUE(Open(BinaryParts(m, {File("f", "x")}, {"x"})).ok());
  m.description += "d";
  auto r = Open(BinaryParts(m, {File("f", "x")}, {"x"}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("description is 65537 bytes, more than the limit of 65536"),
            std::string::npos)
      << r.status();
  EXPECT_TRUE(absl::IsInvalidArgument(Write(m)));
  for (std::string Meta::*field : {&Meta::summary, &Meta::homepage, &Meta::architecture}) {
    m = TestMeta();
    m.*field = std::string(kMaxMetaStringLength + 1, 's');
    EXPECT_FALSE(Open(BinaryParts(m, {File("f", "x")}, {"x"})).ok());
    EXPECT_TRUE(absl::IsInvalidArgument(Write(m)));
  }
  m = TestMeta();
  m.licenses.assign(300, std::string(4000, 'l'));  // each allowed, together > 1 MiB
  r = Open(BinaryParts(m, {File("f", "x")}, {"x"}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("above the Meta limit"), std::string::npos) << r.status();
  EXPECT_TRUE(absl::IsInvalidArgument(Write(m)));
  // A compressed Meta declaring a huge plain length is refused before it is decompressed.
  auto raw = BinaryParts(TestMeta(), {File("f", "x")}, {"x"});
  raw.payloads[internal::kBinaryMeta].compression = Compression::kZstd;
  raw.payloads[internal::kBinaryMeta].plain_length = 255 << 20;
  r = Open(raw);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("above the Meta limit"), std::string::npos) << r.status();
}

TEST_F(MetaRulesTest, InputTag17RoundTripsInOrderThroughBinaryAndIndexStones) {
  Meta m = TestMeta();
  m.inputs = {"upstream https://example.org/a.tar.gz sha256:" + std::string(64, 'a'),
              "debian-source busybox 1:1.35.0-4+deb12u1 busybox_1.35.0.orig.tar.bz2 sha256:" +
                  std::string(64, 'b')};
  uint32_t count = 0;
  const std::string bytes = internal::EncodeMeta(m, 0, &count);
  EXPECT_NE(bytes.find(std::string("\x11\x00\x01\x00", 4)), std::string::npos);  // tag 17, string
  auto r = Open(BinaryParts(m, {File("f", "x")}, {"x"}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->meta().inputs, m.inputs);
  IndexRecord rec{m, Digest{}, 1, "demo.stone"};
  auto decoded = internal::DecodePackages(internal::EncodePackages({rec}), 1);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ((*decoded)[0].meta.inputs, m.inputs);
  m.inputs = {"bad\ninput"};
  EXPECT_FALSE(Open(BinaryParts(m, {File("f", "x")}, {"x"})).ok());
}

TEST_F(MetaRulesTest, UnknownTagsOfAKnownTypeAreSkippedAndCounted) {
  auto raw = BinaryParts(TestMeta(), {File("f", "x")}, {"x"});
  internal::ByteWriter w;
  w.U16(99);
  w.U8(1);
  w.U8(0);
  w.U32(3);
  w.Bytes("new");
  raw.payloads[internal::kBinaryMeta].stored += w.str();
  raw.payloads[internal::kBinaryMeta].record_count += 1;
  auto r = Open(raw);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->meta(), TestMeta());
}

// The spec and the reader agree: index records are sorted and unique, payloads come in the
// one order of their stone type.
TEST_F(MetaRulesTest, IndexRecordsOutOfOrderOrRepeatedAreRefused) {
  auto rec = [](std::string name) {
    return IndexRecord{TestMeta(std::move(name)), Digest{}, 1, "f.stone"};
  };
  auto open_index = [&](const std::vector<IndexRecord>& recs) {
    RawStone raw;
    raw.type = StoneType::kIndex;
    raw.payloads.push_back({PayloadKind::kPackages, Compression::kNone,
                            static_cast<uint32_t>(recs.size()), internal::EncodePackages(recs)});
    return Open(raw);
  };
  EXPECT_TRUE(open_index({rec("a"), rec("b")}).ok());
  auto r = open_index({rec("b"), rec("a")});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("package record 1 (a 1.0-2-1) is not sorted after b"),
            std::string::npos)
      << r.status();
  IndexRecord again = rec("a");
  again.file_name = "g.stone";
  r = open_index({rec("a"), again});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("package record 1 repeats a 1.0-2-1"), std::string::npos)
      << r.status();
}

TEST_F(MetaRulesTest, PayloadsOutOfTheirOrderAreRefused) {
  auto raw = BinaryParts(TestMeta(), {File("f", "x")}, {"x"});
  std::swap(raw.payloads[1], raw.payloads[2]);  // Layout before Content
  auto r = Open(raw);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
  EXPECT_NE(r.status().message().find("payload 1 is layout where a binary stone has content"),
            std::string::npos)
      << r.status();
}

}  // namespace
}  // namespace onix::stone
