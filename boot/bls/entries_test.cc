// Hostile and malformed boot entries: names and contents ONIX did not write (an ESP is a
// shared FAT partition, and LoaderEntrySelected comes from firmware variables).

#include "boot/bls/entries.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "moss/base/temp_dir.h"

namespace onix::boot {
namespace {

TEST(ParseEntryFileName, AcceptsTheThreeShapesSystemdBootWrites) {
  auto plain = ParseEntryFileName("onix-6649-a17c.conf");
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->fstx, "6649-a17c");
  EXPECT_EQ(plain->tries_left, -1);
  EXPECT_EQ(plain->tries_done, -1);
  auto counted = ParseEntryFileName("onix-2-bbbb+3.conf");
  ASSERT_TRUE(counted.has_value());
  EXPECT_EQ(counted->fstx, "2-bbbb");
  EXPECT_EQ(counted->tries_left, 3);
  EXPECT_EQ(counted->tries_done, -1);
  auto done = ParseEntryFileName("onix-2-bbbb+0-3.conf");
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->tries_left, 0);
  EXPECT_EQ(done->tries_done, 3);
}

TEST(ParseEntryFileName, RefusesMalformedAndHostileNames) {
  const std::vector<std::string> names = {
      "",
      "onix-.conf",                         // no state id
      "onix-+3.conf",                       // a counter and no state id
      "onix-1-aaaa+.conf",                  // an empty counter
      "onix-1-aaaa+-1.conf",                // an empty tries-left
      "onix-1-aaaa+3-.conf",                // an empty tries-done
      "onix-1-aaaa+x.conf",                 // not a number
      "onix-1-aaaa+-3.conf",                // a sign
      "onix-1-aaaa+99999.conf",             // more digits than a counter has
      "onix-1-aaaa+1-2-3.conf",             // two dashes in the counter
      "onix-1-aaaa+1+2.conf",               // '+' left in the state id
      "onix-../x.conf",                     // a path
      "onix-a/b.conf",                      // a path
      "onix-...conf",                       // a state id of ".."
      "onix-..conf",                        // a state id of "."
      "onix-1-aaaa\n.conf",                 // a newline
      "onix-1 aaaa.conf",                   // a space
      std::string("onix-1-a\0a.conf", 15),  // a NUL byte
      "onix-1-aaaa.conf.bak",               // not .conf
      "ONIX-1-aaaa.conf",                   // another prefix
      "onix-1-aaaa.CONF",                   // another suffix
      "other-1-aaaa.conf",
      std::string("onix-") + std::string(300, 'a') + ".conf",  // longer than an fstx is
  };
  for (const std::string& bad : names) {
    EXPECT_FALSE(ParseEntryFileName(bad).has_value()) << "accepted: '" << bad << "'";
  }
}

TEST(ParseEntry, ReadsTheKeysOnixWritesAndIgnoresTheRest) {
  const BootEntry e = ParseEntry("onix-1-aaaa+3.conf",
                                 "# comment\n"
                                 "title   ONIX 1-aaaa\r\n"
                                 "\tversion 1-aaaa\n"
                                 "sort-key onix-0\n"
                                 "linux /onix/abc/vmlinuz\n"
                                 "initrd /onix/abc/initrd\n"
                                 "options root=LABEL=onixroot   moss.fstx=1-aaaa  \n"
                                 "devicetree /x.dtb\n"
                                 "title\n"  // a key with no value replaces, never crashes
                                 "unknown-key with value\n"
                                 "   \n"
                                 "linux");  // no trailing newline, no value
  EXPECT_EQ(e.file, "onix-1-aaaa+3.conf");
  EXPECT_EQ(e.name.fstx, "1-aaaa");
  EXPECT_EQ(e.name.tries_left, 3);
  EXPECT_EQ(e.title, "");
  EXPECT_EQ(e.version, "1-aaaa");
  EXPECT_EQ(e.sort_key, "onix-0");
  EXPECT_EQ(e.linux, "");
  EXPECT_EQ(e.initrd, "/onix/abc/initrd");
  EXPECT_EQ(e.options, "root=LABEL=onixroot   moss.fstx=1-aaaa");
}

TEST(ParseEntry, SurvivesBinaryAndOversizedContent) {
  std::string junk;
  for (int i = 0; i < 4096; ++i) junk.push_back(static_cast<char>(i * 37 % 256));
  const BootEntry binary = ParseEntry("onix-1-aaaa.conf", junk);
  EXPECT_EQ(binary.name.fstx, "1-aaaa");
  const std::string huge = "options " + std::string(1 << 20, 'x');
  const BootEntry big = ParseEntry("onix-1-aaaa.conf", huge);
  EXPECT_EQ(big.options.size(), size_t{1} << 20);
  // A file name ParseEntryFileName refuses leaves the name empty instead of half-parsed.
  const BootEntry unnamed = ParseEntry("onix-../x.conf", "title x\n");
  EXPECT_EQ(unnamed.name.fstx, "");
  EXPECT_EQ(unnamed.title, "x");
}

class EntriesDir : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = onix::TempDir::Make("boot-entries-");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<onix::TempDir>(std::move(*dir));
    entries_ = dir_->path() + "/loader/entries";
    ASSERT_EQ(::mkdir((dir_->path() + "/loader").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir(entries_.c_str(), 0755), 0);
  }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(entries_ + "/" + name, std::ios::binary) << text;
  }
  std::unique_ptr<onix::TempDir> dir_;
  std::string entries_;
};

TEST_F(EntriesDir, ListSkipsNamesThatAreNotOnixEntries) {
  Write("onix-1-aaaa+3.conf", "title one\n");
  Write("onix-...conf", "title dots\n");
  Write("onix-1-aaaa+1+2.conf", "title plus\n");
  Write("debian.conf", "title other\n");
  auto list = ListOnixEntries(dir_->path());
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->front().title, "one");
}

TEST_F(EntriesDir, AnOversizedEntryIsAnErrorNamingIt) {
  Write("onix-1-aaaa.conf", "title " + std::string((1 << 20) + 10, 'x') + "\n");
  auto list = ListOnixEntries(dir_->path());
  ASSERT_FALSE(list.ok());
  EXPECT_NE(std::string(list.status().message()).find("onix-1-aaaa.conf"), std::string::npos)
      << list.status();
}

TEST_F(EntriesDir, AnEntryThatIsASymlinkIsNotFollowed) {
  std::ofstream(dir_->path() + "/secret", std::ios::binary) << "title secret\n";
  ASSERT_EQ(::symlink("../../secret", (entries_ + "/onix-1-aaaa.conf").c_str()), 0);
  auto list = ListOnixEntries(dir_->path());
  // Either refused (an error naming the entry) or listed without the target's content; never
  // the target read through the link.
  if (list.ok()) {
    for (const BootEntry& e : *list) EXPECT_NE(e.title, "secret");
  } else {
    EXPECT_NE(std::string(list.status().message()).find("onix-1-aaaa.conf"), std::string::npos)
        << list.status();
  }
}

TEST_F(EntriesDir, MarkGoodOfAHostileStateIdTouchesNothing) {
  Write("onix-1-aaaa+3.conf", "title one\n");
  EXPECT_TRUE(absl::IsNotFound(MarkEntryGood(dir_->path(), "../1-aaaa")));
  EXPECT_TRUE(absl::IsNotFound(MarkEntryGood(dir_->path(), "")));
  std::ifstream still(entries_ + "/onix-1-aaaa+3.conf");
  EXPECT_TRUE(still.good());
}

}  // namespace
}  // namespace onix::boot
